"""Three-way agreements and read receipts through the HTTP API: who agrees to which version,
what empties the agreements, whose move it is, who has seen what, and what changed since the
caller last looked."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from carework.access.sensitivity import GENERAL
from carework.auth.principal import Principal
from carework.feed import outbox
from carework.vocab import EventType, Role
from tests.domain_helpers import (
    add_activity,
    add_goal,
    assert_problem,
    patch,
    plan_url,
    propose_goal,
    read_patient_plan,
    read_plan,
)
from tests.factories import Actor, World, create_plan

ALL_PARTIES = ["patient", "dps", "nav"]


def item_url(actor: Actor, plan_id: str, item: str) -> str:
    """``item`` is ``goals/<id>`` or ``activities/<id>``; the patient's URL has no plan id."""
    if actor.role == "patient":
        return f"/api/v1/patient/plan/{item}"
    return f"{plan_url(actor, plan_id)}/{item}"


async def agree(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, item: str, version: int
) -> httpx.Response:
    headers = {**actor.headers, "If-Match": f'"{version}"'}
    return await client.put(f"{item_url(actor, plan_id, item)}/agreement", headers=headers)


async def agreed(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, item: str, version: int
) -> dict[str, Any]:
    response = await agree(client, actor, plan_id, item, version)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{version}"'  # agreeing is no change to the item
    body: dict[str, Any] = response.json()
    return body


def parties(item: dict[str, Any]) -> set[str]:
    return {a["party"] for a in item["agreed_by"]}


def find(items: list[dict[str, Any]], item_id: str) -> dict[str, Any]:
    return next(i for i in items if i["id"] == item_id)


async def consent_to_treatment_goals(client: httpx.AsyncClient, world: World, plan_id: str) -> None:
    response = await client.post(
        f"/api/v1/dps/plans/{plan_id}/consents",
        json={"scopes": ["treatment_goals"], "evidence": "written"},
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text


async def history(client: httpx.AsyncClient, world: World, plan_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/dps/plans/{plan_id}/history?limit=200", headers=world.clinician.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- agreeing -----------------------------------------------------------------------------------


async def test_all_three_parties_agree_to_a_goal_and_an_activity(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    await consent_to_treatment_goals(client, world, plan_id)
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    activity = await add_activity(client, world.clinician, plan_id, "therapy", goal_id=goal["id"])
    viewed = await read_plan(client, world.clinician, plan_id)
    assert find(viewed["goals"], goal["id"])["waiting_for"] == ALL_PARTIES
    assert find(viewed["activities"], activity["id"])["waiting_for"] == ALL_PARTIES

    for item, version in ((f"goals/{goal['id']}", 1), (f"activities/{activity['id']}", 1)):
        answer = await agreed(client, world.advisor, plan_id, item, version)
        assert parties(answer) == {"nav"}
        assert answer["waiting_for"] == ["patient", "dps"]
        answer = await agreed(client, world.clinician, plan_id, item, version)
        assert parties(answer) == {"nav", "dps"}
        answer = await agreed(client, world.patient, plan_id, item, version)
        assert parties(answer) == {"nav", "dps", "patient"}
        assert answer["waiting_for"] == []
        assert answer["version"] == 1
        nav = next(a for a in answer["agreed_by"] if a["party"] == "nav")
        assert (nav["name"], nav["version"]) == (world.advisor.name, 1)

    for actor in (world.clinician, world.advisor):
        viewed = await read_plan(client, actor, plan_id)
        for item in (find(viewed["goals"], goal["id"]), find(viewed["activities"], activity["id"])):
            assert parties(item) == set(ALL_PARTIES)
            assert item["waiting_for"] == []
    patient_view = await read_patient_plan(client, world.patient)
    assert find(patient_view["goals"], goal["id"])["waiting_for"] == []

    agreed_events = [
        (e["type"], e["data"]["party"]) for e in await history(client, world, plan_id)
        if e["type"].endswith(".agreed")
    ]  # fmt: skip
    assert sorted(agreed_events) == sorted(
        [(f"{kind}.agreed", p) for kind in ("goal", "activity") for p in ("nav", "dps", "patient")]
    )


async def test_agreeing_twice_keeps_the_first_agreement(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "work")
    first = await agreed(client, world.advisor, plan_id, f"goals/{goal['id']}", 1)
    again = await agreed(client, world.advisor, plan_id, f"goals/{goal['id']}", 1)
    assert again["agreed_by"] == first["agreed_by"]
    assert len(again["agreed_by"]) == 1
    events = [e for e in await history(client, world, plan_id) if e["type"] == "goal.agreed"]
    assert len(events) == 1


async def test_withdrawing_takes_only_the_callers_side_back(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "education")
    item = f"goals/{goal['id']}"
    await agreed(client, world.advisor, plan_id, item, 1)
    await agreed(client, world.patient, plan_id, item, 1)
    response = await client.delete(
        f"{item_url(world.patient, plan_id, item)}/agreement", headers=world.patient.headers
    )
    assert response.status_code == 200, response.text
    assert parties(response.json()) == {"nav"}
    assert response.json()["waiting_for"] == ["patient", "dps"]
    types = [e["type"] for e in await history(client, world, plan_id)]
    assert types.count("goal.agreement_withdrawn") == 1


# --- what empties agreements ----------------------------------------------------------------


async def test_a_change_of_substance_clears_agreements_and_history_shows_it(
    client, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    item = f"goals/{goal['id']}"
    await agreed(client, world.clinician, plan_id, item, 1)
    await agreed(client, world.patient, plan_id, item, 1)
    url = f"{plan_url(world.clinician, plan_id)}/{item}"

    response = await patch(client, world.clinician, url, 1, {"status": "on_hold"})
    assert response.status_code == 200, response.text
    assert parties(response.json()) == {"dps", "patient"}, "a status move keeps agreements"

    response = await patch(client, world.clinician, url, 2, {"title": "treatment goal"})
    assert response.status_code == 200, response.text
    assert parties(response.json()) == {"dps", "patient"}, "the same title is no change"

    response = await patch(client, world.clinician, url, 3, {"title": "Sove bedre om natten"})
    assert response.status_code == 200, response.text
    assert response.json()["agreed_by"] == []
    assert response.json()["waiting_for"] == ALL_PARTIES
    viewed = await read_plan(client, world.clinician, plan_id)
    assert find(viewed["goals"], goal["id"])["agreed_by"] == []

    events = await history(client, world, plan_id)
    cleared = [e for e in events if e["type"] == "goal.agreements_cleared"]
    assert len(cleared) == 1
    assert cleared[0]["data"] == {"parties": ["dps", "patient"], "changed": ["title"]}
    assert cleared[0]["version"] == 4
    assert cleared[0]["actor"]["name"] == world.clinician.name

    # Agreeing again names the new version.
    answer = await agreed(client, world.patient, plan_id, item, 4)
    assert [(a["party"], a["version"]) for a in answer["agreed_by"]] == [("patient", 4)]


async def test_an_activity_keeps_agreements_on_a_status_move_and_loses_them_on_new_dates(
    client, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    activity = await add_activity(client, world.advisor, plan_id, "work_training")
    item = f"activities/{activity['id']}"
    await agreed(client, world.advisor, plan_id, item, 1)
    await agreed(client, world.patient, plan_id, item, 1)
    url = f"{plan_url(world.advisor, plan_id)}/{item}"

    response = await patch(client, world.advisor, url, 1, {"status": "in_progress"})
    assert response.status_code == 200, response.text
    viewed = await read_plan(client, world.advisor, plan_id)
    assert parties(find(viewed["activities"], activity["id"])) == {"nav", "patient"}

    response = await patch(client, world.advisor, url, 2, {"start": "2031-01-05"})
    assert response.status_code == 200, response.text
    viewed = await read_plan(client, world.advisor, plan_id)
    assert find(viewed["activities"], activity["id"])["agreed_by"] == []
    cleared = [
        e for e in await history(client, world, plan_id)
        if e["type"] == "activity.agreements_cleared"
    ]  # fmt: skip
    assert [c["data"] for c in cleared] == [{"parties": ["nav", "patient"], "changed": ["start"]}]


# --- who may agree, and when ------------------------------------------------------------------


async def test_nav_agrees_to_a_treatment_goal_only_with_consent(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    item = f"goals/{goal['id']}"
    assert_problem(await agree(client, world.advisor, plan_id, item, 1), 404)
    viewed = await read_plan(client, world.clinician, plan_id)
    assert find(viewed["goals"], goal["id"])["agreed_by"] == []

    await consent_to_treatment_goals(client, world, plan_id)
    answer = await agreed(client, world.advisor, plan_id, item, 1)
    assert parties(answer) == {"nav"}


async def test_stale_or_missing_if_match_is_refused(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "work")
    url = f"{plan_url(world.advisor, plan_id)}/goals/{goal['id']}"
    assert (await patch(client, world.advisor, url, 1, {"description": "Hver uke"})).is_success

    body = assert_problem(
        await agree(client, world.patient, plan_id, f"goals/{goal['id']}", 1), 412
    )
    assert "changed" in body["detail"]
    response = await client.put(f"{url}/agreement", headers=world.advisor.headers)
    assert_problem(response, 428)
    viewed = await read_plan(client, world.advisor, plan_id)
    assert find(viewed["goals"], goal["id"])["agreed_by"] == []


async def test_a_closed_plan_takes_no_agreements(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    response = await patch(
        client, world.clinician, plan_url(world.clinician, plan_id), 1, {"status": "closed"}
    )
    assert response.status_code == 200, response.text
    assert_problem(await agree(client, world.clinician, plan_id, f"goals/{goal['id']}", 1), 409)
    assert_problem(await agree(client, world.patient, plan_id, f"goals/{goal['id']}", 1), 409)


async def test_a_proposal_waits_for_its_owner_before_anyone_agrees(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    proposal = await propose_goal(client, world.patient, "treatment")
    item = f"goals/{proposal['id']}"
    viewed = await read_plan(client, world.clinician, plan_id)
    assert find(viewed["goals"], proposal["id"])["waiting_for"] == ["dps"]
    body = assert_problem(await agree(client, world.patient, plan_id, item, 1), 409)
    assert "proposed" in body["detail"]

    url = f"{plan_url(world.clinician, plan_id)}/{item}"
    accepted = await patch(client, world.clinician, url, 1, {"status": "active"})
    assert accepted.json()["waiting_for"] == ALL_PARTIES
    assert (await agreed(client, world.patient, plan_id, item, 2))["waiting_for"] == ["dps", "nav"]
    assert (await agreed(client, world.clinician, plan_id, item, 2))["waiting_for"] == ["nav"]


# --- read receipts ---------------------------------------------------------------------------


async def mark_seen(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> None:
    url = (
        "/api/v1/patient/plan/seen"
        if actor.role == "patient"
        else f"{plan_url(actor, plan_id)}/seen"
    )
    response = await client.post(url, headers=actor.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""


def seen(item: dict[str, Any]) -> dict[str, int]:
    return {s["party"]: s["version"] for s in item["seen_by"]}


async def test_seen_by_names_the_version_each_side_saw(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    work = await add_goal(client, world.advisor, plan_id, "work")
    treatment = await add_goal(client, world.clinician, plan_id, "treatment")
    activity = await add_activity(client, world.advisor, plan_id, "course", goal_id=work["id"])
    url = f"{plan_url(world.advisor, plan_id)}/goals/{work['id']}"
    assert (await patch(client, world.advisor, url, 1, {"description": "Deltid"})).is_success

    await mark_seen(client, world.advisor, plan_id)
    viewed = await read_plan(client, world.clinician, plan_id)
    assert seen(find(viewed["goals"], work["id"])) == {"nav": 2}
    assert seen(find(viewed["activities"], activity["id"])) == {"nav": 1}
    # Without consent NAV never saw the treatment goal, so it holds no receipt for it.
    assert seen(find(viewed["goals"], treatment["id"])) == {}

    assert (await patch(client, world.advisor, url, 2, {"status": "on_hold"})).is_success
    viewed = await read_plan(client, world.clinician, plan_id)
    goal = find(viewed["goals"], work["id"])
    assert (goal["version"], seen(goal)) == (3, {"nav": 2}), "the receipt is the version seen"

    await mark_seen(client, world.patient, plan_id)
    await mark_seen(client, world.advisor, plan_id)
    viewed = await read_plan(client, world.clinician, plan_id)
    assert seen(find(viewed["goals"], work["id"])) == {"nav": 3, "patient": 3}
    assert seen(find(viewed["goals"], treatment["id"])) == {"patient": 1}
    # Seeing is not a change: the history holds no event for it.
    assert not [e for e in await history(client, world, plan_id) if "seen" in e["type"]]


async def test_seen_on_another_units_plan_is_not_found(client, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    response = await client.post(
        f"/api/v1/dps/plans/{plan_id}/seen", headers=world.other_clinician.headers
    )
    assert_problem(response, 404)


async def summary(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> dict[str, Any]:
    side = "dps" if actor.role == "clinician" else "nav"
    response = await client.get(f"/api/v1/{side}/plans?limit=200", headers=actor.headers)
    assert response.status_code == 200, response.text
    listed = find(response.json()["items"], plan_id)
    return listed


async def test_plan_list_counts_what_others_changed_since_the_caller_looked(
    client, world: World
) -> None:
    plan = await create_plan(client, world)  # plan.created, by the clinician
    plan_id = plan["id"]
    await add_goal(client, world.advisor, plan_id, "work")  # NAV's own change
    await add_goal(client, world.clinician, plan_id, "treatment")  # NAV may not see it
    first = await summary(client, world.advisor, plan_id)
    assert (first["last_seen_at"], first["changed_since_seen"]) == (None, 1)
    assert (await summary(client, world.clinician, plan_id))["changed_since_seen"] == 1

    await mark_seen(client, world.advisor, plan_id)
    looked = await summary(client, world.advisor, plan_id)
    assert looked["last_seen_at"] is not None
    assert looked["changed_since_seen"] == 0

    url = plan_url(world.clinician, plan_id)
    assert (await patch(client, world.clinician, url, 1, {"title": "Ny tittel"})).is_success
    await add_goal(client, world.clinician, plan_id, "treatment")
    await add_goal(client, world.advisor, plan_id, "education")
    assert (await summary(client, world.advisor, plan_id))["changed_since_seen"] == 1

    # The search shows the same summaries.
    response = await client.post(
        "/api/v1/nav/plans/search", json={"nid": world.nid}, headers=world.advisor.headers
    )
    assert find(response.json()["items"], plan_id)["changed_since_seen"] == 1

    await mark_seen(client, world.advisor, plan_id)
    assert (await summary(client, world.advisor, plan_id))["changed_since_seen"] == 0
    # The clinician never looked: everything NAV did counts for them.
    assert (await summary(client, world.clinician, plan_id))["changed_since_seen"] == 2


async def test_a_change_committed_after_the_look_counts_though_it_began_before(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    """The count follows what the look could see (its snapshot), not clocks: a change whose
    transaction was open while the advisor looked, and committed after, is new to them."""
    plan_id = (await create_plan(client, world))["id"]
    await mark_seen(client, world.advisor, plan_id)
    clinician = Principal(
        world.clinician.sub, world.clinician.name, Role.clinician, world.clinician.org, None
    )
    event = outbox.event_params(
        clinician, type=EventType.plan_updated, plan_id=uuid.UUID(plan_id),
        resource=("plan", uuid.UUID(plan_id)), of=GENERAL, version=2,
    )  # fmt: skip
    async with app.state.engine.connect() as slow:
        # The clinician's change: its transaction (and its event's time) starts now ...
        await slow.execute(outbox._INSERT, event)
        await mark_seen(client, world.advisor, plan_id)  # ... the advisor looks ...
        await slow.commit()  # ... and the change commits after the look.
    assert (await summary(client, world.advisor, plan_id))["changed_since_seen"] == 1
    await mark_seen(client, world.advisor, plan_id)
    assert (await summary(client, world.advisor, plan_id))["changed_since_seen"] == 0


async def test_every_answer_about_an_item_shows_its_agreements(client, world: World) -> None:
    """The item GETs, a PATCH answer and a proposal's answer show the same ``agreed_by`` and
    ``waiting_for`` as the plan view, not the empty lists of a bare row."""
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.advisor, plan_id, "work")
    assert goal["waiting_for"] == ALL_PARTIES  # the create answer already says whose move
    activity = await add_activity(client, world.advisor, plan_id, "course", goal_id=goal["id"])
    for item in (f"goals/{goal['id']}", f"activities/{activity['id']}"):
        await agreed(client, world.advisor, plan_id, item, 1)
        response = await client.get(
            f"{plan_url(world.advisor, plan_id)}/{item}", headers=world.advisor.headers
        )
        assert response.status_code == 200, response.text
        assert parties(response.json()) == {"nav"}
        assert response.json()["waiting_for"] == ["patient", "dps"]
    moved = await patch(
        client, world.advisor, f"{plan_url(world.advisor, plan_id)}/activities/{activity['id']}",
        1, {"status": "in_progress"},
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert parties(moved.json()) == {"nav"}  # a status move keeps the agreement
    proposal = await propose_goal(client, world.patient, "treatment")
    assert proposal["waiting_for"] == ["dps"]
