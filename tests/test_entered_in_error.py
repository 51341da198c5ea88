"""Entered in error: a goal, activity or note recorded by mistake leaves every view and item read,
while its row and its events stay (history, audit). Nothing is deleted."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from carework.models.activity import Activity
from carework.models.goal import Goal
from carework.models.note import Note
from tests.domain_helpers import (
    add_activity,
    add_goal,
    add_note,
    assert_problem,
    patch,
    plan_url,
    read_patient_plan,
    read_plan,
)
from tests.factories import Actor, World, create_plan

REASON = "Registrert på feil pasient"


async def mark(
    client: httpx.AsyncClient, actor: Actor, url: str, version: int | None
) -> httpx.Response:
    headers = dict(actor.headers)
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return await client.post(f"{url}/entered-in-error", json={"reason": REASON}, headers=headers)


async def history(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{plan_url(actor, plan_id)}/history", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def stored(app: FastAPI, model: type[Any], item_id: str) -> Any:
    """The row itself, straight from the database: marking never deletes it."""
    async with app.state.sessionmaker() as session:
        return (
            await session.execute(select(model).where(model.id == uuid.UUID(item_id)))
        ).scalar_one()


# --- goals --------------------------------------------------------------------------------------


async def test_goal_entered_in_error_leaves_the_views_and_stays_in_history(
    client: httpx.AsyncClient, world: World, app: FastAPI
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    kept = await add_goal(client, world.clinician, plan_id, "treatment", title="Sove bedre")
    goal_url = f"{plan_url(world.clinician, plan_id)}/goals/{goal['id']}"

    response = await mark(client, world.clinician, goal_url, 1)
    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["version"]) == (goal["id"], 2)
    assert response.headers["etag"] == '"2"'

    assert [g["id"] for g in (await read_plan(client, world.clinician, plan_id))["goals"]] == [
        kept["id"]
    ]
    assert [g["id"] for g in (await read_patient_plan(client, world.patient))["goals"]] == [
        kept["id"]
    ]
    assert_problem(await client.get(goal_url, headers=world.clinician.headers), 404)
    assert_problem(await patch(client, world.clinician, goal_url, 2, {"title": "Nytt"}), 404)
    response = await client.post(
        f"{goal_url}/notes",
        json={"text": "x", "visibility": "shared"},
        headers=world.clinician.headers,
    )
    assert_problem(response, 404)
    response = await client.get(f"/fhir/r4/Goal?plan={plan_id}", headers=world.clinician.headers)
    assert [e["resource"]["id"] for e in response.json()["entry"]] == [kept["id"]]

    events = [
        e for e in await history(client, world.clinician, plan_id) if e["resource_id"] == goal["id"]
    ]
    assert [e["type"] for e in events] == ["goal.created", "goal.entered_in_error"]
    assert events[1]["data"] == {}  # the reason is free text: not in the feed
    assert events[1]["version"] == 2

    row = await stored(app, Goal, goal["id"])
    assert (row.entered_in_error_reason, row.entered_in_error_by_sub) == (
        REASON,
        world.clinician.sub,
    )
    assert row.entered_in_error_at is not None


async def test_goal_marked_twice_is_a_conflict(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "work")
    goal_url = f"{plan_url(world.advisor, plan_id)}/goals/{goal['id']}"
    assert (await mark(client, world.advisor, goal_url, 1)).status_code == 200
    assert_problem(await mark(client, world.advisor, goal_url, 2), 409)
    events = [e["type"] for e in await history(client, world.advisor, plan_id)]
    assert events.count("goal.entered_in_error") == 1


async def test_only_the_owning_side_marks_a_goal(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "work")
    url = f"{plan_url(world.clinician, plan_id)}/goals/{goal['id']}"
    assert_problem(await mark(client, world.clinician, url, 1), 403)
    # NAV cannot see a treatment goal without consent: for NAV it is not there at all.
    treatment = await add_goal(client, world.clinician, plan_id, "treatment")
    url = f"{plan_url(world.advisor, plan_id)}/goals/{treatment['id']}"
    assert_problem(await mark(client, world.advisor, url, 1), 404)
    assert {g["id"] for g in (await read_plan(client, world.clinician, plan_id))["goals"]} == {
        goal["id"],
        treatment["id"],
    }


async def test_marking_a_goal_needs_the_current_version(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    url = f"{plan_url(world.clinician, plan_id)}/goals/{goal['id']}"
    assert_problem(await mark(client, world.clinician, url, None), 428)
    assert_problem(await mark(client, world.clinician, url, 5), 412)
    response = await client.post(
        f"{url}/entered-in-error",
        json={"reason": ""},
        headers={**world.clinician.headers, "If-Match": '"1"'},
    )
    assert_problem(response, 422)
    assert (await client.get(url, headers=world.clinician.headers)).status_code == 200


# --- activities ---------------------------------------------------------------------------------


async def test_activity_entered_in_error(
    client: httpx.AsyncClient, world: World, app: FastAPI
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    activity = await add_activity(client, world.advisor, plan_id, "work_training")
    kept = await add_activity(client, world.advisor, plan_id, "course")
    url = f"{plan_url(world.advisor, plan_id)}/activities/{activity['id']}"

    assert_problem(await mark(client, world.clinician, url.replace("/nav/", "/dps/"), 1), 403)
    response = await mark(client, world.advisor, url, 1)
    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["version"]) == (activity["id"], 2)

    for actor in (world.advisor, world.clinician):
        ids = [a["id"] for a in (await read_plan(client, actor, plan_id))["activities"]]
        assert ids == [kept["id"]]
    assert_problem(await client.get(url, headers=world.advisor.headers), 404)
    assert_problem(await patch(client, world.advisor, url, 2, {"status": "done"}), 404)
    assert_problem(await mark(client, world.advisor, url, 2), 409)

    events = [
        e
        for e in await history(client, world.clinician, plan_id)
        if e["resource_id"] == activity["id"]
    ]
    assert [e["type"] for e in events] == ["activity.created", "activity.entered_in_error"]
    assert events[1]["data"] == {}
    assert (await stored(app, Activity, activity["id"])).entered_in_error_reason == REASON


async def test_an_activity_cannot_hang_on_a_goal_entered_in_error(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "education")
    url = f"{plan_url(world.advisor, plan_id)}/goals/{goal['id']}"
    assert (await mark(client, world.advisor, url, 1)).status_code == 200
    response = await client.post(
        f"{plan_url(world.advisor, plan_id)}/activities",
        json={"kind": "course", "title": "Kurs", "goal_id": goal["id"]},
        headers=world.advisor.headers,
    )
    assert_problem(response, 422)


# --- notes --------------------------------------------------------------------------------------


async def test_note_entered_in_error_by_its_authors_side(
    client: httpx.AsyncClient, world: World, app: FastAPI
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "work")
    wrong = await add_note(client, world.advisor, plan_id, goal["id"], "Feil mål")
    kept = await add_note(client, world.clinician, plan_id, goal["id"], "Bra fremgang")
    goal_path = f"goals/{goal['id']}"
    note_url = f"{plan_url(world.advisor, plan_id)}/{goal_path}/notes/{wrong['id']}"

    # DPS sees NAV's shared note but did not write it.
    dps_url = f"{plan_url(world.clinician, plan_id)}/{goal_path}/notes/{wrong['id']}"
    assert_problem(await mark(client, world.clinician, dps_url, None), 403)

    response = await mark(client, world.advisor, note_url, None)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == wrong["id"]

    for actor in (world.advisor, world.clinician):
        (shown,) = (await read_plan(client, actor, plan_id))["goals"]
        assert [n["id"] for n in shown["notes"]] == [kept["id"]]
        response = await client.get(
            f"{plan_url(actor, plan_id)}/{goal_path}", headers=actor.headers
        )
        assert [n["id"] for n in response.json()["notes"]] == [kept["id"]]
    (shown,) = (await read_patient_plan(client, world.patient))["goals"]
    assert [n["id"] for n in shown["notes"]] == [kept["id"]]

    assert_problem(await mark(client, world.advisor, note_url, None), 409)
    events = [
        e for e in await history(client, world.advisor, plan_id) if e["resource_id"] == wrong["id"]
    ]
    assert [e["type"] for e in events] == ["note.added", "note.entered_in_error"]
    assert events[1]["data"] == {}
    assert (await stored(app, Note, wrong["id"])).entered_in_error_reason == REASON


async def test_a_note_the_caller_cannot_see_is_not_there(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "work")
    internal = await add_note(client, world.advisor, plan_id, goal["id"], "Intern", "internal")
    url = f"{plan_url(world.clinician, plan_id)}/goals/{goal['id']}/notes/{internal['id']}"
    assert_problem(await mark(client, world.clinician, url, None), 404)
    # A note under another goal of the plan is not found through this one.
    other_goal = await add_goal(client, world.advisor, plan_id, "education")
    url = f"{plan_url(world.advisor, plan_id)}/goals/{other_goal['id']}/notes/{internal['id']}"
    assert_problem(await mark(client, world.advisor, url, None), 404)


async def test_internal_note_entered_in_error_stays_internal_in_the_feed(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    note = await add_note(client, world.clinician, plan_id, goal["id"], "Intern", "internal")
    url = f"{plan_url(world.clinician, plan_id)}/goals/{goal['id']}/notes/{note['id']}"
    assert (await mark(client, world.clinician, url, None)).status_code == 200
    dps_types = [e["type"] for e in await history(client, world.clinician, plan_id)]
    assert "note.entered_in_error" in dps_types
    # Even with full consent, NAV never learns of DPS's internal notes.
    response = await client.post(
        f"/api/v1/dps/plans/{plan_id}/consents",
        json={"scopes": ["treatment_goals", "treatment_notes"], "evidence": "verbal"},
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text
    nav_types = [e["type"] for e in await history(client, world.advisor, plan_id)]
    assert "goal.created" in nav_types
    assert not {"note.added", "note.entered_in_error"} & set(nav_types)
