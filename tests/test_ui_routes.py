"""The web pages' role matrix: every ``/ui`` route x every caller -> what the person gets.

Like the API's (``test_role_matrix``), written out route by route, and
``test_table_names_every_ui_route`` fails on a ``/ui`` route the table does not name. A page
answers a person, not a program, so the outcomes read as a browser sees them:

- ``200`` the page; ``303`` a form post done (back to its page with ``ok=``), or a redirect;
- ``401`` to the sign-in page; ``403``, ``404`` an error page for a GET, and for a form post
  back to its page with ``feil=forbidden`` / ``feil=not-found``.

Each case builds what the route needs as the caller's own side (the clinician's treatment goal,
the advisor's work goal), so the outcome reflects access and nothing else. ``out_of_scope`` is a
clinician of another unit on the care team's pages, and a patient with no plan on the
patient's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.domain_helpers import add_activity, add_goal, assert_created, served_routes
from tests.factories import Actor, World, create_plan, make_nid

ORIGIN = "http://carework.test"
CALLERS = ("clinician", "nav_advisor", "patient", "auditor", "signed_out", "out_of_scope")


@dataclass(frozen=True)
class Row:
    route: str
    clinician: int
    nav_advisor: int
    patient: int
    auditor: int
    signed_out: int
    out_of_scope: int


R = Row

# fmt: off
UI_MATRIX: list[Row] = [
    #  route                                                    clin  adv  pat  aud  out  other
    R("GET /ui/",                                               303, 303, 303, 303, 401, 303),
    R("GET /ui/login",                                          200, 200, 200, 200, 200, 200),
    R("POST /ui/login",                                         303, 303, 303, 303, 401, 303),
    R("POST /ui/logout",                                        303, 303, 303, 303, 303, 303),
    R("GET /ui/plans",                                          200, 200, 403, 403, 401, 200),
    R("POST /ui/plans",                                         303, 303, 403, 403, 401, 303),
    R("GET /ui/plans/{plan_id}",                                200, 200, 403, 403, 401, 404),
    R("GET /ui/plans/{plan_id}/pdf",                            200, 200, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/status",                        303, 303, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/goals",                         303, 303, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/goals/{goal_id}/status",        303, 303, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/goals/{goal_id}/notes",         303, 303, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/activities",                    303, 303, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/activities/{activity_id}",      303, 303, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/consents",                      303, 403, 403, 403, 401, 404),
    R("POST /ui/plans/{plan_id}/consents/{consent_id}/revoke",  303, 403, 403, 403, 401, 404),
    R("GET /ui/plans/{plan_id}/access-log",                     200, 403, 403, 403, 401, 404),
    R("GET /ui/me",                                             403, 403, 200, 403, 401, 200),
    R("GET /ui/me/pdf",                                         403, 403, 200, 403, 401, 404),
    R("POST /ui/me/goals",                                      403, 403, 303, 403, 401, 404),
    R("POST /ui/me/goals/{goal_id}/notes",                      403, 403, 303, 403, 401, 404),
    R("POST /ui/me/consents",                                   403, 403, 303, 403, 401, 404),
    R("POST /ui/me/consents/{consent_id}/revoke",               403, 403, 303, 403, 401, 404),
]
# fmt: on


def _caller(world: World, who: str, patient_route: bool) -> Actor | None:
    if who == "signed_out":
        return None
    if who == "out_of_scope":
        return world.other_patient if patient_route else world.other_clinician
    return {
        "clinician": world.clinician,
        "nav_advisor": world.advisor,
        "patient": world.patient,
        "auditor": world.auditor,
    }[who]


async def _setup(client: httpx.AsyncClient, world: World, who: str) -> dict[str, str]:
    """A plan, and the items of the caller's own side (the clinician's when it has none)."""
    plan_id = str((await create_plan(client, world))["id"])
    advisor = who == "nav_advisor"
    owner = world.advisor if advisor else world.clinician
    goal = await add_goal(client, owner, plan_id, "work" if advisor else "treatment")
    activity = await add_activity(client, owner, plan_id, "course" if advisor else "therapy")
    consent = await client.post(
        f"/api/v1/dps/plans/{plan_id}/consents",
        json={"scopes": ["treatment_goals"], "evidence": "written"},
        headers=world.clinician.headers,
    )
    return {
        "plan_id": plan_id,
        "goal_id": goal["id"],
        "activity_id": activity["id"],
        "consent_id": assert_created(consent)["id"],
    }


def _form(route: str, caller: Actor | None, world: World) -> dict[str, Any]:
    """A form the route accepts from its own kind of caller."""
    side_unit = (
        {"nav_office": world.nav_office}
        if caller is None or caller.role != "nav_advisor"
        else {"dps_unit": world.dps_unit}
    )
    forms: dict[str, dict[str, Any]] = {
        "POST /ui/login": {"token": caller.token if caller else ""},
        "POST /ui/plans": {"nid": "", "patient_name": "Per", "title": "Plan", **side_unit},
        "POST /ui/plans/{plan_id}/status": {
            "status": "completed",
            "version": "1",
            "confirm": "ja",
        },
        "POST /ui/plans/{plan_id}/goals": {
            "domain": "work" if caller and caller.role == "nav_advisor" else "treatment",
            "title": "Mål",
        },
        "POST /ui/plans/{plan_id}/goals/{goal_id}/status": {"status": "on_hold", "version": "1"},
        "POST /ui/plans/{plan_id}/goals/{goal_id}/notes": {"text": "Notat", "visibility": "shared"},
        "POST /ui/plans/{plan_id}/activities": {
            "kind": "course" if caller and caller.role == "nav_advisor" else "therapy",
            "title": "Tiltak",
        },
        "POST /ui/plans/{plan_id}/activities/{activity_id}": {
            "status": "in_progress",
            "version": "1",
        },
        "POST /ui/plans/{plan_id}/consents": {"scopes": "treatment_goals", "evidence": "verbal"},
        "POST /ui/me/goals": {"domain": "education", "title": "Fagbrev"},
        "POST /ui/me/goals/{goal_id}/notes": {"text": "Hei"},
        "POST /ui/me/consents": {"scopes": "treatment_notes"},
    }
    return forms.get(route, {})


def _outcome(method: str, response: httpx.Response) -> int:
    """What the person got, in the table's terms."""
    if response.status_code != 303:
        return response.status_code
    target = urlsplit(response.headers["location"])
    query = parse_qs(target.query)
    if target.path == "/ui/login" and method == "GET":
        return 401
    if "feil" in query:
        return {"unauthorized": 401, "forbidden": 403, "not-found": 404}.get(query["feil"][0], 400)
    return 303


@pytest.mark.parametrize(
    ("row", "who"),
    [(row, who) for row in UI_MATRIX for who in CALLERS],
    ids=[f"{row.route} as {who}" for row in UI_MATRIX for who in CALLERS],
)
async def test_ui_matrix(client: httpx.AsyncClient, world: World, row: Row, who: str) -> None:
    method, template = row.route.split(" ", 1)
    patient_route = template.startswith("/ui/me")
    caller = _caller(world, who, patient_route)
    ids = await _setup(client, world, who)
    if template == "/ui/me/consents/{consent_id}/revoke":  # the patient's own grant
        granted = await client.post(
            "/api/v1/patient/consents", json={"scopes": ["treatment_goals"]},
            headers=world.patient.headers,
        )  # fmt: skip
        ids["consent_id"] = assert_created(granted)["id"]
    form = _form(row.route, caller, world)
    if row.route == "POST /ui/plans":  # a new patient: one open plan per patient
        form["nid"] = make_nid()
    path = template.format(**ids)
    headers = {"Origin": ORIGIN} if method == "POST" else {}
    if caller is not None and row.route != "POST /ui/login":
        headers["Cookie"] = f"carework_ui={caller.token}"
    response = await client.request(method, path, data=form or None, headers=headers)
    assert _outcome(method, response) == getattr(row, who), (
        response.status_code,
        response.headers.get("location"),
    )


def test_table_names_every_ui_route(app: FastAPI) -> None:
    served = {route for route in served_routes(app) if route.split(" ", 1)[1].startswith("/ui")}
    named = {row.route for row in UI_MATRIX}
    assert served - named == set(), f"/ui routes missing from the table: {served - named}"
    assert named - served == set(), f"table rows with no such route: {named - served}"
