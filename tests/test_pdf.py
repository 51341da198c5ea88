"""The plan as a PDF: each caller's copy holds exactly what that caller may see, in Norwegian,
with the patient's name and never the national id number.

The text is read back out of the real PDF (pypdf), so these check the document a person gets,
not the HTML it was laid out from.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from pypdf import PdfReader

from carework.pdf import render
from carework.pdf.render import oslo
from tests.domain_helpers import add_activity, add_goal, add_note, assert_created
from tests.factories import Actor, World, create_plan

TREATMENT_GOAL = "Mestre angsten på bussen"
WORK_GOAL = "Fast jobb innen handel"
SHARED_TREATMENT_NOTE = "Delt notat om samtalene"
INTERNAL_DPS_NOTE = "Internt DPS-notat om medisiner"
SHARED_WORK_NOTE = "Delt notat om arbeidstreningen"
INTERNAL_NAV_NOTE = "Internt NAV-notat om ytelsen"
DPS_ACTIVITY = "Samtaler hver tirsdag"
NAV_ACTIVITY = "Arbeidstrening på lageret"
#: Text a person typed that would be markup: it must print as text, and fetch nothing.
MARKUP = '<img src="file:///etc/passwd"> & <b>fet</b>'
HEADINGS = ("Individuell plan", "Mål", "Aktiviteter", "Behandlingsteamet", "Samtykke")


@dataclass
class Filled:
    plan_id: str
    world: World


@pytest.fixture
async def filled(client: httpx.AsyncClient, world: World) -> Filled:
    """A plan with a goal, notes of both visibilities and an activity on each side."""
    plan_id = str((await create_plan(client, world))["id"])
    treatment = await add_goal(client, world.clinician, plan_id, "treatment", title=TREATMENT_GOAL)
    work = await add_goal(client, world.advisor, plan_id, "work", title=WORK_GOAL)
    await add_goal(client, world.advisor, plan_id, "education", title=MARKUP)
    for actor, goal, shared, internal in (
        (world.clinician, treatment, SHARED_TREATMENT_NOTE, INTERNAL_DPS_NOTE),
        (world.advisor, work, SHARED_WORK_NOTE, INTERNAL_NAV_NOTE),
    ):
        await add_note(client, actor, plan_id, goal["id"], shared)
        await add_note(client, actor, plan_id, goal["id"], internal, visibility="internal")
    await add_activity(
        client, world.clinician, plan_id, "therapy", title=DPS_ACTIVITY, goal_id=treatment["id"]
    )
    await add_activity(
        client, world.advisor, plan_id, "work_training", title=NAV_ACTIVITY, goal_id=work["id"]
    )
    member = {"sub": "kari-k", "name": "Kari Klinikk", "role": "clinician", "org": world.dps_unit}
    assert_created(
        await client.post(
            f"/api/v1/dps/plans/{plan_id}/team", json=member, headers=world.clinician.headers
        )
    )
    return Filled(plan_id, world)


def _text(response: httpx.Response) -> str:
    """The PDF's text (and its metadata), whitespace folded: a line break is a space."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    text += " " + " ".join(str(v) for v in (reader.metadata or {}).values())
    return " ".join(text.split())


async def _care_pdf(client: httpx.AsyncClient, actor: Actor, filled: Filled) -> str:
    side = "nav" if actor.role == "nav_advisor" else "dps"
    url = f"/api/v1/{side}/plans/{filled.plan_id}/pdf"
    response = await client.get(url, headers=actor.headers)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="plan-{filled.plan_id}.pdf"'
    )
    assert response.headers["cache-control"] == "no-store"
    return _text(response)


def _has(text: str, *parts: str) -> None:
    missing = [part for part in parts if part not in text]
    assert missing == [], text


def _lacks(text: str, *parts: str) -> None:
    present = [part for part in parts if part in text]
    assert present == [], text


def _common(text: str, world: World) -> None:
    """What every copy holds, and what none does."""
    assert world.nid not in text
    assert "Ola Pasient" in text
    assert "Tilbake i arbeid" in text
    _has(text, *HEADINGS)
    _has(text, WORK_GOAL, SHARED_WORK_NOTE, NAV_ACTIVITY)
    assert MARKUP in text  # printed as typed, not laid out as markup


async def test_dps_copy_has_treatment_and_its_own_internal_notes_only(
    client: httpx.AsyncClient, filled: Filled
) -> None:
    world = filled.world
    text = await _care_pdf(client, world.clinician, filled)
    _common(text, world)
    _has(text, TREATMENT_GOAL, SHARED_TREATMENT_NOTE, DPS_ACTIVITY)
    _has(text, INTERNAL_DPS_NOTE, "Internt notat")
    assert INTERNAL_NAV_NOTE not in text
    _has(text, "Behandling", "Arbeid", "Aktiv")  # Norwegian labels
    assert "Kari Klinikk" in text  # the care team
    assert "Behandlingsmål Ikke gitt" in text  # the consent state
    # The download is in the patient's access log, audited like a read of the plan.
    log = await client.get("/api/v1/patient/access-log", headers=world.patient.headers)
    assert "read_plan_pdf" in {entry["action"] for entry in log.json()["items"]}


async def test_nav_copy_without_consent_has_no_treatment(
    client: httpx.AsyncClient, filled: Filled
) -> None:
    world = filled.world
    text = await _care_pdf(client, world.advisor, filled)
    _common(text, world)
    _lacks(text, TREATMENT_GOAL, SHARED_TREATMENT_NOTE, INTERNAL_DPS_NOTE, DPS_ACTIVITY)
    assert INTERNAL_NAV_NOTE in text


async def test_nav_copy_with_treatment_goals_consent_has_the_goals_not_the_notes(
    client: httpx.AsyncClient, filled: Filled
) -> None:
    world = filled.world
    consent = {"scopes": ["treatment_goals"], "evidence": "written"}
    assert_created(
        await client.post(
            f"/api/v1/dps/plans/{filled.plan_id}/consents",
            json=consent,
            headers=world.clinician.headers,
        )
    )
    text = await _care_pdf(client, world.advisor, filled)
    _common(text, world)
    _has(text, TREATMENT_GOAL, DPS_ACTIVITY)
    assert "Behandlingsmål Gitt" in text
    # treatment_notes was not given; DPS's internal note never reaches NAV.
    _lacks(text, SHARED_TREATMENT_NOTE, INTERNAL_DPS_NOTE)


async def test_patients_copy_has_everything_shared_and_no_internal_note(
    client: httpx.AsyncClient, filled: Filled
) -> None:
    world = filled.world
    response = await client.get("/api/v1/patient/plan/pdf", headers=world.patient.headers)
    assert response.headers["content-disposition"] == (
        f'attachment; filename="plan-{filled.plan_id}.pdf"'
    )
    text = _text(response)
    _common(text, world)
    _has(text, TREATMENT_GOAL, SHARED_TREATMENT_NOTE, DPS_ACTIVITY, NAV_ACTIVITY)
    _lacks(text, INTERNAL_DPS_NOTE, INTERNAL_NAV_NOTE, "Internt notat")


async def test_pages_serve_the_same_copies(client: httpx.AsyncClient, filled: Filled) -> None:
    world = filled.world
    for actor, url, internal in (
        (world.clinician, f"/ui/plans/{filled.plan_id}/pdf", INTERNAL_DPS_NOTE),
        (world.advisor, f"/ui/plans/{filled.plan_id}/pdf", INTERNAL_NAV_NOTE),
        (world.patient, "/ui/me/pdf", None),
    ):
        cookie = {"Cookie": f"carework_ui={actor.token}"}
        text = _text(await client.get(url, headers=cookie))
        _common(text, world)
        assert (TREATMENT_GOAL in text) is (actor.role != "nav_advisor")
        if internal is not None:
            assert internal in text
        assert "Internt notat" in text if internal else "Internt notat" not in text
    # Each page links to its copy.
    plan_page = await client.get(
        f"/ui/plans/{filled.plan_id}", headers={"Cookie": f"carework_ui={world.clinician.token}"}
    )
    assert f'href="/ui/plans/{filled.plan_id}/pdf"' in plan_page.text
    me_page = await client.get("/ui/me", headers={"Cookie": f"carework_ui={world.patient.token}"})
    assert 'href="/ui/me/pdf"' in me_page.text


def test_times_are_oslo_wall_clock() -> None:
    assert oslo(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "01.07.2026 12:00"  # summer, +2
    assert oslo(datetime(2026, 12, 1, 10, 0, tzinfo=UTC)) == "01.12.2026 11:00"  # winter, +1
    assert oslo(None) == "-"


async def test_a_download_that_waits_too_long_for_its_turn_is_503_with_retry_after(
    client: httpx.AsyncClient, filled: Filled, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One layout at a time per process: while the slot is taken (here by the test itself),
    a download waits ``WAIT_SECONDS`` and is then told when to come back."""
    monkeypatch.setattr(render, "WAIT_SECONDS", 0.2)
    url = f"/api/v1/dps/plans/{filled.plan_id}/pdf"
    other_download = object()
    await render._renders.acquire_on_behalf_of(other_download)
    try:
        busy = await client.get(url, headers=filled.world.clinician.headers)
    finally:
        render._renders.release_on_behalf_of(other_download)
    assert busy.status_code == 503
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert busy.headers["retry-after"] == str(render.RETRY_AFTER_SECONDS)
    assert (await client.get(url, headers=filled.world.clinician.headers)).status_code == 200
