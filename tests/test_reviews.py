"""Reviews: the plan period and cadence, evaluations with a finding per goal (each side assesses
its own goals; NAV sees treatment findings only with consent), a goal's achievement history,
overdue reviews, and the status check an EHR makes when a chart opens."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.domain_helpers import (
    add_goal,
    all_pages,
    assert_problem,
    patch,
    plan_for_new_patient,
    plan_url,
    read_plan,
)
from tests.factories import Actor, TokenMaker, World, create_plan, make_nid

TODAY = date.today()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


async def evaluate(
    client: httpx.AsyncClient,
    actor: Actor,
    plan_id: str,
    findings: list[tuple[str, str]],
    *,
    held_on: str | None = None,
    summary: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "held_on": held_on or TODAY.isoformat(),
        "goals": [
            {"goal_id": goal_id, "achievement": achievement, "next_step": f"Neste: {achievement}"}
            for goal_id, achievement in findings
        ],
    }
    if summary is not None:
        body["summary"] = summary
    return await client.post(
        f"{plan_url(actor, plan_id)}/evaluations", json=body, headers=actor.headers
    )


async def evaluations(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> list[Any]:
    response = await client.get(f"{plan_url(actor, plan_id)}/evaluations", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def achievements(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, goal_id: str
) -> httpx.Response:
    return await client.get(
        f"{plan_url(actor, plan_id)}/goals/{goal_id}/achievements", headers=actor.headers
    )


async def overdue(client: httpx.AsyncClient, actor: Actor, *, mine: bool = False) -> set[str]:
    side = "dps" if actor.role == "clinician" else "nav"
    response = await client.get(
        f"/api/v1/{side}/reviews/overdue",
        params={"mine": str(mine).lower()},
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def grant_consent(client: httpx.AsyncClient, world: World, plan_id: str) -> None:
    response = await client.post(
        f"/api/v1/dps/plans/{plan_id}/consents",
        json={"scopes": ["treatment_goals", "treatment_notes"], "evidence": "written"},
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text


# --- plan period and cadence ---------------------------------------------------------------


async def test_period_and_cadence_are_stored_and_checked(client, world: World) -> None:
    plan = await create_plan(
        client, world, period_start="2030-01-01", period_end="2030-12-31", review_interval_days=90
    )
    assert (plan["period_start"], plan["period_end"], plan["review_interval_days"]) == (
        "2030-01-01",
        "2030-12-31",
        90,
    )
    url = plan_url(world.advisor, plan["id"])
    # Against the stored start, not only within the body.
    assert_problem(await patch(client, world.advisor, url, 1, {"period_end": "2029-12-31"}), 422)
    assert_problem(
        await patch(
            client,
            world.advisor,
            url,
            1,
            {"period_start": "2030-02-01", "period_end": "2030-01-01"},
        ),
        422,
    )
    for interval in (0, 731):
        assert_problem(
            await patch(client, world.advisor, url, 1, {"review_interval_days": interval}), 422
        )
    response = await patch(
        client, world.advisor, url, 1, {"period_end": None, "review_interval_days": 730}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period_end"], body["review_interval_days"], body["version"]) == (None, 730, 2)


async def test_a_cadence_schedules_the_first_review(client, world: World) -> None:
    """Starting a cadence with no review scheduled puts the first one on the calendar, so the
    plan can become overdue; a date already set, or sent with it, is kept."""
    assert (await create_plan(client, world, review_interval_days=30))["next_review_date"] == days(
        30
    )
    later = await plan_for_new_patient(client, world, period_start="2030-01-01")
    url = plan_url(world.clinician, later["id"])
    response = await patch(client, world.clinician, url, 1, {"review_interval_days": 90})
    assert response.json()["next_review_date"] == "2030-04-01"
    started = await plan_for_new_patient(client, world, period_start=days(-400))
    url = plan_url(world.clinician, started["id"])
    response = await patch(client, world.clinician, url, 1, {"review_interval_days": 60})
    assert response.json()["next_review_date"] == days(60), "not a review due a year ago"

    scheduled = await plan_for_new_patient(client, world)
    url = plan_url(world.clinician, scheduled["id"])
    await patch(client, world.clinician, url, 1, {"next_review_date": days(10)})
    response = await patch(client, world.clinician, url, 2, {"review_interval_days": 30})
    assert response.json()["next_review_date"] == days(10)
    unscheduled = await plan_for_new_patient(client, world)
    url = plan_url(world.clinician, unscheduled["id"])
    body = {"review_interval_days": 30, "next_review_date": days(3)}
    assert (await patch(client, world.clinician, url, 1, body)).json()["next_review_date"] == days(
        3
    )


async def test_a_period_that_ends_before_it_starts_is_refused_on_create(
    client, world: World
) -> None:
    body = {
        "patient": {"nid": world.nid, "name": "Ola Pasient"},
        "nav_office": world.nav_office,
        "title": "Plan",
        "period_start": "2030-02-01",
        "period_end": "2030-01-31",
    }
    response = await client.post("/api/v1/dps/plans", json=body, headers=world.clinician.headers)
    assert_problem(response, 422)
    search = await client.post(
        "/api/v1/dps/plans/search", json={"nid": world.nid}, headers=world.clinician.headers
    )
    assert search.json()["items"] == []


# --- evaluations ---------------------------------------------------------------------------


async def test_an_evaluation_moves_the_schedule_and_grows_the_history(client, world: World) -> None:
    clinician = world.clinician
    plan = await create_plan(client, world, review_interval_days=30)
    pid = plan["id"]
    goal = await add_goal(client, clinician, pid, "treatment")
    response = await patch(
        client, clinician, plan_url(clinician, pid), 1, {"next_review_date": days(-3)}
    )
    assert response.json()["review_overdue"] is True
    assert pid in await overdue(client, clinician)

    response = await evaluate(
        client, clinician, pid, [(goal["id"], "improving")], held_on=days(-1), summary="Bedre"
    )
    assert response.status_code == 201, response.text
    first = response.json()
    assert (first["held_on"], first["due_on"], first["summary"]) == (days(-1), days(-3), "Bedre")
    assert (first["recorded_by"], first["recorded_by_side"]) == (clinician.name, "dps")
    assert first["goals"] == [
        {"goal_id": goal["id"], "achievement": "improving", "next_step": "Neste: improving"}
    ]

    after = await read_plan(client, clinician, pid)
    assert (after["last_reviewed_on"], after["next_review_date"]) == (days(-1), days(29))
    assert (after["review_overdue"], after["version"]) == (False, 3)
    (seen_goal,) = after["goals"]
    assert (seen_goal["achievement_status"], seen_goal["version"]) == ("improving", 2)
    assert pid not in await overdue(client, clinician)

    second = await evaluate(client, clinician, pid, [(goal["id"], "achieved")])
    assert second.status_code == 201, second.text
    assert second.json()["due_on"] == days(29)
    assert (await read_plan(client, clinician, pid))["next_review_date"] == days(30)

    history = await achievements(client, clinician, pid, goal["id"])
    assert history.status_code == 200, history.text
    assert [
        (h["held_on"], h["achievement"], h["recorded_by"]) for h in history.json()["items"]
    ] == [
        (days(-1), "improving", clinician.name),
        (TODAY.isoformat(), "achieved", clinician.name),
    ]
    listed = await evaluations(client, clinician, pid)
    assert [e["id"] for e in listed] == [second.json()["id"], first["id"]]  # newest first

    feed = await client.get(f"{plan_url(clinician, pid)}/history", headers=clinician.headers)
    events = [(e["type"], e["data"].get("changed")) for e in feed.json()["items"]]
    assert events.count(("plan.reviewed", None)) == 2
    assert events.count(("goal.updated", ["achievement_status"])) == 2


async def test_evaluations_and_achievements_come_a_page_at_a_time(client, world: World) -> None:
    clinician = world.clinician
    pid = (await create_plan(client, world))["id"]
    goal = await add_goal(client, clinician, pid, "treatment")
    for ago, achievement in ((20, "in-progress"), (5, "achieved"), (10, "improving")):
        response = await evaluate(
            client, clinician, pid, [(goal["id"], achievement)], held_on=days(-ago)
        )
        assert response.status_code == 201, response.text

    pages = await all_pages(client, clinician, f"{plan_url(clinician, pid)}/evaluations", limit=2)
    assert [len(page) for page in pages] == [2, 1]
    listed = [item for page in pages for item in page]
    assert [e["held_on"] for e in listed] == [days(-5), days(-10), days(-20)], "newest first"
    assert [e["goals"][0]["achievement"] for e in listed] == [
        "achieved",
        "improving",
        "in-progress",
    ]

    url = f"{plan_url(clinician, pid)}/goals/{goal['id']}/achievements"
    pages = await all_pages(client, clinician, url, limit=1)
    assert [[a["held_on"] for a in page] for page in pages] == [
        [days(-20)],
        [days(-10)],
        [days(-5)],
    ], "oldest first"


async def test_without_a_cadence_a_met_due_date_is_cleared(client, world: World) -> None:
    plan = await create_plan(client, world)
    url = plan_url(world.clinician, plan["id"])
    await patch(client, world.clinician, url, 1, {"next_review_date": days(-2)})
    assert (await evaluate(client, world.clinician, plan["id"], [])).status_code == 201
    after = await read_plan(client, world.clinician, plan["id"])
    assert (after["next_review_date"], after["last_reviewed_on"]) == (None, TODAY.isoformat())


async def test_each_side_assesses_only_its_own_goals(client, world: World) -> None:
    plan = await create_plan(client, world)
    pid = plan["id"]
    treatment = await add_goal(client, world.clinician, pid, "treatment")
    work = await add_goal(client, world.advisor, pid, "work")

    # Without consent NAV does not see the treatment goal at all.
    assert_problem(await evaluate(client, world.advisor, pid, [(treatment["id"], "achieved")]), 404)
    await grant_consent(client, world, pid)
    assert_problem(await evaluate(client, world.advisor, pid, [(treatment["id"], "achieved")]), 403)
    assert_problem(await evaluate(client, world.clinician, pid, [(work["id"], "achieved")]), 403)
    # A mixed review is refused as a whole: nothing of it is stored.
    mixed = [(work["id"], "improving"), (treatment["id"], "achieved")]
    assert_problem(await evaluate(client, world.advisor, pid, mixed), 403)
    assert await evaluations(client, world.clinician, pid) == []
    after = await read_plan(client, world.clinician, pid)
    assert {g["achievement_status"] for g in after["goals"]} == {None}
    assert after["version"] == 1


async def test_nav_sees_treatment_findings_only_with_consent(client, world: World) -> None:
    plan = await create_plan(client, world)
    pid = plan["id"]
    treatment = await add_goal(client, world.clinician, pid, "treatment")
    work = await add_goal(client, world.advisor, pid, "work")
    dps_review = await evaluate(
        client, world.clinician, pid, [(treatment["id"], "worsening")], summary="Mer angst"
    )
    assert dps_review.status_code == 201, dps_review.text
    nav_review = await evaluate(
        client, world.advisor, pid, [(work["id"], "in-progress")], summary="Praksisplass"
    )
    assert nav_review.status_code == 201, nav_review.text

    by_side = {e["recorded_by_side"]: e for e in await evaluations(client, world.advisor, pid)}
    assert (by_side["dps"]["goals"], by_side["dps"]["summary"]) == ([], None)
    assert [g["goal_id"] for g in by_side["nav"]["goals"]] == [work["id"]]
    assert by_side["nav"]["summary"] == "Praksisplass"
    assert_problem(await achievements(client, world.advisor, pid, treatment["id"]), 404)

    dps_view = {e["recorded_by_side"]: e for e in await evaluations(client, world.clinician, pid)}
    assert dps_view["dps"]["summary"] == "Mer angst"
    assert [g["achievement"] for g in dps_view["dps"]["goals"]] == ["worsening"]

    await grant_consent(client, world, pid)
    by_side = {e["recorded_by_side"]: e for e in await evaluations(client, world.advisor, pid)}
    assert [g["achievement"] for g in by_side["dps"]["goals"]] == ["worsening"]
    assert by_side["dps"]["summary"] == "Mer angst"
    history = await achievements(client, world.advisor, pid, treatment["id"])
    assert [h["achievement"] for h in history.json()["items"]] == ["worsening"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"held_on": days(1)}, 422),
        ({"goals": "twice"}, 422),
        (
            {
                "goals": [
                    {"goal_id": "00000000-0000-4000-8000-000000000000", "achievement": "achieved"}
                ]
            },
            404,
        ),
        ({"goals": "bad-code"}, 422),
        ({"extra": 1}, 422),
    ],
)
async def test_evaluation_rules(client, world: World, change: dict[str, Any], status: int) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment")
    body: dict[str, Any] = {
        "held_on": TODAY.isoformat(),
        "goals": [{"goal_id": goal["id"], "achievement": "achieved"}],
    }
    if change.get("goals") == "twice":
        change = {"goals": body["goals"] * 2}
    elif change.get("goals") == "bad-code":
        change = {"goals": [{"goal_id": goal["id"], "achievement": "done"}]}
    response = await client.post(
        f"{plan_url(world.clinician, plan['id'])}/evaluations",
        json=body | change,
        headers=world.clinician.headers,
    )
    assert_problem(response, status)
    assert await evaluations(client, world.clinician, plan["id"]) == []


async def test_a_finished_plan_is_not_reviewed(client, world: World) -> None:
    plan = await create_plan(client, world)
    url = plan_url(world.clinician, plan["id"])
    assert (
        await patch(client, world.clinician, url, 1, {"status": "completed"})
    ).status_code == 200
    assert_problem(await evaluate(client, world.clinician, plan["id"], []), 409)


async def test_a_goal_entered_in_error_is_not_assessed(client, world: World) -> None:
    plan = await create_plan(client, world)
    pid = plan["id"]
    goal = await add_goal(client, world.clinician, pid, "treatment")
    assert (
        await evaluate(client, world.clinician, pid, [(goal["id"], "improving")])
    ).status_code == 201
    response = await client.post(
        f"{plan_url(world.clinician, pid)}/goals/{goal['id']}/entered-in-error",
        json={"reason": "Feil pasient"},
        headers={**world.clinician.headers, "If-Match": '"2"'},
    )
    assert response.status_code == 200, response.text
    assert_problem(await evaluate(client, world.clinician, pid, [(goal["id"], "achieved")]), 404)
    assert_problem(await achievements(client, world.clinician, pid, goal["id"]), 404)
    (listed,) = await evaluations(client, world.clinician, pid)
    assert listed["goals"] == []


# --- overdue reviews -----------------------------------------------------------------------


async def test_overdue_lists_open_plans_in_scope_and_mine_keeps_the_callers(
    client, world: World, tokens: TokenMaker
) -> None:
    colleague = tokens.actor("clinician", org=world.dps_unit, name="Kollega")
    mine = await plan_for_new_patient(client, world)
    body = {
        "patient": {"nid": make_nid(), "name": "Per"},
        "nav_office": world.nav_office,
        "title": "Kollegas plan",
        "status": "active",
    }
    response = await client.post("/api/v1/dps/plans", json=body, headers=colleague.headers)
    theirs = response.json()
    later = await plan_for_new_patient(client, world)
    finished = await plan_for_new_patient(client, world)
    for plan, actor, when in (
        (mine, world.clinician, -1),
        (theirs, colleague, -10),
        (later, world.clinician, 5),
        (finished, world.clinician, -1),
    ):
        response = await patch(
            client, actor, plan_url(actor, plan["id"]), 1, {"next_review_date": days(when)}
        )
        assert response.status_code == 200, response.text
    url = plan_url(world.clinician, finished["id"])
    assert (
        await patch(client, world.clinician, url, 2, {"status": "completed"})
    ).status_code == 200

    side_ids = await overdue(client, world.clinician)
    assert {mine["id"], theirs["id"]} <= side_ids
    assert not {later["id"], finished["id"]} & side_ids
    assert await overdue(client, world.clinician, mine=True) == {mine["id"]}
    assert await overdue(client, colleague, mine=True) == {theirs["id"]}
    assert {mine["id"], theirs["id"]} <= await overdue(client, world.advisor)
    assert await overdue(client, world.advisor, mine=True) == set()
    assert not {mine["id"], theirs["id"]} & await overdue(client, world.other_clinician)


# --- the EHR status check ------------------------------------------------------------------


async def status_of(client: httpx.AsyncClient, actor: Actor, nid: str) -> httpx.Response:
    side = "dps" if actor.role == "clinician" else "nav"
    return await client.post(
        f"/api/v1/{side}/plans/status", json={"nid": nid}, headers=actor.headers
    )


async def test_overdue_reviews_come_a_page_at_a_time_most_overdue_first(
    client, world: World
) -> None:
    plans = [await plan_for_new_patient(client, world) for _ in range(5)]
    for plan, late in zip(plans, (3, 9, 1, 9, 5), strict=True):
        url = plan_url(world.clinician, plan["id"])
        response = await patch(client, world.clinician, url, 1, {"next_review_date": days(-late)})
        assert response.status_code == 200, response.text
    seen: list[tuple[str, str]] = []
    cursor: str | None = None
    for expected_size in (2, 2, 1):
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        response = await client.get(
            "/api/v1/dps/reviews/overdue", params=params, headers=world.clinician.headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) == expected_size
        seen += [(item["next_review_date"], item["id"]) for item in page["items"]]
        cursor = page["next_cursor"]
    assert cursor is None
    assert seen == sorted(seen), "most overdue first, ties by id, across pages"
    assert {plan_id for _, plan_id in seen} == {plan["id"] for plan in plans}

    response = await client.get(
        "/api/v1/dps/reviews/overdue",
        params={"cursor": "nonsense"},
        headers=world.clinician.headers,
    )
    assert_problem(response, 422)


async def test_status_check_answers_for_plans_in_scope_only(
    client, world: World, tokens: TokenMaker
) -> None:
    plan = await create_plan(client, world)
    await add_goal(client, world.clinician, plan["id"], "treatment")
    latest = (await read_plan(client, world.clinician, plan["id"]))["goals"][0]["created_at"]

    for actor in (world.clinician, world.advisor):
        response = await status_of(client, actor, world.nid)
        assert response.status_code == 200, response.text
        found = response.json()
        assert set(found) == {"active_plan", "plan_id", "last_changed"}
        assert (found["active_plan"], found["plan_id"]) == (True, plan["id"])
        assert found["last_changed"] is not None
    # DPS sees the treatment goal's creation as the last change; NAV, without consent, does not.
    dps = (await status_of(client, world.clinician, world.nid)).json()["last_changed"]
    nav = (await status_of(client, world.advisor, world.nid)).json()["last_changed"]
    assert datetime.fromisoformat(dps) >= datetime.fromisoformat(latest)
    assert datetime.fromisoformat(nav) < datetime.fromisoformat(dps)

    nothing = {"active_plan": False, "plan_id": None, "last_changed": None}
    assert (await status_of(client, world.other_clinician, world.nid)).json() == nothing
    assert (await status_of(client, world.clinician, make_nid())).json() == nothing
    url = plan_url(world.clinician, plan["id"])
    assert (await patch(client, world.clinician, url, 1, {"status": "closed"})).status_code == 200
    assert (await status_of(client, world.clinician, world.nid)).json() == nothing

    trail = await client.get(
        "/api/v1/audit/events", params={"plan_id": plan["id"], "limit": 200},
        headers=world.auditor.headers,
    )  # fmt: skip
    actions = [e["action"] for e in trail.json()["items"]]
    assert actions.count("plan_status") == 4  # only the answers that found it


@pytest.mark.parametrize("nid", ["12345678901", "1234", "abcdefghijk"])
async def test_status_check_refuses_a_bad_nid_without_echoing_it(
    client, world: World, nid: str
) -> None:
    body = assert_problem(await status_of(client, world.clinician, nid), 422)
    assert nid not in str(body)
    assert body["errors"][0]["loc"] == ["body", "nid"]
