"""The hidden-id probe: an item of another unit's plan, named in any URL slot of a route that
takes two ids or more (a plan id of mine, an item id of theirs — or the other way round), is
404 and leaks nothing. The patient's routes name items by id alone: one of another patient's
plan is 404 too.

Every route the app serves with two ids (or, for the patient, one) must be listed in ``CALLS``
with a request that would succeed on the caller's own items, so a new route cannot escape the
probe. Afterwards the other unit's plan is exactly as it was: same versions, no agreements, no
notes, no releases, no revocations, and not one change event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.domain_helpers import add_activity, add_goal, add_note, assert_created, served_routes
from tests.factories import Actor, TokenMaker, World, create_plan, make_world

SECRET = "HEMMELIG"
ID = re.compile(r"\{(\w+)_id\}")

#: Per route (method and template), the body and whether it needs If-Match: what the owning
#: side would send to its own item. ``None`` body: no body.
CALLS: dict[str, tuple[dict[str, Any] | None, bool]] = {
    "GET /plans/{plan_id}/goals/{goal_id}": (None, False),
    "PATCH /plans/{plan_id}/goals/{goal_id}": ({"title": "Endret"}, True),
    "POST /plans/{plan_id}/goals/{goal_id}/notes": ({"text": "Ny", "visibility": "shared"}, False),
    "GET /plans/{plan_id}/goals/{goal_id}/notes": (None, False),
    "POST /plans/{plan_id}/goals/{goal_id}/entered-in-error": ({"reason": "Feil"}, True),
    "POST /plans/{plan_id}/goals/{goal_id}/notes/{note_id}/entered-in-error": (
        {"reason": "Feil"},
        False,
    ),
    "PUT /plans/{plan_id}/goals/{goal_id}/agreement": (None, True),
    "DELETE /plans/{plan_id}/goals/{goal_id}/agreement": (None, False),
    "GET /plans/{plan_id}/goals/{goal_id}/achievements": (None, False),
    "GET /plans/{plan_id}/activities/{activity_id}": (None, False),
    "PATCH /plans/{plan_id}/activities/{activity_id}": ({"title": "Endret"}, True),
    "POST /plans/{plan_id}/activities/{activity_id}/entered-in-error": ({"reason": "Feil"}, True),
    "PUT /plans/{plan_id}/activities/{activity_id}/agreement": (None, True),
    "DELETE /plans/{plan_id}/activities/{activity_id}/agreement": (None, False),
    "DELETE /plans/{plan_id}/consents/{consent_id}": (None, False),
    "PATCH /plans/{plan_id}/meetings/{meeting_id}": ({"agenda": "Endret"}, True),
    "POST /plans/{plan_id}/meetings/{meeting_id}/release": ({}, True),
    # The patient's, in their own plan:
    "POST /plan/goals/{goal_id}/notes": ({"text": "Ny"}, False),
    "GET /plan/goals/{goal_id}/notes": (None, False),
    "PUT /plan/goals/{goal_id}/agreement": (None, True),
    "DELETE /plan/goals/{goal_id}/agreement": (None, False),
    "PUT /plan/activities/{activity_id}/agreement": (None, True),
    "DELETE /plan/activities/{activity_id}/agreement": (None, False),
    "DELETE /consents/{consent_id}": (None, False),
}


@dataclass
class Items:
    """One plan's items, per side that owns them."""

    plan: str
    goal: dict[str, str]
    activity: dict[str, str]
    note: dict[str, str]  # on the side's own goal
    meeting: dict[str, str]
    consent: str


async def _items(client: httpx.AsyncClient, world: World, title: str) -> Items:
    plan = (await create_plan(client, world))["id"]
    actors = {"dps": world.clinician, "nav": world.advisor}
    domains, kinds = {"dps": "treatment", "nav": "work"}, {"dps": "therapy", "nav": "course"}
    goal, activity, note, meeting = {}, {}, {}, {}
    when = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for side, actor in actors.items():
        goal[side] = (await add_goal(client, actor, plan, domains[side], title=title))["id"]
        activity[side] = (await add_activity(client, actor, plan, kinds[side], title=title))["id"]
        note[side] = (await add_note(client, actor, plan, goal[side], title))["id"]
        response = await client.post(
            f"/api/v1/{side}/plans/{plan}/meetings",
            json={"scheduled_at": when, "agenda": title}, headers=actor.headers,
        )  # fmt: skip
        meeting[side] = assert_created(response)["id"]
    response = await client.post(
        "/api/v1/patient/consents", json={"scopes": ["treatment_goals", "treatment_notes"]},
        headers=world.patient.headers,
    )  # fmt: skip
    return Items(plan, goal, activity, note, meeting, assert_created(response)["id"])


def _routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(audience, method, template) of every route taking an item id."""
    found = []
    for route in sorted(served_routes(app)):
        method, path = route.split(" ", 1)
        names = ID.findall(path)
        audience = path.split("/")[3] if path.startswith("/api/v1/") else ""
        if (audience in ("dps", "nav") and len(names) >= 2) or (audience == "patient" and names):
            found.append((audience, method, path.removeprefix(f"/api/v1/{audience}")))
    return found


def _url(template: str, ids: dict[str, str]) -> str:
    return ID.sub(lambda m: ids[m.group(1)], template)


async def _state(client: httpx.AsyncClient, world: World, items: Items) -> Any:
    """Everything about their plan a probe could have changed."""
    plan = (await client.get(f"/api/v1/dps/plans/{items.plan}",
                             headers=world.clinician.headers)).json()  # fmt: skip
    history = await client.get(
        f"/api/v1/dps/plans/{items.plan}/history", params={"limit": "200"},
        headers=world.clinician.headers,
    )  # fmt: skip
    consents = await client.get("/api/v1/patient/consents", headers=world.patient.headers)
    meetings = await client.get(
        f"/api/v1/dps/plans/{items.plan}/meetings", headers=world.clinician.headers
    )
    return plan, history.json(), consents.json(), meetings.json()


@pytest.fixture
def theirs_world(tokens: TokenMaker) -> World:
    return make_world(tokens)


async def test_an_item_of_another_units_plan_is_404_in_every_slot(
    app: FastAPI, client: httpx.AsyncClient, world: World, theirs_world: World
) -> None:
    mine = await _items(client, world, "Mitt mål")
    theirs = await _items(client, theirs_world, f"{SECRET} mål")
    before = await _state(client, theirs_world, theirs)

    probed = set()
    for audience, method, template in _routes(app):
        key = f"{method} {template}"
        assert key in CALLS, f"{audience}: {key} takes an item id but the probe has no call for it"
        probed.add(key)
        body, needs_version = CALLS[key]
        side = "nav" if audience == "nav" else "dps"
        caller = {"dps": world.clinician, "nav": world.advisor, "patient": world.patient}[audience]
        slots = ID.findall(template)

        def ids_of(items: Items, side: str = side) -> dict[str, str]:
            return {
                "plan": items.plan, "goal": items.goal[side], "activity": items.activity[side],
                "note": items.note[side], "meeting": items.meeting[side],
                "consent": items.consent,
            }  # fmt: skip

        # Each slot in turn names theirs while the others name mine.
        for slot in slots:
            ids = ids_of(mine) | {slot: ids_of(theirs)[slot]}
            await _probe(client, caller, audience, method, _url(template, ids), body, needs_version)

    assert probed == set(CALLS), f"no such route any more: {set(CALLS) - probed}"
    assert await _state(client, theirs_world, theirs) == before


async def _probe(
    client: httpx.AsyncClient,
    caller: Actor,
    audience: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    needs_version: bool,
) -> None:
    headers = {**caller.headers, **({"If-Match": '"1"'} if needs_version else {})}
    url = f"/api/v1/{audience}{path}"
    response = await client.request(method, url, json=body, headers=headers)
    assert response.status_code == 404, (method, url, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert SECRET not in response.text, (method, url, response.text)
