"""Activities (tiltak) through the HTTP API: kinds per side, the status machine, dates, goal
links and ownership."""

from __future__ import annotations

from typing import Any

import pytest

from carework.lifecycle import ACTIVITY_TRANSITIONS
from carework.vocab import ActivityStatus
from tests.domain_helpers import (
    add_activity,
    add_goal,
    assert_problem,
    patch,
    plan_for_new_patient,
    plan_url,
    read_plan,
    shortest_path,
)
from tests.factories import Actor, World, create_plan

DPS_KINDS = ["therapy", "medication_review", "other"]
NAV_KINDS = ["work_training", "ips_job_search", "course", "benefit_follow_up", "other"]


def activity_url(actor: Actor, plan_id: str, activity_id: str) -> str:
    return f"{plan_url(actor, plan_id)}/activities/{activity_id}"


async def read_activity(client, actor: Actor, plan_id: str, activity_id: str) -> dict[str, Any]:
    response = await client.get(activity_url(actor, plan_id, activity_id), headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["etag"] == f'"{body["version"]}"'
    return body


# --- kinds per side ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "kind", "side"),
    [("clinician", k, "dps") for k in DPS_KINDS] + [("advisor", k, "nav") for k in NAV_KINDS],
)
async def test_each_side_runs_its_own_kinds(
    client, world: World, who: str, kind: str, side: str
) -> None:
    plan = await create_plan(client, world)
    actor: Actor = getattr(world, who)
    url = f"{plan_url(actor, plan['id'])}/activities"
    response = await client.post(
        url,
        json={
            "kind": kind,
            "title": "Tiltak",
            "description": "Hver tirsdag",
            "responsible_person": actor.name,
            "start": "2031-01-05",
            "end": "2031-03-05",
        },
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    activity = response.json()
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"{url}/{activity['id']}"
    assert (activity["kind"], activity["responsible_side"], activity["status"]) == (
        kind,
        side,
        "planned",
    )
    assert (activity["start"], activity["end"], activity["goal_id"]) == (
        "2031-01-05",
        "2031-03-05",
        None,
    )
    assert (activity["responsible_person"], activity["description"]) == (actor.name, "Hver tirsdag")
    assert activity["plan_id"] == plan["id"]
    assert activity["version"] == 1
    assert await read_activity(client, actor, plan["id"], activity["id"]) == activity


@pytest.mark.parametrize(
    ("who", "kind"),
    [("clinician", k) for k in NAV_KINDS if k not in DPS_KINDS]
    + [("advisor", k) for k in DPS_KINDS if k not in NAV_KINDS],
)
async def test_a_side_cannot_run_the_other_sides_kinds(
    client, world: World, who: str, kind: str
) -> None:
    plan = await create_plan(client, world)
    actor: Actor = getattr(world, who)
    response = await client.post(
        f"{plan_url(actor, plan['id'])}/activities",
        json={"kind": kind, "title": "Feil side"},
        headers=actor.headers,
    )
    problem = assert_problem(response, 403)
    assert kind in problem["detail"]
    assert (await read_plan(client, world.clinician, plan["id"]))["activities"] == []


async def test_activity_linked_to_an_own_goal(client, world: World) -> None:
    plan = await create_plan(client, world)
    work = await add_goal(client, world.advisor, plan["id"], "work")
    treatment = await add_goal(client, world.clinician, plan["id"], "treatment")
    ips = await add_activity(
        client, world.advisor, plan["id"], "ips_job_search", goal_id=work["id"]
    )
    therapy = await add_activity(
        client, world.clinician, plan["id"], "therapy", goal_id=treatment["id"]
    )
    assert (ips["goal_id"], therapy["goal_id"]) == (work["id"], treatment["id"])
    dps = await read_plan(client, world.clinician, plan["id"])
    assert {a["id"]: a["goal_id"] for a in dps["activities"]} == {
        ips["id"]: work["id"],
        therapy["id"]: treatment["id"],
    }


# --- goal links and dates -------------------------------------------------------------------------


async def test_goal_of_another_plan_is_refused(client, world: World) -> None:
    plan = await create_plan(client, world)
    other = await plan_for_new_patient(client, world)
    foreign = await add_goal(client, world.advisor, other["id"], "work")
    for goal_id in (foreign["id"], "00000000-0000-4000-8000-000000000000"):
        response = await client.post(
            f"{plan_url(world.advisor, plan['id'])}/activities",
            json={"kind": "course", "title": "Kurs", "goal_id": goal_id},
            headers=world.advisor.headers,
        )
        problem = assert_problem(response, 422)
        assert "goal_id" in problem["detail"]
    assert (await read_plan(client, world.advisor, plan["id"]))["activities"] == []


async def test_end_before_start_is_refused_on_create(client, world: World) -> None:
    plan = await create_plan(client, world)
    response = await client.post(
        f"{plan_url(world.clinician, plan['id'])}/activities",
        json={"kind": "therapy", "title": "Terapi", "start": "2031-05-02", "end": "2031-05-01"},
        headers=world.clinician.headers,
    )
    problem = assert_problem(response, 422)
    assert problem["errors"]
    assert (await read_plan(client, world.clinician, plan["id"]))["activities"] == []
    same_day = await add_activity(
        client, world.clinician, plan["id"], "therapy", start="2031-05-02", end="2031-05-02"
    )
    assert same_day["start"] == same_day["end"] == "2031-05-02"


async def test_end_before_start_is_refused_on_patch(client, world: World) -> None:
    plan = await create_plan(client, world)
    activity = await add_activity(
        client, world.advisor, plan["id"], "work_training", start="2031-02-01", end="2031-04-01"
    )
    url = activity_url(world.advisor, plan["id"], activity["id"])
    # Only one side of the range is sent; it is checked against the stored other side.
    for change in (
        {"end": "2031-01-15"},
        {"start": "2031-05-01"},
        {"start": "2031-03-01", "end": "2031-02-01"},
    ):
        assert_problem(await patch(client, world.advisor, url, 1, change), 422)
    unchanged = await read_activity(client, world.advisor, plan["id"], activity["id"])
    assert (unchanged["start"], unchanged["end"], unchanged["version"]) == (
        "2031-02-01",
        "2031-04-01",
        1,
    )
    moved = await patch(client, world.advisor, url, 1, {"end": "2031-06-01"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["start"], moved.json()["end"]) == ("2031-02-01", "2031-06-01")


# --- status machine --------------------------------------------------------------------------


def test_activity_transition_table_matches_the_design() -> None:
    s = ActivityStatus
    assert {
        s.planned: {s.in_progress, s.done, s.cancelled},
        s.in_progress: {s.done, s.cancelled},
        s.done: set(),
        s.cancelled: set(),
    } == ACTIVITY_TRANSITIONS


ACTIVITY_MOVES = [
    pytest.param(old, new, new in ACTIVITY_TRANSITIONS[old], id=f"{old.value}->{new.value}")
    for old in ActivityStatus
    for new in ActivityStatus
    if old is not new
]


@pytest.mark.parametrize(("old", "new", "allowed"), ACTIVITY_MOVES)
async def test_activity_status_moves(
    client, world: World, old: ActivityStatus, new: ActivityStatus, allowed: bool
) -> None:
    plan = await create_plan(client, world)
    activity = await add_activity(client, world.advisor, plan["id"], "benefit_follow_up")
    url = activity_url(world.advisor, plan["id"], activity["id"])
    for step in shortest_path(ACTIVITY_TRANSITIONS, ActivityStatus.planned, old)[1:]:
        response = await patch(client, world.advisor, url, activity["version"], {"status": step})
        assert response.status_code == 200, response.text
        activity = response.json()
    assert activity["status"] == old.value

    response = await patch(client, world.advisor, url, activity["version"], {"status": new.value})
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == new.value
        assert response.headers["etag"] == f'"{activity["version"] + 1}"'
    else:
        assert_problem(response, 409)
        unchanged = await read_activity(client, world.advisor, plan["id"], activity["id"])
        assert (unchanged["status"], unchanged["version"]) == (old.value, activity["version"])


async def test_every_patch_bumps_the_activity_version(client, world: World) -> None:
    plan = await create_plan(client, world)
    activity = await add_activity(client, world.clinician, plan["id"], "medication_review")
    url = activity_url(world.clinician, plan["id"], activity["id"])
    changes: list[dict[str, Any]] = [
        {"title": "Legemiddelgjennomgang"},
        {"responsible_person": "Dr. Berg", "start": "2031-09-01"},
        {"status": "in_progress"},
        {"status": "done", "end": "2031-09-10"},
    ]
    for version, change in enumerate(changes, start=1):
        response = await patch(client, world.clinician, url, version, change)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == f'"{version + 1}"'
        for field, value in change.items():
            assert response.json()[field] == value
    final = await read_activity(client, world.clinician, plan["id"], activity["id"])
    assert (final["title"], final["responsible_person"], final["status"]) == (
        "Legemiddelgjennomgang",
        "Dr. Berg",
        "done",
    )
    assert (final["start"], final["end"], final["version"]) == ("2031-09-01", "2031-09-10", 5)
    assert_problem(await patch(client, world.clinician, url, 4, {"title": "Sen"}), 412)


# --- ownership --------------------------------------------------------------------------------


async def test_clinician_cannot_patch_a_nav_activity(client, world: World) -> None:
    plan = await create_plan(client, world)
    course = await add_activity(client, world.advisor, plan["id"], "course")
    shared_kind = await add_activity(client, world.advisor, plan["id"], "other")
    for activity in (course, shared_kind):
        url = activity_url(world.clinician, plan["id"], activity["id"])
        response = await patch(client, world.clinician, url, 1, {"status": "cancelled"})
        assert_problem(response, 403)
        seen = await read_activity(client, world.clinician, plan["id"], activity["id"])
        assert (seen["status"], seen["version"]) == ("planned", 1)


async def test_advisor_cannot_patch_or_see_a_dps_activity(client, world: World) -> None:
    plan = await create_plan(client, world)
    dps_other = await add_activity(client, world.clinician, plan["id"], "other")
    url = activity_url(world.advisor, plan["id"], dps_other["id"])
    # Without consent a DPS activity is treatment: hidden from NAV, so not found rather than 403.
    assert_problem(await patch(client, world.advisor, url, 1, {"status": "cancelled"}), 404)
    seen = await read_activity(client, world.clinician, plan["id"], dps_other["id"])
    assert (seen["status"], seen["version"]) == ("planned", 1)
