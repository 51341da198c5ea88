"""Progress notes (who reads which) and the care team (who names whom, and that being named
brings a plan into scope)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.domain_helpers import (
    add_goal,
    add_note,
    assert_created,
    assert_problem,
    patch,
    plan_url,
    read_patient_plan,
    read_plan,
)
from tests.factories import Actor, TokenMaker, World, create_plan


def notes_in(view: dict[str, Any], goal_id: str) -> list[str] | None:
    """The note texts a plan view shows on a goal, or None when the goal is not in the view."""
    for goal in view["goals"]:
        if goal["id"] == goal_id:
            return [n["text"] for n in goal["notes"]]
    return None


async def goal_notes(client, actor: Actor, plan_id: str, goal_id: str) -> list[str]:
    response = await client.get(
        f"{plan_url(actor, plan_id)}/goals/{goal_id}", headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return [n["text"] for n in response.json()["notes"]]


async def all_views(client, world: World, plan_id: str) -> dict[str, dict[str, Any]]:
    return {
        "dps": await read_plan(client, world.clinician, plan_id),
        "nav": await read_plan(client, world.advisor, plan_id),
        "patient": await read_patient_plan(client, world.patient),
    }


# --- notes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("writer", "side"), [("clinician", "dps"), ("advisor", "nav")])
@pytest.mark.parametrize("domain", ["work", "education"])
async def test_internal_note_reaches_only_the_writing_side(
    client, world: World, writer: str, side: str, domain: str
) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.advisor, plan["id"], domain)
    author: Actor = getattr(world, writer)
    note = await add_note(client, author, plan["id"], goal["id"], "Kun for oss", "internal")
    assert (note["visibility"], note["author_side"], note["goal_id"]) == (
        "internal",
        side,
        goal["id"],
    )
    assert (note["author_name"], note["author_role"]) == (author.name, author.role)

    views = await all_views(client, world, plan["id"])
    for view_side, view in views.items():
        expected = ["Kun for oss"] if view_side == side else []
        assert notes_in(view, goal["id"]) == expected, view_side
    reader = world.advisor if side == "nav" else world.clinician
    outsider = world.clinician if side == "nav" else world.advisor
    assert await goal_notes(client, reader, plan["id"], goal["id"]) == ["Kun for oss"]
    assert await goal_notes(client, outsider, plan["id"], goal["id"]) == []


async def test_internal_dps_note_on_a_treatment_goal_stays_at_dps(client, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment")
    await add_note(client, world.clinician, plan["id"], goal["id"], "Journalnotat", "internal")
    await add_note(client, world.clinician, plan["id"], goal["id"], "Fin fremgang", "shared")
    views = await all_views(client, world, plan["id"])
    assert notes_in(views["dps"], goal["id"]) == ["Journalnotat", "Fin fremgang"]
    assert notes_in(views["patient"], goal["id"]) == ["Fin fremgang"]
    assert notes_in(views["nav"], goal["id"]) is None  # no treatment goal for NAV at all


@pytest.mark.parametrize("writer", ["clinician", "advisor"])
async def test_shared_note_reaches_everyone_who_sees_the_goal(
    client, world: World, writer: str
) -> None:
    plan = await create_plan(client, world)
    work = await add_goal(client, world.advisor, plan["id"], "work")
    author: Actor = getattr(world, writer)
    await add_note(client, author, plan["id"], work["id"], "Første uke", "shared")
    await add_note(client, author, plan["id"], work["id"], "Andre uke", "shared")
    for side, view in (await all_views(client, world, plan["id"])).items():
        assert notes_in(view, work["id"]) == ["Første uke", "Andre uke"], side
    for reader in (world.clinician, world.advisor):
        assert await goal_notes(client, reader, plan["id"], work["id"]) == [
            "Første uke",
            "Andre uke",
        ]


async def test_patient_writes_a_shared_note(client, world: World) -> None:
    plan = await create_plan(client, world)
    work = await add_goal(client, world.advisor, plan["id"], "work")
    treatment = await add_goal(client, world.clinician, plan["id"], "treatment")
    notes = {}
    for goal in (work, treatment):
        response = await client.post(
            f"/api/v1/patient/plan/goals/{goal['id']}/notes",
            json={"text": f"Fra meg om {goal['domain']}"},
            headers=world.patient.headers,
        )
        notes[goal["domain"]] = assert_created(response)
    note = notes["work"]
    assert (note["visibility"], note["author_side"], note["author_role"]) == (
        "shared",
        "patient",
        "patient",
    )
    assert (note["author_name"], note["goal_id"]) == (world.patient.name, work["id"])

    views = await all_views(client, world, plan["id"])
    for side in ("dps", "nav", "patient"):
        assert notes_in(views[side], work["id"]) == ["Fra meg om work"], side
    assert notes_in(views["dps"], treatment["id"]) == ["Fra meg om treatment"]
    assert notes_in(views["patient"], treatment["id"]) == ["Fra meg om treatment"]
    assert notes_in(views["nav"], treatment["id"]) is None


async def test_patient_cannot_write_an_internal_note(client, world: World) -> None:
    plan = await create_plan(client, world)
    work = await add_goal(client, world.advisor, plan["id"], "work")
    response = await client.post(
        f"/api/v1/patient/plan/goals/{work['id']}/notes",
        json={"text": "Hemmelig", "visibility": "internal"},
        headers=world.patient.headers,
    )
    problem = assert_problem(response, 422)
    assert any(e["loc"][-1] == "visibility" for e in problem["errors"])
    assert await goal_notes(client, world.advisor, plan["id"], work["id"]) == []


async def test_notes_only_on_goals_in_scope(client, world: World) -> None:
    plan = await create_plan(client, world)
    work = await add_goal(client, world.advisor, plan["id"], "work")
    body = {"text": "Hei", "visibility": "shared"}
    for outsider in (world.other_clinician, world.other_advisor):
        response = await client.post(
            f"{plan_url(outsider, plan['id'])}/goals/{work['id']}/notes",
            json=body,
            headers=outsider.headers,
        )
        assert_problem(response, 404)
    # Another patient cannot write on this patient's goal through their own plan either.
    other_world_plan = await create_plan(
        client, world, patient={"nid": world.other_patient.pid, "name": "Other Patient"}
    )
    assert other_world_plan["id"] != plan["id"]
    response = await client.post(
        f"/api/v1/patient/plan/goals/{work['id']}/notes",
        json={"text": "Feil plan"},
        headers=world.other_patient.headers,
    )
    assert_problem(response, 404)
    assert await goal_notes(client, world.advisor, plan["id"], work["id"]) == []


# --- team -------------------------------------------------------------------------------------


def member(actor: Actor, role: str | None = None) -> dict[str, Any]:
    return {"sub": actor.sub, "name": actor.name, "role": role or actor.role, "org": actor.org}


@pytest.mark.parametrize(
    ("adder", "added", "side"),
    [("clinician", "other_clinician", "dps"), ("advisor", "other_advisor", "nav")],
)
async def test_each_side_adds_its_own_people(
    client, world: World, adder: str, added: str, side: str
) -> None:
    plan = await create_plan(client, world)
    actor: Actor = getattr(world, adder)
    newcomer: Actor = getattr(world, added)
    response = await client.post(
        f"{plan_url(actor, plan['id'])}/team", json=member(newcomer), headers=actor.headers
    )
    created = assert_created(response)
    assert (created["sub"], created["name"], created["role"], created["org"], created["side"]) == (
        newcomer.sub,
        newcomer.name,
        newcomer.role,
        newcomer.org,
        side,
    )
    assert created["coordinator"] is False
    team = (await read_plan(client, world.clinician, plan["id"]))["team"]
    assert [(m["sub"], m["side"]) for m in team] == [
        (world.clinician.sub, "dps"),
        (newcomer.sub, side),
    ]

    duplicate = await client.post(
        f"{plan_url(actor, plan['id'])}/team", json=member(newcomer), headers=actor.headers
    )
    assert_problem(duplicate, 409)
    assert len((await read_plan(client, world.clinician, plan["id"]))["team"]) == 2


async def test_the_creator_cannot_be_added_twice(client, world: World) -> None:
    plan = await create_plan(client, world)
    response = await client.post(
        f"{plan_url(world.clinician, plan['id'])}/team",
        json=member(world.clinician),
        headers=world.clinician.headers,
    )
    assert_problem(response, 409)


@pytest.mark.parametrize(
    ("adder", "added", "role"),
    [("clinician", "advisor", "nav_advisor"), ("advisor", "clinician", "clinician")],
)
async def test_a_side_cannot_add_the_other_sides_people(
    client, world: World, adder: str, added: str, role: str
) -> None:
    plan = await create_plan(client, world)
    actor: Actor = getattr(world, adder)
    response = await client.post(
        f"{plan_url(actor, plan['id'])}/team",
        json=member(getattr(world, added), role),
        headers=actor.headers,
    )
    assert_problem(response, 403)
    assert len((await read_plan(client, world.clinician, plan["id"]))["team"]) == 1


@pytest.mark.parametrize("role", ["patient", "auditor", "superuser"])
async def test_only_clinicians_and_advisors_join_a_team(client, world: World, role: str) -> None:
    plan = await create_plan(client, world)
    response = await client.post(
        f"{plan_url(world.clinician, plan['id'])}/team",
        json={"sub": "x", "name": "X", "role": role, "org": world.dps_unit},
        headers=world.clinician.headers,
    )
    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("adder", "outsider_name", "own_domain"),
    [("clinician", "other_clinician", "treatment"), ("advisor", "other_advisor", "work")],
)
async def test_a_named_member_of_another_unit_gains_scope(
    client, world: World, adder: str, outsider_name: str, own_domain: str
) -> None:
    plan = await create_plan(client, world)
    pid = plan["id"]
    outsider: Actor = getattr(world, outsider_name)
    url = plan_url(outsider, pid)
    goal_body = {"domain": own_domain, "title": "Utenfra"}

    # Before being named: the plan does not exist for them.
    assert_problem(await client.get(url, headers=outsider.headers), 404)
    assert_problem(await client.post(f"{url}/goals", json=goal_body, headers=outsider.headers), 404)
    search = await client.post(
        f"{url.rsplit('/', 1)[0]}/search", json={"nid": world.nid}, headers=outsider.headers
    )
    assert search.json() == {"items": []}

    actor: Actor = getattr(world, adder)
    added = await client.post(
        f"{plan_url(actor, pid)}/team", json=member(outsider), headers=actor.headers
    )
    assert_created(added)

    # Named on the team: they read and write the plan.
    seen = await client.get(url, headers=outsider.headers)
    assert seen.status_code == 200, seen.text
    assert seen.json()["id"] == pid
    goal = await add_goal(client, outsider, pid, own_domain, title="Utenfra")
    note = await add_note(client, outsider, pid, goal["id"], "Notat utenfra", "shared")
    assert note["author_name"] == outsider.name
    changed = await patch(client, outsider, url, plan["version"], {"title": "Felles plan"})
    assert changed.status_code == 200, changed.text
    search = await client.post(
        f"{url.rsplit('/', 1)[0]}/search", json={"nid": world.nid}, headers=outsider.headers
    )
    assert [p["id"] for p in search.json()["items"]] == [pid]
    listed = await client.get(url.rsplit("/", 1)[0], headers=outsider.headers)
    assert pid in [p["id"] for p in listed.json()["items"]]

    # The home side sees what they wrote.
    home = await read_plan(client, world.clinician, pid)
    assert home["title"] == "Felles plan"
    assert notes_in(home, goal["id"]) == ["Notat utenfra"]


async def test_team_scope_belongs_to_the_named_side(
    client, world: World, tokens: TokenMaker
) -> None:
    """A DPS member's sub does not open the plan to a NAV token that carries the same sub."""
    plan = await create_plan(client, world)
    named = world.other_clinician
    await client.post(
        f"{plan_url(world.clinician, plan['id'])}/team",
        json=member(named),
        headers=world.clinician.headers,
    )
    impostor = tokens.actor("nav_advisor", org=world.other_advisor.org, sub=named.sub)
    response = await client.get(plan_url(impostor, plan["id"]), headers=impostor.headers)
    assert_problem(response, 404)
    assert (await client.get(plan_url(named, plan["id"]), headers=named.headers)).status_code == 200
