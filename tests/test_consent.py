"""Consent through the HTTP API: who grants and revokes, what each scope opens to NAV, and that a
revocation or an expiry holds from the very next request (DESIGN.md, access model point 4).

Time passes without sleeping: a consent's ``valid_until`` is moved into the past with a direct
SQL UPDATE through the app's own engine. That models the clock; the code under test still asks
the database whether the consent is active.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.domain_helpers import (
    add_activity,
    add_goal,
    add_note,
    assert_created,
    assert_problem,
    patch,
    plan_url,
    read_patient_plan,
    read_plan,
)
from tests.factories import Actor, TokenMaker, World, create_plan, make_world

PATIENT_CONSENTS = "/api/v1/patient/consents"
BOTH = ["treatment_goals", "treatment_notes"]
TWICE = ["treatment_notes", "treatment_notes"]


def dps_consents(plan_id: str) -> str:
    return f"/api/v1/dps/plans/{plan_id}/consents"


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


async def grant(
    client: httpx.AsyncClient, patient: Actor, scopes: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        PATIENT_CONSENTS, json={"scopes": scopes, **extra}, headers=patient.headers
    )
    return assert_created(response)


async def record(
    client: httpx.AsyncClient,
    clinician: Actor,
    plan_id: str,
    scopes: list[str],
    evidence: str = "written",
    **extra: Any,
) -> dict[str, Any]:
    body = {"scopes": scopes, "evidence": evidence, **extra}
    response = await client.post(dps_consents(plan_id), json=body, headers=clinician.headers)
    return assert_created(response)


async def revoke(client: httpx.AsyncClient, patient: Actor, consent_id: str) -> None:
    response = await client.delete(f"{PATIENT_CONSENTS}/{consent_id}", headers=patient.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""


async def expire(app: FastAPI, consent_id: str) -> None:
    """The clock moves past the consent's ``valid_until``."""
    async with app.state.engine.begin() as conn:
        result = await conn.execute(
            text("UPDATE consent SET valid_until = now() - interval '1 second' WHERE id = :id"),
            {"id": uuid.UUID(consent_id)},
        )
        assert result.rowcount == 1


async def stored_consents(app: FastAPI, plan_id: str) -> int:
    async with app.state.engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM consent WHERE plan_id = :plan"),
            {"plan": uuid.UUID(plan_id)},
        )
    return int(count)


async def nav_scopes(client: httpx.AsyncClient, world: World, plan_id: str) -> list[str]:
    response = await client.get(
        f"/api/v1/nav/plans/{plan_id}/consent", headers=world.advisor.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["plan_id"] == plan_id
    scopes: list[str] = response.json()["scopes"]
    return scopes


async def nav_get(client: httpx.AsyncClient, world: World, plan_id: str, item: str) -> Any:
    """NAV's GET of ``goals/{id}`` or ``activities/{id}``: the body, or None on a 404."""
    response = await client.get(
        f"{plan_url(world.advisor, plan_id)}/{item}", headers=world.advisor.headers
    )
    if response.status_code == 404:
        assert_problem(response, 404)
        return None
    assert response.status_code == 200, response.text
    return response.json()


def goal_ids(view: dict[str, Any]) -> list[str]:
    return [g["id"] for g in view["goals"]]


def notes_on(view: dict[str, Any], goal_id: str) -> list[str]:
    (goal,) = [g for g in view["goals"] if g["id"] == goal_id]
    return [n["text"] for n in goal["notes"]]


async def treatment_plan(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """A plan with one treatment goal (a shared DPS note on it) and one DPS therapy."""
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment", title="Sove bedre")
    await add_note(client, world.clinician, plan["id"], goal["id"], "Sover seks timer", "shared")
    therapy = await add_activity(client, world.clinician, plan["id"], "therapy")
    return {"id": plan["id"], "goal": goal["id"], "activity": therapy["id"]}


async def assert_nav_sees_treatment(
    client: httpx.AsyncClient, world: World, plan: dict[str, Any], seen: bool
) -> None:
    view = await read_plan(client, world.advisor, plan["id"])
    assert (plan["goal"] in goal_ids(view)) is seen
    assert (plan["activity"] in [a["id"] for a in view["activities"]]) is seen
    assert (await nav_get(client, world, plan["id"], f"goals/{plan['goal']}") is not None) is seen
    activity = await nav_get(client, world, plan["id"], f"activities/{plan['activity']}")
    assert (activity is not None) is seen


# --- the patient grants and revokes ---------------------------------------------------------------


async def test_patient_grants_with_digital_evidence(client, world: World) -> None:
    plan = await treatment_plan(client, world)
    await assert_nav_sees_treatment(client, world, plan, seen=False)

    consent = await grant(client, world.patient, ["treatment_goals"])
    assert uuid.UUID(consent["id"])
    assert consent["plan_id"] == plan["id"]
    assert consent["scopes"] == ["treatment_goals"]
    assert (consent["evidence"], consent["granted_by_role"]) == ("digital", "patient")
    assert consent["granted_by_name"] == world.patient.name
    assert (consent["valid_until"], consent["revoked_at"], consent["active"]) == (None, None, True)

    await assert_nav_sees_treatment(client, world, plan, seen=True)
    assert await nav_scopes(client, world, plan["id"]) == ["treatment_goals"]
    assert (await read_plan(client, world.advisor, plan["id"]))["consent"] == ["treatment_goals"]
    # DPS and the patient see the active scopes in their views too.
    assert (await read_plan(client, world.clinician, plan["id"]))["consent"] == ["treatment_goals"]
    assert (await read_patient_plan(client, world.patient))["consent"] == ["treatment_goals"]


async def test_patient_revokes_and_nav_loses_sight_at_the_next_request(
    client, world: World
) -> None:
    plan = await treatment_plan(client, world)
    consent = await grant(client, world.patient, BOTH)
    await assert_nav_sees_treatment(client, world, plan, seen=True)
    assert notes_on(await read_plan(client, world.advisor, plan["id"]), plan["goal"]) == [
        "Sover seks timer"
    ]

    await revoke(client, world.patient, consent["id"])

    view = await read_plan(client, world.advisor, plan["id"])
    assert (view["consent"], goal_ids(view), view["activities"]) == ([], [], [])
    assert "Sove bedre" not in str(view)
    assert "Sover seks timer" not in str(view)
    await assert_nav_sees_treatment(client, world, plan, seen=False)
    assert await nav_scopes(client, world, plan["id"]) == []

    (listed,) = (await client.get(PATIENT_CONSENTS, headers=world.patient.headers)).json()["items"]
    assert (listed["id"], listed["active"]) == (consent["id"], False)
    revoked_at = listed["revoked_at"]
    assert revoked_at is not None

    # Revoking again is harmless and does not move the time of the revocation.
    await revoke(client, world.patient, consent["id"])
    (again,) = (await client.get(PATIENT_CONSENTS, headers=world.patient.headers)).json()["items"]
    assert (again["active"], again["revoked_at"]) == (False, revoked_at)
    await assert_nav_sees_treatment(client, world, plan, seen=False)


async def test_revoking_one_consent_leaves_another_standing(client, world: World) -> None:
    plan = await treatment_plan(client, world)
    first = await grant(client, world.patient, ["treatment_goals"])
    second = await record(client, world.clinician, plan["id"], BOTH, "verbal")
    assert await nav_scopes(client, world, plan["id"]) == BOTH

    await revoke(client, world.patient, second["id"])
    assert await nav_scopes(client, world, plan["id"]) == ["treatment_goals"]
    await assert_nav_sees_treatment(client, world, plan, seen=True)
    assert notes_on(await read_plan(client, world.advisor, plan["id"]), plan["goal"]) == []

    await revoke(client, world.patient, first["id"])
    await assert_nav_sees_treatment(client, world, plan, seen=False)


# --- a clinician records a consent given in person ------------------------------------------------


@pytest.mark.parametrize("evidence", ["verbal", "written"])
async def test_clinician_records_a_consent_given_in_person(
    client, world: World, evidence: str
) -> None:
    plan = await treatment_plan(client, world)
    consent = await record(client, world.clinician, plan["id"], BOTH, evidence)
    assert consent["plan_id"] == plan["id"]
    assert sorted(consent["scopes"]) == BOTH
    assert (consent["evidence"], consent["granted_by_role"]) == (evidence, "clinician")
    assert (consent["granted_by_name"], consent["active"]) == (world.clinician.name, True)

    await assert_nav_sees_treatment(client, world, plan, seen=True)
    mine = (await client.get(PATIENT_CONSENTS, headers=world.patient.headers)).json()["items"]
    assert [(c["id"], c["evidence"], c["active"]) for c in mine] == [
        (consent["id"], evidence, True)
    ]


async def test_clinician_revokes_on_the_patients_behalf(client, world: World) -> None:
    plan = await treatment_plan(client, world)
    consent = await grant(client, world.patient, BOTH)
    await assert_nav_sees_treatment(client, world, plan, seen=True)

    url = f"{dps_consents(plan['id'])}/{consent['id']}"
    response = await client.delete(url, headers=world.clinician.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""

    await assert_nav_sees_treatment(client, world, plan, seen=False)
    listed = (await client.get(dps_consents(plan["id"]), headers=world.clinician.headers)).json()
    assert [(c["id"], c["active"]) for c in listed["items"]] == [(consent["id"], False)]
    assert listed["items"][0]["revoked_at"] is not None
    again = await client.delete(url, headers=world.clinician.headers)
    assert again.status_code == 204, again.text


# --- NAV reads, never grants ----------------------------------------------------------------------


async def test_nav_reads_the_active_scopes_and_nothing_else(client, world: World) -> None:
    plan = await create_plan(client, world)
    response = await client.get(
        f"/api/v1/nav/plans/{plan['id']}/consent", headers=world.advisor.headers
    )
    assert response.status_code == 200, response.text
    # Which scopes are active, not who granted them or how.
    assert response.json() == {"plan_id": plan["id"], "scopes": []}

    await grant(client, world.patient, ["treatment_notes", "treatment_goals"])
    assert await nav_scopes(client, world, plan["id"]) == BOTH


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/consents", 404),  # no such route on NAV's router
        ("POST", "/consent", 405),  # the read-only route takes no POST
        ("PUT", "/consent", 405),
        ("GET", "/consents", 404),  # who granted, and how, is not NAV's to read
    ],
)
async def test_nav_has_no_route_to_grant(
    client, app: FastAPI, world: World, method: str, path: str, status: int
) -> None:
    plan = await create_plan(client, world)
    body = {"scopes": BOTH, "evidence": "written"}
    response = await client.request(
        method,
        f"/api/v1/nav/plans/{plan['id']}{path}",
        json=body if method != "GET" else None,
        headers=world.advisor.headers,
    )
    assert_problem(response, status)
    assert await stored_consents(app, plan["id"]) == 0
    assert await nav_scopes(client, world, plan["id"]) == []


async def test_nav_cannot_revoke(client, world: World) -> None:
    plan = await treatment_plan(client, world)
    consent = await grant(client, world.patient, ["treatment_goals"])
    for path, status in ((f"/consents/{consent['id']}", 404), ("/consent", 405)):
        response = await client.delete(
            f"/api/v1/nav/plans/{plan['id']}{path}", headers=world.advisor.headers
        )
        assert_problem(response, status)
    # NAV on the routes that exist for the patient and DPS: the wrong role.
    for url in (
        f"{PATIENT_CONSENTS}/{consent['id']}",
        f"{dps_consents(plan['id'])}/{consent['id']}",
    ):
        assert_problem(await client.delete(url, headers=world.advisor.headers), 403)
    assert await nav_scopes(client, world, plan["id"]) == ["treatment_goals"]


# --- what each scope opens ------------------------------------------------------------------------


async def test_treatment_goals_opens_goals_and_dps_activities_but_not_their_notes(
    client, world: World
) -> None:
    plan = await create_plan(client, world)
    pid = plan["id"]
    treatment = await add_goal(client, world.clinician, pid, "treatment", title="Mindre angst")
    work = await add_goal(client, world.advisor, pid, "work", title="Arbeidstrening")
    await add_note(client, world.clinician, pid, treatment["id"], "Eksponering virker", "shared")
    therapy = await add_activity(client, world.clinician, pid, "therapy")
    review = await add_activity(
        client, world.clinician, pid, "medication_review", goal_id=treatment["id"]
    )
    course = await add_activity(client, world.advisor, pid, "course", goal_id=work["id"])
    await add_note(client, world.advisor, pid, work["id"], "Startet mandag", "shared")

    await grant(client, world.patient, ["treatment_goals"])

    view = await read_plan(client, world.advisor, pid)
    assert goal_ids(view) == [treatment["id"], work["id"]]
    assert notes_on(view, treatment["id"]) == []
    assert notes_on(view, work["id"]) == ["Startet mandag"]
    assert [a["id"] for a in view["activities"]] == [therapy["id"], review["id"], course["id"]]
    assert "Eksponering virker" not in str(view)

    goal = await nav_get(client, world, pid, f"goals/{treatment['id']}")
    assert (goal["title"], goal["notes"]) == ("Mindre angst", [])
    for activity in (therapy, review):
        assert (await nav_get(client, world, pid, f"activities/{activity['id']}"))["id"] == (
            activity["id"]
        )


async def test_navs_own_activity_on_a_treatment_goal_is_hidden_with_the_goal(
    client, world: World
) -> None:
    """Anything tied to a treatment goal is treatment, whoever runs it."""
    plan = await treatment_plan(client, world)
    consent = await grant(client, world.patient, ["treatment_goals"])
    ips = await add_activity(
        client, world.advisor, plan["id"], "ips_job_search", goal_id=plan["goal"]
    )
    assert (await nav_get(client, world, plan["id"], f"activities/{ips['id']}"))["id"] == ips["id"]

    await revoke(client, world.patient, consent["id"])

    view = await read_plan(client, world.advisor, plan["id"])
    assert view["activities"] == []
    assert await nav_get(client, world, plan["id"], f"activities/{ips['id']}") is None
    dps = await read_plan(client, world.clinician, plan["id"])
    assert [a["id"] for a in dps["activities"]] == [plan["activity"], ips["id"]]


async def test_treatment_notes_alone_opens_nothing(client, world: World) -> None:
    plan = await treatment_plan(client, world)
    await grant(client, world.patient, ["treatment_notes"])
    assert await nav_scopes(client, world, plan["id"]) == ["treatment_notes"]
    await assert_nav_sees_treatment(client, world, plan, seen=False)
    assert "Sover seks timer" not in str(await read_plan(client, world.advisor, plan["id"]))


async def test_treatment_notes_opens_shared_notes_but_never_a_dps_internal_one(
    client, world: World
) -> None:
    plan = await treatment_plan(client, world)
    pid, gid = plan["id"], plan["goal"]
    await add_note(client, world.clinician, pid, gid, "Bare for DPS", "internal")
    response = await client.post(
        f"/api/v1/patient/plan/goals/{gid}/notes",
        json={"text": "Jeg sover bedre"},
        headers=world.patient.headers,
    )
    assert_created(response)

    await record(client, world.clinician, pid, BOTH)

    # With consent NAV may see, and write on, the treatment goal; its own internal note stays NAV's.
    await add_note(client, world.advisor, pid, gid, "Snakket om arbeid", "shared")
    await add_note(client, world.advisor, pid, gid, "Bare for NAV", "internal")

    shared = ["Sover seks timer", "Jeg sover bedre", "Snakket om arbeid"]
    nav_view = await read_plan(client, world.advisor, pid)
    assert notes_on(nav_view, gid) == [*shared, "Bare for NAV"]
    assert "Bare for DPS" not in str(nav_view)
    nav_goal = await nav_get(client, world, pid, f"goals/{gid}")
    assert [n["text"] for n in nav_goal["notes"]] == [*shared, "Bare for NAV"]

    dps_view = await read_plan(client, world.clinician, pid)
    assert notes_on(dps_view, gid) == ["Sover seks timer", "Bare for DPS", *shared[1:]]
    assert notes_on(await read_patient_plan(client, world.patient), gid) == shared


async def test_nav_still_cannot_change_treatment_items_with_consent(client, world: World) -> None:
    plan = await treatment_plan(client, world)
    await grant(client, world.patient, BOTH)
    pid = plan["id"]
    goal_url = f"{plan_url(world.advisor, pid)}/goals/{plan['goal']}"
    activity_url = f"{plan_url(world.advisor, pid)}/activities/{plan['activity']}"
    assert_problem(await patch(client, world.advisor, goal_url, 1, {"status": "cancelled"}), 403)
    assert_problem(await patch(client, world.advisor, goal_url, 1, {"title": "NAVs nå"}), 403)
    assert_problem(await patch(client, world.advisor, activity_url, 1, {"status": "done"}), 403)
    create = await client.post(
        f"{plan_url(world.advisor, pid)}/goals",
        json={"domain": "treatment", "title": "Fra NAV"},
        headers=world.advisor.headers,
    )
    assert_problem(create, 403)

    dps = await read_plan(client, world.clinician, pid)
    assert [(g["title"], g["status"], g["version"]) for g in dps["goals"]] == [
        ("Sove bedre", "active", 1)
    ]
    assert [(a["status"], a["version"]) for a in dps["activities"]] == [("planned", 1)]


# --- expiry ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "clinician"])
async def test_valid_until_in_the_past_is_refused(
    client, app: FastAPI, world: World, who: str
) -> None:
    plan = await create_plan(client, world)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    if who == "patient":
        response = await client.post(
            PATIENT_CONSENTS,
            json={"scopes": BOTH, "valid_until": past},
            headers=world.patient.headers,
        )
    else:
        response = await client.post(
            dps_consents(plan["id"]),
            json={"scopes": BOTH, "evidence": "verbal", "valid_until": past},
            headers=world.clinician.headers,
        )
    problem = assert_problem(response, 422)
    assert "valid_until" in str(problem)
    assert await stored_consents(app, plan["id"]) == 0


async def test_a_consent_stops_counting_at_the_request_after_it_expires(
    client, app: FastAPI, world: World
) -> None:
    plan = await treatment_plan(client, world)
    consent = await grant(client, world.patient, BOTH, valid_until=in_an_hour())
    assert consent["valid_until"] is not None
    assert consent["active"] is True
    await assert_nav_sees_treatment(client, world, plan, seen=True)

    await expire(app, consent["id"])

    await assert_nav_sees_treatment(client, world, plan, seen=False)
    assert await nav_scopes(client, world, plan["id"]) == []
    (listed,) = (await client.get(PATIENT_CONSENTS, headers=world.patient.headers)).json()["items"]
    assert (listed["active"], listed["revoked_at"]) == (False, None)


async def test_consent_lists_show_which_are_active(client, app: FastAPI, world: World) -> None:
    plan = await create_plan(client, world)
    standing = await grant(client, world.patient, ["treatment_goals"])
    revoked = await record(client, world.clinician, plan["id"], BOTH, "verbal")
    expired = await grant(client, world.patient, BOTH, valid_until=in_an_hour())
    dated = await record(
        client, world.clinician, plan["id"], ["treatment_notes"], valid_until=in_an_hour()
    )
    await revoke(client, world.patient, revoked["id"])
    await expire(app, expired["id"])

    expected = [
        (standing["id"], True),
        (revoked["id"], False),
        (expired["id"], False),
        (dated["id"], True),
    ]
    for response in (
        await client.get(PATIENT_CONSENTS, headers=world.patient.headers),
        await client.get(dps_consents(plan["id"]), headers=world.clinician.headers),
    ):
        assert response.status_code == 200, response.text
        assert [(c["id"], c["active"]) for c in response.json()["items"]] == expected
    assert await nav_scopes(client, world, plan["id"]) == BOTH


# --- scope: whose consent, whose plan -------------------------------------------------------------


async def test_patient_cannot_revoke_another_patients_consent(
    client, tokens: TokenMaker, world: World
) -> None:
    plan = await treatment_plan(client, world)
    other = make_world(tokens)
    other_plan = await treatment_plan(client, other)
    theirs = await grant(client, other.patient, BOTH)
    await grant(client, world.patient, ["treatment_goals"])

    response = await client.delete(
        f"{PATIENT_CONSENTS}/{theirs['id']}", headers=world.patient.headers
    )
    assert_problem(response, 404)
    # Nor can the clinician reach it through their own plan.
    response = await client.delete(
        f"{dps_consents(plan['id'])}/{theirs['id']}", headers=world.clinician.headers
    )
    assert_problem(response, 404)
    # A consent id that does not exist reads the same.
    missing = await client.delete(
        f"{PATIENT_CONSENTS}/{uuid.uuid4()}", headers=world.patient.headers
    )
    assert_problem(missing, 404)

    assert await nav_scopes(client, other, other_plan["id"]) == BOTH
    await assert_nav_sees_treatment(client, other, other_plan, seen=True)
    mine = (await client.get(PATIENT_CONSENTS, headers=world.patient.headers)).json()["items"]
    assert theirs["id"] not in str(mine)


async def test_patient_revokes_a_consent_on_an_earlier_closed_plan(client, world: World) -> None:
    """Revoking is always possible: also once that plan is closed and a new one is open."""
    first = await treatment_plan(client, world)
    consent = await grant(client, world.patient, BOTH)
    url = plan_url(world.clinician, first["id"])
    version = (await read_plan(client, world.clinician, first["id"]))["version"]
    closed = await patch(client, world.clinician, url, version, {"status": "closed"})
    assert closed.status_code == 200, closed.text
    second = await create_plan(client, world)
    assert (await read_patient_plan(client, world.patient))["id"] == second["id"]
    await assert_nav_sees_treatment(client, world, first, seen=True)

    await revoke(client, world.patient, consent["id"])

    await assert_nav_sees_treatment(client, world, first, seen=False)
    assert await nav_scopes(client, world, first["id"]) == []


async def test_clinician_out_of_scope_gets_404(client, app: FastAPI, world: World) -> None:
    plan = await create_plan(client, world)
    consent = await grant(client, world.patient, ["treatment_goals"])
    outsider = world.other_clinician
    body = {"scopes": BOTH, "evidence": "written"}
    for response in (
        await client.post(dps_consents(plan["id"]), json=body, headers=outsider.headers),
        await client.get(dps_consents(plan["id"]), headers=outsider.headers),
        await client.delete(
            f"{dps_consents(plan['id'])}/{consent['id']}", headers=outsider.headers
        ),
        await client.get(
            f"/api/v1/nav/plans/{plan['id']}/consent", headers=world.other_advisor.headers
        ),
    ):
        assert_problem(response, 404)
    assert await stored_consents(app, plan["id"]) == 1
    assert await nav_scopes(client, world, plan["id"]) == ["treatment_goals"]


async def test_patient_without_a_plan_cannot_grant(client, world: World) -> None:
    response = await client.post(
        PATIENT_CONSENTS, json={"scopes": BOTH}, headers=world.other_patient.headers
    )
    assert_problem(response, 404)
    listed = await client.get(PATIENT_CONSENTS, headers=world.other_patient.headers)
    assert_problem(listed, 404)


# --- bad bodies -----------------------------------------------------------------------------------


BAD_PATIENT_BODIES = {
    "unknown scope": ({"scopes": ["diagnoses"]}, "scopes"),
    "repeated scope": ({"scopes": ["treatment_goals", "treatment_goals"]}, "scopes"),
    "empty scopes": ({"scopes": []}, "scopes"),
    "no scopes": ({}, "scopes"),
    "extra field": ({"scopes": BOTH, "granted_by": "someone else"}, "granted_by"),
    "evidence from the patient": ({"scopes": BOTH, "evidence": "digital"}, "evidence"),
    "naive valid_until": ({"scopes": BOTH, "valid_until": "2031-01-01T12:00:00"}, "valid_until"),
}

BAD_RECORDED_BODIES = {
    "unknown scope": ({"scopes": ["everything"], "evidence": "verbal"}, "scopes"),
    "repeated scope": ({"scopes": TWICE, "evidence": "verbal"}, "scopes"),
    "empty scopes": ({"scopes": [], "evidence": "written"}, "scopes"),
    "extra field": ({"scopes": BOTH, "evidence": "written", "signed": True}, "signed"),
    "digital evidence from a clinician": ({"scopes": BOTH, "evidence": "digital"}, "evidence"),
    "no evidence": ({"scopes": BOTH}, "evidence"),
    "unknown evidence": ({"scopes": BOTH, "evidence": "telepathic"}, "evidence"),
}


def assert_validation_problem(response: httpx.Response, field: str) -> None:
    problem = assert_problem(response, 422)
    assert problem["errors"], problem
    assert any(field in [str(part) for part in e["loc"]] for e in problem["errors"]), problem


@pytest.mark.parametrize(("body", "field"), BAD_PATIENT_BODIES.values(), ids=BAD_PATIENT_BODIES)
async def test_patient_grant_rejects_bad_bodies(
    client, app: FastAPI, world: World, body: dict[str, Any], field: str
) -> None:
    plan = await create_plan(client, world)
    response = await client.post(PATIENT_CONSENTS, json=body, headers=world.patient.headers)
    assert_validation_problem(response, field)
    assert await stored_consents(app, plan["id"]) == 0
    assert (await client.get(PATIENT_CONSENTS, headers=world.patient.headers)).json() == {
        "items": []
    }


@pytest.mark.parametrize(("body", "field"), BAD_RECORDED_BODIES.values(), ids=BAD_RECORDED_BODIES)
async def test_recorded_consent_rejects_bad_bodies(
    client, app: FastAPI, world: World, body: dict[str, Any], field: str
) -> None:
    plan = await create_plan(client, world)
    response = await client.post(
        dps_consents(plan["id"]), json=body, headers=world.clinician.headers
    )
    assert_validation_problem(response, field)
    assert await stored_consents(app, plan["id"]) == 0
    assert await nav_scopes(client, world, plan["id"]) == []
