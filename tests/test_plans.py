"""Plans through the HTTP API: creation from either side, one open plan per patient, the status
machine, the coordinator, listing, search and the patient's own view."""

from __future__ import annotations

from typing import Any

import pytest

from carework.lifecycle import PLAN_TRANSITIONS
from carework.vocab import PlanStatus
from tests.domain_helpers import (
    add_activity,
    add_goal,
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
from tests.factories import Actor, World, create_plan, make_nid

DPS = "/api/v1/dps/plans"
NAV = "/api/v1/nav/plans"


def plan_body(world: World, **fields: Any) -> dict[str, Any]:
    return {"patient": {"nid": world.nid, "name": "Ola Pasient"}, "title": "Tilbake", **fields}


async def set_status(client, actor: Actor, plan: dict[str, Any], status: str) -> dict[str, Any]:
    response = await patch(
        client, actor, plan_url(actor, plan["id"]), plan["version"], {"status": status}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# --- creation ---------------------------------------------------------------------------


async def test_clinician_creates_plan_with_own_unit_defaulted(client, world: World) -> None:
    response = await client.post(
        DPS,
        json=plan_body(world, nav_office=world.nav_office, main_goal="Jobbe i barnehage"),
        headers=world.clinician.headers,
    )
    plan = assert_created(response)
    assert response.headers["location"] == f"{DPS}/{plan['id']}"
    assert response.headers["etag"] == '"1"'
    assert plan["dps_unit"] == world.dps_unit
    assert plan["nav_office"] == world.nav_office
    assert plan["status"] == "draft"
    assert plan["version"] == 1
    assert plan["main_goal"] == "Jobbe i barnehage"
    assert plan["patient"] == {"nid": world.nid, "name": "Ola Pasient"}
    assert plan["goals"] == []
    assert plan["activities"] == []
    assert plan["consent"] == []
    # The creator is on the team and coordinates.
    assert plan["coordinator_sub"] == world.clinician.sub
    assert [(m["sub"], m["role"], m["org"], m["side"], m["coordinator"]) for m in plan["team"]] == [
        (world.clinician.sub, "clinician", world.dps_unit, "dps", True)
    ]

    again = await client.get(response.headers["location"], headers=world.clinician.headers)
    assert again.status_code == 200
    assert again.headers["etag"] == '"1"'
    assert again.json()["id"] == plan["id"]


async def test_advisor_creates_plan_with_own_office_defaulted(client, world: World) -> None:
    response = await client.post(
        NAV,
        json=plan_body(world, dps_unit=world.dps_unit, status="active"),
        headers=world.advisor.headers,
    )
    plan = assert_created(response)
    assert response.headers["location"] == f"{NAV}/{plan['id']}"
    assert response.headers["etag"] == '"1"'
    assert (plan["dps_unit"], plan["nav_office"]) == (world.dps_unit, world.nav_office)
    assert plan["status"] == "active"
    assert plan["coordinator_sub"] == world.advisor.sub
    assert [(m["sub"], m["role"], m["side"], m["coordinator"]) for m in plan["team"]] == [
        (world.advisor.sub, "nav_advisor", "nav", True)
    ]
    # The named DPS unit sees the same plan, at the same version.
    dps_view = await client.get(f"{DPS}/{plan['id']}", headers=world.clinician.headers)
    assert dps_view.status_code == 200
    assert dps_view.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("url", "who", "missing"), [(DPS, "clinician", "nav_office"), (NAV, "advisor", "dps_unit")]
)
async def test_the_other_sides_unit_must_be_named(client, world: World, url, who, missing) -> None:
    actor: Actor = getattr(world, who)
    response = await client.post(url, json=plan_body(world), headers=actor.headers)
    problem = assert_problem(response, 422)
    assert missing in problem["detail"]
    # Nothing was stored.
    found = await client.post(f"{url}/search", json={"nid": world.nid}, headers=actor.headers)
    assert found.json() == {"items": []}


@pytest.mark.parametrize("first_status", ["draft", "active"])
@pytest.mark.parametrize("second_side", ["dps", "nav"])
async def test_second_open_plan_for_a_patient_is_a_conflict(
    client, world: World, first_status: str, second_side: str
) -> None:
    first = await create_plan(client, world, status=first_status)
    if second_side == "dps":
        second = await client.post(
            DPS, json=plan_body(world, nav_office=world.nav_office), headers=world.clinician.headers
        )
    else:
        second = await client.post(
            NAV, json=plan_body(world, dps_unit=world.dps_unit), headers=world.advisor.headers
        )
    assert_problem(second, 409)
    found = await client.post(
        f"{DPS}/search", json={"nid": world.nid}, headers=world.clinician.headers
    )
    assert [p["id"] for p in found.json()["items"]] == [first["id"]]


async def test_a_new_plan_is_allowed_once_the_first_is_closed(client, world: World) -> None:
    first = await create_plan(client, world, status="active")
    await set_status(client, world.clinician, first, "closed")
    response = await client.post(
        NAV, json=plan_body(world, dps_unit=world.dps_unit), headers=world.advisor.headers
    )
    second = assert_created(response)
    assert second["id"] != first["id"]
    assert second["status"] == "draft"
    # Now that one is open again, a third is refused.
    third = await client.post(
        DPS, json=plan_body(world, nav_office=world.nav_office), headers=world.clinician.headers
    )
    assert_problem(third, 409)


async def test_a_new_plan_is_allowed_once_the_first_is_completed(client, world: World) -> None:
    first = await create_plan(client, world, status="active")
    await set_status(client, world.advisor, first, "completed")
    second = await create_plan(client, world, status="active")
    assert second["id"] != first["id"]


# --- status machine -----------------------------------------------------------------------


PLAN_MOVES = [
    pytest.param(old, new, new in PLAN_TRANSITIONS[old], id=f"{old.value}->{new.value}")
    for old in PlanStatus
    for new in PlanStatus
    if old is not new
]


def test_plan_transition_table_matches_the_design() -> None:
    allowed = {(a.value, b.value) for a, targets in PLAN_TRANSITIONS.items() for b in targets}
    assert allowed == {
        ("draft", "active"),
        ("draft", "closed"),
        ("active", "completed"),
        ("active", "closed"),
    }


@pytest.mark.parametrize(("old", "new", "allowed"), PLAN_MOVES)
async def test_plan_status_moves(
    client, world: World, old: PlanStatus, new: PlanStatus, allowed: bool
) -> None:
    plan = await create_plan(client, world, status="draft")
    for step in shortest_path(PLAN_TRANSITIONS, PlanStatus.draft, old)[1:]:
        plan = await set_status(client, world.clinician, plan, step.value)
    url = plan_url(world.clinician, plan["id"])
    response = await patch(client, world.clinician, url, plan["version"], {"status": new.value})
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == new.value
        assert response.headers["etag"] == f'"{plan["version"] + 1}"'
    else:
        assert_problem(response, 409)
        unchanged = await read_plan(client, world.clinician, plan["id"])
        assert (unchanged["status"], unchanged["version"]) == (old.value, plan["version"])


@pytest.mark.parametrize("final", ["closed", "completed"])
async def test_a_finished_plan_can_no_longer_be_written(client, world: World, final: str) -> None:
    plan = await create_plan(client, world, status="active")
    treatment = await add_goal(client, world.clinician, plan["id"], "treatment")
    work = await add_goal(client, world.advisor, plan["id"], "work")
    therapy = await add_activity(client, world.clinician, plan["id"], "therapy")
    plan = await read_plan(client, world.clinician, plan["id"])
    plan = await set_status(client, world.clinician, plan, final)
    dps, nav = plan_url(world.clinician, plan["id"]), plan_url(world.advisor, plan["id"])
    c, a = world.clinician.headers, world.advisor.headers

    refused = [
        await client.post(f"{dps}/goals", json={"domain": "treatment", "title": "x"}, headers=c),
        await client.post(f"{nav}/goals", json={"domain": "work", "title": "x"}, headers=a),
        await patch(client, world.clinician, f"{dps}/goals/{treatment['id']}", 1, {"title": "y"}),
        await patch(client, world.advisor, f"{nav}/goals/{work['id']}", 1, {"status": "achieved"}),
        await client.post(f"{dps}/activities", json={"kind": "therapy", "title": "x"}, headers=c),
        await client.post(f"{nav}/activities", json={"kind": "course", "title": "x"}, headers=a),
        await patch(
            client, world.clinician, f"{dps}/activities/{therapy['id']}", 1, {"status": "done"}
        ),
        await client.post(
            f"{dps}/goals/{treatment['id']}/notes",
            json={"text": "x", "visibility": "shared"},
            headers=c,
        ),
        await client.post(
            f"{nav}/goals/{work['id']}/notes", json={"text": "x", "visibility": "shared"}, headers=a
        ),
        await client.post(
            f"{nav}/team",
            json={"sub": "n2", "name": "N", "role": "nav_advisor", "org": world.nav_office},
            headers=a,
        ),
        await patch(client, world.clinician, dps, plan["version"], {"title": "Ny tittel"}),
        await client.post(
            "/api/v1/patient/plan/goals",
            json={"domain": "work", "title": "x"},
            headers=world.patient.headers,
        ),
        await client.post(
            f"/api/v1/patient/plan/goals/{work['id']}/notes",
            json={"text": "x"},
            headers=world.patient.headers,
        ),
    ]
    for response in refused:
        assert_problem(response, 409)

    # Reads still work, and nothing was added or changed.
    after = await read_plan(client, world.clinician, plan["id"])
    assert after["status"] == final
    assert after["version"] == plan["version"]
    assert [(g["id"], g["version"], g["notes"]) for g in after["goals"]] == [
        (treatment["id"], 1, []),
        (work["id"], 1, []),
    ]
    assert [(x["id"], x["status"]) for x in after["activities"]] == [(therapy["id"], "planned")]
    assert len(after["team"]) == 1


# --- plan fields and coordinator --------------------------------------------------------------


async def test_patch_plan_fields_bumps_the_version_for_every_side(client, world: World) -> None:
    plan = await create_plan(client, world)
    url = plan_url(world.advisor, plan["id"])
    response = await patch(
        client,
        world.advisor,
        url,
        1,
        {"title": "Arbeid og helse", "next_review_date": "2031-03-01", "main_goal": "Fast jobb"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    body = response.json()
    assert (body["title"], body["next_review_date"], body["main_goal"], body["version"]) == (
        "Arbeid og helse",
        "2031-03-01",
        "Fast jobb",
        2,
    )
    dps = await client.get(plan_url(world.clinician, plan["id"]), headers=world.clinician.headers)
    assert dps.headers["etag"] == '"2"'
    assert dps.json()["title"] == "Arbeid og helse"
    # The old tag is stale now.
    stale = await patch(client, world.clinician, dps.request.url.path, 1, {"title": "Annet"})
    assert_problem(stale, 412)


async def test_coordinator_must_be_a_team_member(client, world: World) -> None:
    plan = await create_plan(client, world)
    url = plan_url(world.clinician, plan["id"])
    response = await patch(client, world.clinician, url, 1, {"coordinator_sub": world.advisor.sub})
    problem = assert_problem(response, 422)
    assert "care team" in problem["detail"]
    unchanged = await read_plan(client, world.clinician, plan["id"])
    assert (unchanged["coordinator_sub"], unchanged["version"]) == (world.clinician.sub, 1)

    # Once NAV names the advisor on the team, the advisor can coordinate.
    added = await client.post(
        f"{plan_url(world.advisor, plan['id'])}/team",
        json={
            "sub": world.advisor.sub,
            "name": world.advisor.name,
            "role": "nav_advisor",
            "org": world.nav_office,
        },
        headers=world.advisor.headers,
    )
    assert_created(added)
    response = await patch(client, world.clinician, url, 1, {"coordinator_sub": world.advisor.sub})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["coordinator_sub"] == world.advisor.sub
    assert {m["sub"]: m["coordinator"] for m in body["team"]} == {
        world.clinician.sub: False,
        world.advisor.sub: True,
    }


# --- list and search ------------------------------------------------------------------------


async def _all_pages(client, actor: Actor, query: str) -> tuple[list[str], list[int]]:
    ids: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        url = f"{base_url(actor)}?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [p["id"] for p in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, sizes
        assert len(sizes) < 20, "pagination does not end"


def base_url(actor: Actor) -> str:
    return DPS if actor.role == "clinician" else NAV


async def test_list_paginates_only_plans_in_scope(client, world: World) -> None:
    statuses = ["draft", "active", "draft", "active", "active"]
    created = [(await plan_for_new_patient(client, world, status=s))["id"] for s in statuses]
    # A plan elsewhere: another DPS unit and another NAV office.
    outsider = world.other_clinician
    elsewhere = await client.post(
        DPS,
        json={
            "patient": {"nid": make_nid(), "name": "Else"},
            "nav_office": world.other_advisor.org,
            "title": "Annen plan",
        },
        headers=outsider.headers,
    )
    elsewhere_id = assert_created(elsewhere)["id"]

    for actor in (world.clinician, world.advisor):
        ids, sizes = await _all_pages(client, actor, "limit=2")
        assert ids == created  # oldest first, each exactly once, none missing
        assert sizes == [2, 2, 1]
        drafts, _ = await _all_pages(client, actor, "limit=1&status=draft")
        assert drafts == [created[0], created[2]]
        active, _ = await _all_pages(client, actor, "status=active")
        assert active == [created[1], created[3], created[4]]

    outsider_ids, _ = await _all_pages(client, outsider, "limit=200")
    assert outsider_ids == [elsewhere_id]
    other_nav_ids, _ = await _all_pages(client, world.other_advisor, "limit=200")
    assert other_nav_ids == [elsewhere_id]

    page = (await client.get(f"{DPS}?limit=5", headers=world.clinician.headers)).json()
    assert page["next_cursor"] is None
    summary = page["items"][0]
    assert summary["patient_name"] == "Per Pasient"
    assert (summary["dps_unit"], summary["nav_office"], summary["status"]) == (
        world.dps_unit,
        world.nav_office,
        "draft",
    )


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "cursor=not-a-cursor", "status=open"])
async def test_list_rejects_bad_parameters(client, world: World, query: str) -> None:
    response = await client.get(f"{DPS}?{query}", headers=world.clinician.headers)
    assert_problem(response, 422)


async def test_search_finds_only_plans_in_scope(client, world: World) -> None:
    first = await create_plan(client, world, status="active")
    await set_status(client, world.clinician, first, "closed")
    second = await create_plan(client, world, status="draft")
    body = {"nid": world.nid}

    for actor, url in ((world.clinician, DPS), (world.advisor, NAV)):
        response = await client.post(f"{url}/search", json=body, headers=actor.headers)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [(p["id"], p["status"]) for p in items] == [
            (second["id"], "draft"),
            (first["id"], "closed"),
        ]

    for actor, url in ((world.other_clinician, DPS), (world.other_advisor, NAV)):
        response = await client.post(f"{url}/search", json=body, headers=actor.headers)
        assert response.status_code == 200
        assert response.json() == {"items": []}
        unseen = await client.get(f"{url}/{second['id']}", headers=actor.headers)
        assert_problem(unseen, 404)

    unknown = await client.post(
        f"{DPS}/search", json={"nid": make_nid()}, headers=world.clinician.headers
    )
    assert unknown.json() == {"items": []}


# --- the patient's plan --------------------------------------------------------------------


async def test_patient_reads_own_plan(client, world: World) -> None:
    plan = await create_plan(client, world, status="active", main_goal="Studere igjen")
    await add_goal(client, world.clinician, plan["id"], "treatment", title="Sove bedre")
    proposal = await propose_goal(client, world.patient, "education", "Fagbrev")

    response = await client.get("/api/v1/patient/plan", headers=world.patient.headers)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    mine = response.json()
    assert mine["id"] == plan["id"]
    assert mine["main_goal"] == "Studere igjen"
    assert [(g["title"], g["status"]) for g in mine["goals"]] == [
        ("Sove bedre", "active"),
        ("Fagbrev", "proposed"),
    ]
    assert mine["goals"][1]["id"] == proposal["id"]
    # The patient sees who is on the team, not their identifiers.
    assert mine["team"] == [
        {
            "name": world.clinician.name,
            "role": "clinician",
            "org": world.dps_unit,
            "side": "dps",
            "coordinator": True,
        }
    ]
    assert "patient" not in mine

    nobody = await client.get("/api/v1/patient/plan", headers=world.other_patient.headers)
    assert_problem(nobody, 404)


async def test_patient_sees_the_open_plan_after_a_closed_one(client, world: World) -> None:
    first = await create_plan(client, world, status="active")
    await set_status(client, world.clinician, first, "closed")
    closed_view = await read_patient_plan(client, world.patient)
    assert (closed_view["id"], closed_view["status"]) == (first["id"], "closed")
    second = await create_plan(client, world, status="draft")
    mine = await read_patient_plan(client, world.patient)
    assert (mine["id"], mine["status"]) == (second["id"], "draft")


async def test_a_plan_is_created_only_in_the_callers_own_unit(client, world: World) -> None:
    body = {
        "patient": {"nid": world.nid, "name": "Ola Pasient"},
        "dps_unit": "dps-someone-else",
        "nav_office": world.nav_office,
        "title": "Plan",
    }
    response = await client.post("/api/v1/dps/plans", json=body, headers=world.clinician.headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body["dps_unit"] = world.dps_unit
    body["nav_office"] = "nav-someone-else"
    response = await client.post("/api/v1/nav/plans", json=body, headers=world.advisor.headers)
    assert response.status_code == 403
    found = await client.post(
        "/api/v1/dps/plans/search", json={"nid": world.nid}, headers=world.clinician.headers
    )
    assert found.json()["items"] == []
