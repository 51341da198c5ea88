"""Goals through the HTTP API: ownership by domain, the patient's proposals, the status machine,
versions, and NAV's view that holds no treatment item without consent."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from carework.lifecycle import GOAL_TRANSITIONS
from carework.vocab import GoalStatus
from tests.domain_helpers import (
    SentThroughSqlalchemy,
    add_activity,
    add_goal,
    add_note,
    assert_created,
    assert_problem,
    patch,
    plan_for_new_patient,
    plan_url,
    propose_goal,
    read_patient_plan,
    read_plan,
    shortest_path,
)
from tests.factories import Actor, World, create_plan


def goal_url(actor: Actor, plan_id: str, goal_id: str) -> str:
    return f"{plan_url(actor, plan_id)}/goals/{goal_id}"


async def read_goal(client, actor: Actor, plan_id: str, goal_id: str) -> dict[str, Any]:
    response = await client.get(goal_url(actor, plan_id, goal_id), headers=actor.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == f'"{response.json()["version"]}"'
    body: dict[str, Any] = response.json()
    return body


# --- ownership ------------------------------------------------------------------------------


async def test_clinician_creates_a_treatment_goal(client, world: World) -> None:
    plan = await create_plan(client, world)
    url = f"{plan_url(world.clinician, plan['id'])}/goals"
    response = await client.post(
        url,
        json={
            "domain": "treatment",
            "title": "Mindre angst på morgenen",
            "description": "Eksponering to ganger i uken",
            "target_date": "2031-06-30",
        },
        headers=world.clinician.headers,
    )
    goal = assert_created(response)
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"{url}/{goal['id']}"
    assert goal["plan_id"] == plan["id"]
    assert (goal["domain"], goal["owner_side"], goal["status"]) == ("treatment", "dps", "active")
    assert goal["title"] == "Mindre angst på morgenen"
    assert goal["description"] == "Eksponering to ganger i uken"
    assert goal["target_date"] == "2031-06-30"
    assert goal["proposed_by_side"] is None
    assert (goal["version"], goal["notes"]) == (1, [])
    assert await read_goal(client, world.clinician, plan["id"], goal["id"]) == goal


@pytest.mark.parametrize(
    ("who", "domain", "owner"),
    [
        ("clinician", "treatment", "dps"),
        ("advisor", "work", "nav"),
        ("advisor", "education", "nav"),
    ],
)
async def test_each_side_creates_the_goals_it_owns(
    client, world: World, who: str, domain: str, owner: str
) -> None:
    plan = await create_plan(client, world)
    actor: Actor = getattr(world, who)
    goal = await add_goal(client, actor, plan["id"], domain)
    assert (goal["domain"], goal["owner_side"], goal["status"]) == (domain, owner, "active")
    in_view = await read_plan(client, actor, plan["id"])
    assert [g["id"] for g in in_view["goals"]] == [goal["id"]]


@pytest.mark.parametrize(
    ("who", "domain"),
    [("clinician", "work"), ("clinician", "education"), ("advisor", "treatment")],
)
async def test_a_side_cannot_create_the_other_sides_goals(
    client, world: World, who: str, domain: str
) -> None:
    plan = await create_plan(client, world)
    actor: Actor = getattr(world, who)
    response = await client.post(
        f"{plan_url(actor, plan['id'])}/goals",
        json={"domain": domain, "title": "Ikke mitt"},
        headers=actor.headers,
    )
    assert_problem(response, 403)
    assert (await read_plan(client, world.clinician, plan["id"]))["goals"] == []


@pytest.mark.parametrize("domain", ["work", "education"])
async def test_clinician_cannot_patch_navs_goal(client, world: World, domain: str) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.advisor, plan["id"], domain)
    for body in ({"title": "Overtatt"}, {"status": "cancelled"}):
        response = await patch(
            client, world.clinician, goal_url(world.clinician, plan["id"], goal["id"]), 1, body
        )
        assert_problem(response, 403)
    unchanged = await read_goal(client, world.advisor, plan["id"], goal["id"])
    assert (unchanged["title"], unchanged["status"], unchanged["version"]) == (
        goal["title"],
        "active",
        1,
    )


async def test_advisor_cannot_patch_or_even_see_a_treatment_goal(client, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment")
    url = goal_url(world.advisor, plan["id"], goal["id"])
    assert_problem(await patch(client, world.advisor, url, 1, {"status": "cancelled"}), 404)
    unchanged = await read_goal(client, world.clinician, plan["id"], goal["id"])
    assert (unchanged["status"], unchanged["version"]) == ("active", 1)


async def test_a_goal_is_found_only_under_its_own_plan(client, world: World) -> None:
    plan = await create_plan(client, world)
    other_plan = await plan_for_new_patient(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment")
    response = await client.get(
        goal_url(world.clinician, other_plan["id"], goal["id"]), headers=world.clinician.headers
    )
    assert_problem(response, 404)


# --- the patient's proposals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "owner_name", "other_name", "other_status"),
    [
        ("treatment", "clinician", "advisor", 404),  # NAV cannot even see a treatment goal
        ("work", "advisor", "clinician", 403),
        ("education", "advisor", "clinician", 403),
    ],
)
@pytest.mark.parametrize("decision", ["active", "cancelled"])
async def test_owning_side_accepts_or_cancels_a_proposal(
    client,
    world: World,
    domain: str,
    owner_name: str,
    other_name: str,
    other_status: int,
    decision: str,
) -> None:
    plan = await create_plan(client, world)
    proposal = await propose_goal(client, world.patient, domain, "Jobbe i butikk")
    assert proposal["plan_id"] == plan["id"]
    assert (proposal["status"], proposal["proposed_by_side"]) == ("proposed", "patient")
    assert proposal["owner_side"] == ("dps" if domain == "treatment" else "nav")
    assert proposal["version"] == 1

    other: Actor = getattr(world, other_name)
    refused = await patch(
        client, other, goal_url(other, plan["id"], proposal["id"]), 1, {"status": decision}
    )
    assert_problem(refused, other_status)

    owner: Actor = getattr(world, owner_name)
    response = await patch(
        client, owner, goal_url(owner, plan["id"], proposal["id"]), 1, {"status": decision}
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert (response.json()["status"], response.json()["proposed_by_side"]) == (
        decision,
        "patient",
    )
    mine = await read_patient_plan(client, world.patient)
    assert [(g["id"], g["status"]) for g in mine["goals"]] == [(proposal["id"], decision)]


async def test_patient_proposal_rejects_fields_the_patient_does_not_set(
    client, world: World
) -> None:
    await create_plan(client, world)
    response = await client.post(
        "/api/v1/patient/plan/goals",
        json={"domain": "work", "title": "Jobb", "status": "active"},
        headers=world.patient.headers,
    )
    problem = assert_problem(response, 422)
    assert any(e["loc"][-1] == "status" for e in problem["errors"])
    assert (await read_patient_plan(client, world.patient))["goals"] == []


async def test_patient_without_a_plan_cannot_propose(client, world: World) -> None:
    response = await client.post(
        "/api/v1/patient/plan/goals",
        json={"domain": "work", "title": "Jobb"},
        headers=world.other_patient.headers,
    )
    assert_problem(response, 404)


# --- the status machine ---------------------------------------------------------------------


def test_goal_transition_table_matches_the_design() -> None:
    s = GoalStatus
    assert {
        s.proposed: {s.active, s.cancelled},
        s.active: {s.achieved, s.not_achieved, s.on_hold, s.cancelled},
        s.on_hold: {s.active, s.cancelled},
        s.achieved: set(),
        s.not_achieved: set(),
        s.cancelled: set(),
    } == GOAL_TRANSITIONS


GOAL_MOVES = [
    pytest.param(old, new, new in GOAL_TRANSITIONS[old], id=f"{old.value}->{new.value}")
    for old in GoalStatus
    for new in GoalStatus
    if old is not new
]


@pytest.mark.parametrize(("old", "new", "allowed"), GOAL_MOVES)
async def test_goal_status_moves(
    client, world: World, old: GoalStatus, new: GoalStatus, allowed: bool
) -> None:
    plan = await create_plan(client, world)
    if old is GoalStatus.proposed:
        goal = await propose_goal(client, world.patient, "treatment")
    else:
        goal = await add_goal(client, world.clinician, plan["id"], "treatment")
    url = goal_url(world.clinician, plan["id"], goal["id"])
    for step in shortest_path(GOAL_TRANSITIONS, GoalStatus(goal["status"]), old)[1:]:
        response = await patch(client, world.clinician, url, goal["version"], {"status": step})
        assert response.status_code == 200, response.text
        goal = response.json()
    assert goal["status"] == old.value

    response = await patch(client, world.clinician, url, goal["version"], {"status": new.value})
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == new.value
        assert response.headers["etag"] == f'"{goal["version"] + 1}"'
    else:
        problem = assert_problem(response, 409)
        assert old.value in problem["detail"]
        assert new.value in problem["detail"]
        unchanged = await read_goal(client, world.clinician, plan["id"], goal["id"])
        assert (unchanged["status"], unchanged["version"]) == (old.value, goal["version"])


async def test_every_patch_bumps_the_goal_version(client, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.advisor, plan["id"], "education")
    url = goal_url(world.advisor, plan["id"], goal["id"])
    changes: list[dict[str, Any]] = [
        {"title": "Fullføre videregående"},
        {"description": "Privatist i matte"},
        {"target_date": "2032-06-15"},
        {"status": "on_hold"},
        {"status": "active", "title": "Fullføre vgs"},
        {"status": "achieved"},
    ]
    for version, change in enumerate(changes, start=1):
        response = await patch(client, world.advisor, url, version, change)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == f'"{version + 1}"'
        body = response.json()
        assert body["version"] == version + 1
        for field, value in change.items():
            assert body[field] == value
    final = await read_goal(client, world.advisor, plan["id"], goal["id"])
    assert (final["title"], final["description"], final["target_date"], final["status"]) == (
        "Fullføre vgs",
        "Privatist i matte",
        "2032-06-15",
        "achieved",
    )
    # The DPS view carries the same version.
    dps_goal = await read_goal(client, world.clinician, plan["id"], goal["id"])
    assert dps_goal["version"] == len(changes) + 1

    stale = await patch(client, world.advisor, url, 1, {"title": "Gammel"})
    assert_problem(stale, 412)
    missing = await client.patch(url, json={"title": "Uten"}, headers=world.advisor.headers)
    assert_problem(missing, 428)


@pytest.mark.parametrize("field", ["status", "title"])
async def test_goal_status_and_title_cannot_be_emptied(client, world: World, field: str) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment")
    url = goal_url(world.clinician, plan["id"], goal["id"])
    assert_problem(await patch(client, world.clinician, url, 1, {field: None}), 422)
    assert (await read_goal(client, world.clinician, plan["id"], goal["id"]))["version"] == 1


# --- NAV's view without consent ---------------------------------------------------------------


async def test_navs_view_holds_no_treatment_items_by_default(client, world: World) -> None:
    plan = await create_plan(client, world)
    pid = plan["id"]
    treatment = await add_goal(client, world.clinician, pid, "treatment", title="Sove bedre")
    work = await add_goal(client, world.advisor, pid, "work", title="Arbeidstrening")
    await add_note(client, world.clinician, pid, treatment["id"], "Bedre søvn", "shared")
    therapy = await add_activity(client, world.clinician, pid, "therapy")
    dps_other = await add_activity(client, world.clinician, pid, "other")
    review = await add_activity(
        client, world.clinician, pid, "medication_review", goal_id=treatment["id"]
    )
    course = await add_activity(client, world.advisor, pid, "course", goal_id=work["id"])
    nav_other = await add_activity(client, world.advisor, pid, "other")
    await add_note(client, world.advisor, pid, work["id"], "Startet", "shared")

    nav = await read_plan(client, world.advisor, pid)
    assert nav["consent"] == []
    assert [g["id"] for g in nav["goals"]] == [work["id"]]
    assert [n["text"] for n in nav["goals"][0]["notes"]] == ["Startet"]
    assert [a["id"] for a in nav["activities"]] == [course["id"], nav_other["id"]]
    assert "Sove bedre" not in str(nav)
    assert "Bedre søvn" not in str(nav)

    # Direct reads and writes of treatment items are as if they did not exist.
    nav_goal = await client.get(
        goal_url(world.advisor, pid, treatment["id"]), headers=world.advisor.headers
    )
    assert_problem(nav_goal, 404)
    for activity in (therapy, dps_other, review):
        response = await client.get(
            f"{plan_url(world.advisor, pid)}/activities/{activity['id']}",
            headers=world.advisor.headers,
        )
        assert_problem(response, 404)
    note = await client.post(
        f"{goal_url(world.advisor, pid, treatment['id'])}/notes",
        json={"text": "Hvordan går det?", "visibility": "shared"},
        headers=world.advisor.headers,
    )
    assert_problem(note, 404)
    linked = await client.post(
        f"{plan_url(world.advisor, pid)}/activities",
        json={"kind": "work_training", "title": "Trening", "goal_id": treatment["id"]},
        headers=world.advisor.headers,
    )
    problem = assert_problem(linked, 422)
    assert "goal_id" in problem["detail"]

    # DPS and the patient see everything (shared notes included).
    expected_activities = [
        therapy["id"],
        dps_other["id"],
        review["id"],
        course["id"],
        nav_other["id"],
    ]
    for view in (
        await read_plan(client, world.clinician, pid),
        await read_patient_plan(client, world.patient),
    ):
        assert [g["id"] for g in view["goals"]] == [treatment["id"], work["id"]]
        assert [n["text"] for n in view["goals"][0]["notes"]] == ["Bedre søvn"]
        assert [a["id"] for a in view["activities"]] == expected_activities
    patient_treatment = (await read_patient_plan(client, world.patient))["goals"][0]
    assert patient_treatment["title"] == "Sove bedre"
    dps_goal = await read_goal(client, world.clinician, pid, treatment["id"])
    assert [n["text"] for n in dps_goal["notes"]] == ["Bedre søvn"]


async def test_nav_sees_a_patients_treatment_proposal_no_more_than_dps_goals(
    client, world: World
) -> None:
    plan = await create_plan(client, world)
    proposal = await propose_goal(client, world.patient, "treatment", "Færre panikkanfall")
    nav = await read_plan(client, world.advisor, plan["id"])
    assert nav["goals"] == []
    response = await client.get(
        goal_url(world.advisor, plan["id"], proposal["id"]), headers=world.advisor.headers
    )
    assert_problem(response, 404)
    dps = await read_plan(client, world.clinician, plan["id"])
    assert [(g["id"], g["status"]) for g in dps["goals"]] == [(proposal["id"], "proposed")]


async def test_a_change_every_rule_allows_is_one_statement(
    app: FastAPI, client, world: World
) -> None:
    """The common change is made by one UPDATE whose WHERE holds the rules; one the rules
    refuse, or that must clear agreements, goes the careful way (a locked read first) and
    gets the same answer as ever."""
    plan_id = (await create_plan(client, world))["id"]
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    url = f"{plan_url(world.clinician, plan_id)}/goals/{goal['id']}"
    with SentThroughSqlalchemy(app.state.engine) as sent:
        response = await patch(client, world.clinician, url, 1, {"title": "Sove bedre"})
    assert response.status_code == 200, response.text
    assert [s.split()[0] for s in sent] == ["UPDATE"]

    with SentThroughSqlalchemy(app.state.engine) as sent:
        stale = await patch(client, world.clinician, url, 1, {"title": "Igjen"})
    assert_problem(stale, 412)
    assert [s.split()[0] for s in sent] == ["UPDATE", "SELECT"]  # the careful way says why

    agreed = await client.put(f"{url}/agreement", headers={**world.clinician.headers,
                                                           "If-Match": '"2"'})  # fmt: skip
    assert agreed.status_code == 200
    with SentThroughSqlalchemy(app.state.engine) as sent:
        cleared = await patch(client, world.clinician, url, 2, {"title": "Sove hele natten"})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["agreed_by"] == []
    assert "FOR UPDATE" in sent[1]
