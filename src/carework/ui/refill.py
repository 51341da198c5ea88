"""A refused form comes back with what was typed, each wrong field marked and named.

``forms.parse_sent`` turns a schema's refusal into ``FormRefused`` with a message per field;
the page route (``route.UiRoute``) then renders the form's page again in place of a redirect,
with a ``Refill`` in ``request.state``: the values posted (never a national id number: that
one is typed again), ``aria-invalid`` on each field refused, and an error summary linking to
them. Field ids follow the templates' own, by the address the form posts to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from carework.errors import RuleViolation

#: Posted fields never sent back into a page.
NOT_ECHOED = frozenset({"nid", "version", "confirm", "current_status"})

#: Each form's address, and the element id of each of its fields (``{0}`` is the last id in
#: the address: a goal's or activity's own).
_ID = r"[0-9a-fA-F-]{36}"
FIELD_IDS: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(r"/ui/plans"), {
        "nid": "nid", "patient_name": "patient_name", "title": "plan_title",
        "main_goal": "main_goal", "nav_office": "nav_office", "dps_unit": "dps_unit",
    }),
    (re.compile(rf"/ui/plans/{_ID}/status"), {"status": "plan_status"}),
    (re.compile(rf"/ui/plans/{_ID}/goals"), {
        "domain": "goal_domain", "title": "goal_title", "target_date": "goal_target_date",
        "description": "goal_description",
    }),
    (re.compile(rf"/ui/plans/{_ID}/goals/({_ID})/status"), {"status": "status-{0}"}),
    (re.compile(rf"/ui/plans/{_ID}/goals/({_ID})/notes"), {
        "text": "note-{0}", "visibility": "visibility-{0}",
    }),
    (re.compile(rf"/ui/plans/{_ID}/activities"), {
        "kind": "activity_kind", "title": "activity_title", "goal_id": "activity_goal",
        "responsible_person": "activity_person", "start": "activity_start", "end": "activity_end",
    }),
    (re.compile(rf"/ui/plans/{_ID}/activities/({_ID})"), {
        "status": "act-status-{0}", "title": "act-title-{0}",
        "responsible_person": "act-person-{0}", "start": "act-start-{0}", "end": "act-end-{0}",
    }),
    (re.compile(r"/ui/me/goals"), {
        "domain": "proposal_domain", "title": "proposal_title",
        "description": "proposal_description",
    }),
    (re.compile(rf"/ui/me/goals/({_ID})/notes"), {"text": "note-{0}"}),
]  # fmt: skip


#: What each field is called on the pages, for the error summary.
FIELD_NAMES: dict[str, str] = {
    "nid": "Fødselsnummer", "patient_name": "Pasientens navn", "title": "Tittel",
    "main_goal": "Hovedmål", "nav_office": "NAV-kontor", "dps_unit": "DPS-enhet",
    "status": "Status", "domain": "Område", "target_date": "Måldato",
    "description": "Beskrivelse", "text": "Notat", "visibility": "Hvem kan se notatet",
    "kind": "Type", "goal_id": "Knyttet til mål", "responsible_person": "Ansvarlig person",
    "start": "Fra dato", "end": "Til dato",
}  # fmt: skip


class FormRefused(RuleViolation):
    """A form's fields refused by the schema: ``fields`` maps each to what to do about it."""

    def __init__(self, detail: str, fields: dict[str, str]) -> None:
        super().__init__(detail)
        self.fields = fields


def what_to_do(error: Mapping[str, Any]) -> tuple[str, str]:
    """A schema error as (form field, what to do about it, in Norwegian)."""
    loc = [part for part in error.get("loc", ()) if isinstance(part, str)]
    name = "patient_name" if loc == ["patient", "name"] else (loc[-1] if loc else "")
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if name == "nid":
        return name, "Fødselsnummeret er ikke gyldig. Skriv de 11 sifrene på nytt."
    if not name and "end must not be before start" in str(error.get("msg", "")):
        return "end", "Til-datoen kan ikke være før fra-datoen. Velg en senere til-dato."
    if kind in ("missing", "string_too_short"):
        return name, "Fyll ut feltet."
    if kind == "string_too_long":
        return name, f"Teksten er for lang: høyst {ctx.get('max_length')} tegn. Gjør den kortere."
    if kind.startswith("date") or kind.startswith("datetime"):
        return name, "Skriv en gyldig dato."
    if kind in ("enum", "literal_error"):
        return name, "Velg et av valgene i listen."
    return name, "Sjekk det som står i feltet."


def field_ids(action: str) -> dict[str, str]:
    for pattern, ids in FIELD_IDS:
        found = pattern.fullmatch(action)
        if found is not None:
            return {name: id_.format(*found.groups()) for name, id_ in ids.items()}
    return {}


@dataclass(frozen=True, slots=True)
class Refill:
    """The refused form: where it posts, what was typed, and the fields to fix."""

    action: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, action: str, form: dict[str, list[str]], errors: dict[str, str]) -> Refill:
        values = {k: v[-1] for k, v in form.items() if v and k not in NOT_ECHOED}
        return cls(action, values, errors)

    def value(self, action: str, name: str, default: str = "") -> str:
        """What was typed in this form's field, or what the page would show."""
        if action != self.action:
            return default
        return self.values.get(name, default)

    def invalid(self, action: str, name: str) -> Markup:
        """``aria-invalid`` on a field refused, for the field's tag."""
        if action == self.action and name in self.errors:
            return Markup(' aria-invalid="true"')
        return Markup("")

    def links(self) -> list[tuple[str, str]]:
        """The error summary: (element id, what to do), in the form's own order."""
        ids = field_ids(self.action)
        return [
            (ids.get(name, ""), f"{FIELD_NAMES[name]}: {text}" if name in FIELD_NAMES else text)
            for name, text in self.errors.items()
        ]


#: No form refused: every field shows what the page would show.
NOTHING = Refill(action="")
