"""A goal's notes are bounded in every view of it (the newest 20, with ``notes_total``) and paged
in full by ``GET .../goals/{goal_id}/notes``, under the same visibility rules: internal notes
for the writing side only, notes on treatment goals for NAV only with consent to them."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.domain_helpers import (
    add_goal,
    add_note,
    all_pages,
    assert_problem,
    plan_for_new_patient,
    plan_url,
    read_patient_plan,
    read_plan,
)
from tests.factories import Actor, World, create_plan

IN_VIEW = 20


async def _goal_with_notes(
    client: httpx.AsyncClient, world: World
) -> tuple[str, str, list[tuple[str, str, str]]]:
    """A work goal (NAV's) with 24 shared notes from both sides, then 3 internal DPS notes and
    2 internal NAV notes among the newest: (plan, goal, [(note id, author side, visibility)]
    oldest first)."""
    plan_id = str((await create_plan(client, world))["id"])
    goal_id = (await add_goal(client, world.advisor, plan_id, "work"))["id"]
    written: list[tuple[str, str, str]] = []
    plan = [(world.advisor if n % 2 else world.clinician, "shared") for n in range(24)]
    plan += [(world.clinician, "internal")] * 3 + [(world.advisor, "internal")] * 2
    plan.insert(22, (world.clinician, "internal"))  # one internal note between shared ones
    for n, (actor, visibility) in enumerate(plan):
        note = await add_note(client, actor, plan_id, goal_id, f"Notat {n}", visibility)
        side = "dps" if actor is world.clinician else "nav"
        written.append((note["id"], side, visibility))
    return plan_id, goal_id, written


def _visible_to(side: str, written: list[tuple[str, str, str]]) -> list[str]:
    return [i for i, author, vis in written if vis == "shared" or author == side]


def _goal_in(view: dict[str, Any], goal_id: str) -> dict[str, Any]:
    (goal,) = [g for g in view["goals"] if g["id"] == goal_id]
    return goal


async def test_every_view_embeds_the_newest_20_notes_oldest_first_with_the_total(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id, goal_id, written = await _goal_with_notes(client, world)
    views = {
        "dps": await read_plan(client, world.clinician, plan_id),
        "nav": await read_plan(client, world.advisor, plan_id),
        "patient": await read_patient_plan(client, world.patient),
    }
    for side, view in views.items():
        visible = _visible_to(side, written)
        goal = _goal_in(view, goal_id)
        assert goal["notes_total"] == len(visible), side
        assert [n["id"] for n in goal["notes"]] == visible[-IN_VIEW:], side
    assert {side: len(_visible_to(side, written)) for side in views} == {
        "dps": 28, "nav": 26, "patient": 24,
    }  # fmt: skip
    # The goal read alone is bounded alike.
    one = await client.get(f"{plan_url(world.advisor, plan_id)}/goals/{goal_id}",
                           headers=world.advisor.headers)  # fmt: skip
    assert one.json()["notes_total"] == 26
    assert [n["id"] for n in one.json()["notes"]] == _visible_to("nav", written)[-IN_VIEW:]


async def test_the_notes_route_pages_every_note_the_caller_may_see_newest_first(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id, goal_id, written = await _goal_with_notes(client, world)
    urls: dict[str, tuple[Actor, str]] = {
        "dps": (world.clinician, f"{plan_url(world.clinician, plan_id)}/goals/{goal_id}/notes"),
        "nav": (world.advisor, f"{plan_url(world.advisor, plan_id)}/goals/{goal_id}/notes"),
        "patient": (world.patient, f"/api/v1/patient/plan/goals/{goal_id}/notes"),
    }
    for side, (actor, url) in urls.items():
        pages = await all_pages(client, actor, url, limit=7)
        assert [len(p) for p in pages][:-1] == [7] * (len(pages) - 1), side
        paged = [n["id"] for page in pages for n in page]
        assert paged == _visible_to(side, written)[::-1], side
        everything = await client.get(url, params={"limit": "200"}, headers=actor.headers)
        assert [n["id"] for n in everything.json()["items"]] == paged
        assert everything.json()["next_cursor"] is None
    actor, url = urls["dps"]
    for limit in ("0", "201"):
        too_many = await client.get(url, params={"limit": limit}, headers=actor.headers)
        assert_problem(too_many, 422)
    foreign = await client.get(url, params={"cursor": "bm90IG91cnM"}, headers=actor.headers)
    assert_problem(foreign, 422)


async def test_a_note_taken_back_leaves_the_count_and_the_pages(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id, goal_id, written = await _goal_with_notes(client, world)
    newest_shared, author, _ = [w for w in written if w[2] == "shared"][-1]
    writer = world.clinician if author == "dps" else world.advisor
    taken = await client.post(
        f"{plan_url(writer, plan_id)}/goals/{goal_id}/notes/{newest_shared}/entered-in-error",
        json={"reason": "Feil mål"}, headers=writer.headers,
    )  # fmt: skip
    assert taken.status_code == 200, taken.text
    url = f"{plan_url(world.clinician, plan_id)}/goals/{goal_id}/notes"
    remaining = [i for i in _visible_to("dps", written) if i != newest_shared]
    goal = _goal_in(await read_plan(client, world.clinician, plan_id), goal_id)
    assert goal["notes_total"] == len(remaining) == 27
    assert [n["id"] for n in goal["notes"]] == remaining[-IN_VIEW:]
    pages = await all_pages(client, world.clinician, url, limit=200)
    assert [n["id"] for page in pages for n in page] == remaining[::-1]


async def test_nav_reads_notes_on_a_treatment_goal_only_with_consent_to_them(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = str((await create_plan(client, world))["id"])
    goal_id = (await add_goal(client, world.clinician, plan_id, "treatment"))["id"]
    for n in range(3):
        await add_note(client, world.clinician, plan_id, goal_id, f"Behandling {n}")
    url = f"{plan_url(world.advisor, plan_id)}/goals/{goal_id}/notes"

    hidden = await client.get(url, headers=world.advisor.headers)
    assert_problem(hidden, 404)

    async def grant(scopes: list[str]) -> None:
        response = await client.post(
            "/api/v1/patient/consents", json={"scopes": scopes}, headers=world.patient.headers
        )
        assert response.status_code == 201, response.text

    await grant(["treatment_goals"])  # the goal, not its notes
    goal_only = await client.get(url, headers=world.advisor.headers)
    assert goal_only.status_code == 200, goal_only.text
    assert goal_only.json() == {"items": [], "next_cursor": None}
    goal = _goal_in(await read_plan(client, world.advisor, plan_id), goal_id)
    assert (goal["notes"], goal["notes_total"]) == ([], 0)

    await grant(["treatment_goals", "treatment_notes"])
    with_notes = await client.get(url, headers=world.advisor.headers)
    assert [n["text"] for n in with_notes.json()["items"]] == [f"Behandling {n}" for n in (2, 1, 0)]
    goal = _goal_in(await read_plan(client, world.advisor, plan_id), goal_id)
    assert goal["notes_total"] == 3


async def test_an_empty_page_still_says_404_for_a_goal_out_of_reach(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = str((await create_plan(client, world))["id"])
    goal_id = (await add_goal(client, world.clinician, plan_id, "treatment"))["id"]
    base = plan_url(world.clinician, plan_id)
    empty = await client.get(f"{base}/goals/{goal_id}/notes", headers=world.clinician.headers)
    assert empty.json() == {"items": [], "next_cursor": None}
    other = str((await plan_for_new_patient(client, world))["id"])
    elsewhere = f"{plan_url(world.clinician, other)}/goals/{goal_id}/notes"
    assert_problem(await client.get(elsewhere, headers=world.clinician.headers), 404)
    outsider = await client.get(f"{base}/goals/{goal_id}/notes",
                                headers=world.other_clinician.headers)  # fmt: skip
    assert_problem(outsider, 404)


async def test_the_pages_and_fhir_show_the_newest_20_and_say_how_many_more(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id, goal_id, written = await _goal_with_notes(client, world)
    html = (
        await client.get(f"/ui/plans/{plan_id}",
                         headers={"Cookie": f"carework_ui={world.clinician.token}"})
    ).text  # fmt: skip
    card = html[html.index(f'id="goal-{goal_id}"') :]
    card = card[: card.index("</article>")]
    shown = re.findall(r"</span> (Notat \d+)", card)
    visible = [f"Notat {n}" for n, (_, side, vis) in enumerate(written)
               if vis == "shared" or side == "dps"]  # fmt: skip
    assert shown == visible[-IN_VIEW:]
    assert "8 eldre notater vises ikke her" in card

    care_plan = await client.get(f"/fhir/r4/CarePlan/{plan_id}", headers=world.clinician.headers)
    (goal,) = [r for r in care_plan.json()["contained"] if r["id"] == goal_id]
    assert len(goal["note"]) == IN_VIEW
