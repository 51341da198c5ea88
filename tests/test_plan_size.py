"""A plan holds at most so many open goals and open activities (``CAREWORK_MAX_OPEN_GOALS``,
``CAREWORK_MAX_OPEN_ACTIVITIES``): one more is 422 ``plan-full`` and changes nothing, through
the API, a joint meeting's agreed actions or the pages, however many ask at once. Items in a
final status or taken back no longer count."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from carework.app import create_app
from carework.config import Settings
from tests.domain_helpers import (
    add_activity,
    add_goal,
    assert_problem,
    patch,
    plan_url,
    read_plan,
)
from tests.factories import World, create_plan

GOALS, ACTIVITIES = 3, 4
ORIGIN = "http://carework.test"


@pytest.fixture(scope="module")
async def small_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app over the same database, configured for small plans."""
    small = settings.model_copy(update={"max_open_goals": GOALS, "max_open_activities": ACTIVITIES})
    application = create_app(small)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def small(small_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        yield c


def assert_full(response: httpx.Response, what: str, limit: int) -> None:
    body = assert_problem(response, 422)
    assert body["type"].endswith("/plan-full"), body
    assert f"at most {limit} open {what}" in body["detail"], body
    assert body["limit"] == limit


async def test_one_goal_too_many_is_refused_whoever_adds_it(
    small: httpx.AsyncClient, world: World
) -> None:
    plan_id = str((await create_plan(small, world))["id"])
    goals = [await add_goal(small, world.clinician, plan_id, "treatment") for _ in range(GOALS)]
    before = await read_plan(small, world.clinician, plan_id)
    attempts = [
        (world.clinician, f"{plan_url(world.clinician, plan_id)}/goals", "treatment"),
        (world.advisor, f"{plan_url(world.advisor, plan_id)}/goals", "work"),
        (world.patient, "/api/v1/patient/plan/goals", "education"),
    ]
    for actor, url, domain in attempts:
        response = await small.post(
            url, json={"domain": domain, "title": "Ett til"}, headers=actor.headers
        )
        assert_full(response, "goals", GOALS)
    assert await read_plan(small, world.clinician, plan_id) == before, "nothing changed"

    # A goal achieved no longer counts, nor one taken back: room for two more, then full.
    url = f"{plan_url(world.clinician, plan_id)}/goals/{goals[0]['id']}"
    assert (await patch(small, world.clinician, url, 1, {"status": "achieved"})).is_success
    taken = await small.post(
        f"{plan_url(world.clinician, plan_id)}/goals/{goals[1]['id']}/entered-in-error",
        json={"reason": "Feil pasient"}, headers={**world.clinician.headers, "If-Match": '"1"'},
    )  # fmt: skip
    assert taken.status_code == 200, taken.text
    await add_goal(small, world.advisor, plan_id, "work")
    await add_goal(small, world.clinician, plan_id, "treatment")
    one_more = await small.post(f"{plan_url(world.advisor, plan_id)}/goals",
                                json={"domain": "work", "title": "X"},
                                headers=world.advisor.headers)  # fmt: skip
    assert_full(one_more, "goals", GOALS)
    view = await read_plan(small, world.clinician, plan_id)
    assert [g["status"] for g in view["goals"]] == ["achieved", "active", "active", "active"]


async def test_activities_are_bounded_and_a_meeting_adds_all_its_actions_or_none(
    small: httpx.AsyncClient, world: World
) -> None:
    plan_id = str((await create_plan(small, world))["id"])
    first = await add_activity(small, world.advisor, plan_id, "course")
    for _ in range(ACTIVITIES - 2):
        await add_activity(small, world.clinician, plan_id, "therapy")
    # One place left; a meeting agreeing two actions takes neither.
    base = plan_url(world.advisor, plan_id)
    meeting = await small.post(
        f"{base}/meetings", json={"scheduled_at": "2031-05-01T10:00:00+02:00", "agenda": "Plan"},
        headers=world.advisor.headers,
    )  # fmt: skip
    meeting_url = f"{base}/meetings/{meeting.json()['id']}"
    assert (await patch(small, world.advisor, meeting_url, 1, {"minutes": "Enige."})).is_success
    actions = [
        {"title": t, "kind": "course", "responsible_side": "nav", "responsible_person": "Nils"}
        for t in ("Kurs A", "Kurs B")
    ]
    before = await read_plan(small, world.clinician, plan_id)
    refused = await small.post(f"{meeting_url}/release", json={"actions": actions},
                               headers={**world.advisor.headers, "If-Match": '"2"'})  # fmt: skip
    assert_full(refused, "activities", ACTIVITIES)
    assert await read_plan(small, world.clinician, plan_id) == before
    meetings = await small.get(f"{base}/meetings", headers=world.advisor.headers)
    assert meetings.json()["items"][0]["minutes_status"] == "draft"

    released = await small.post(f"{meeting_url}/release", json={"actions": actions[:1]},
                                headers={**world.advisor.headers, "If-Match": '"2"'})  # fmt: skip
    assert released.status_code == 200, released.text
    full = await small.post(f"{base}/activities", json={"kind": "course", "title": "X"},
                            headers=world.advisor.headers)  # fmt: skip
    assert_full(full, "activities", ACTIVITIES)
    # Done is final: the place is free again.
    url = f"{base}/activities/{first['id']}"
    assert (await patch(small, world.advisor, url, 1, {"status": "done"})).is_success
    await add_activity(small, world.advisor, plan_id, "course")


async def test_concurrent_additions_cannot_pass_the_limit_together(
    small: httpx.AsyncClient, small_app: FastAPI, world: World
) -> None:
    """Eight additions for the last place, all let through to their INSERT at the same moment:
    the test holds the goal table against inserts until all eight wait on a lock (at the
    INSERT, or at the plan's lock before counting), so none can finish before another has
    counted. Exactly one gets the place."""
    plan_id = str((await create_plan(small, world))["id"])
    for _ in range(GOALS - 1):
        await add_goal(small, world.clinician, plan_id, "treatment")
    url = f"{plan_url(world.clinician, plan_id)}/goals"

    async def add(n: int) -> httpx.Response:
        return await small.post(
            url, json={"domain": "treatment", "title": f"Samtidig {n}"},
            headers=world.clinician.headers,
        )  # fmt: skip

    engine: AsyncEngine = small_app.state.engine
    async with engine.connect() as holder, engine.connect() as watcher:
        await holder.execute(text("LOCK TABLE goal IN SHARE ROW EXCLUSIVE MODE"))
        answers = asyncio.gather(*(add(n) for n in range(8)))
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        for _ in range(500):
            await watcher.rollback()  # a fresh look each time
            if await watcher.scalar(waiting) == 8:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the additions never all waited")
        await holder.commit()
        statuses = sorted(a.status_code for a in await answers)
    assert statuses == [201] + [422] * 7
    assert len((await read_plan(small, world.clinician, plan_id))["goals"]) == GOALS


async def test_the_pages_say_the_plan_is_full_and_add_nothing(
    small: httpx.AsyncClient, world: World
) -> None:
    plan_id = str((await create_plan(small, world))["id"])
    for _ in range(GOALS):
        await add_goal(small, world.clinician, plan_id, "treatment")
    cookie = {"Cookie": f"carework_ui={world.clinician.token}", "Origin": ORIGIN}
    posted = await small.post(f"/ui/plans/{plan_id}/goals",
                              data={"domain": "treatment", "title": "Fra skjema"},
                              headers=cookie)  # fmt: skip
    # The form's page again (issue #15, 422): the message, and the title typed kept in the form.
    assert posted.status_code == 422
    html = posted.text
    assert "Planen har så mange åpne mål eller aktiviteter som den kan ha" in html
    assert 'id="goal_title" name="title" required maxlength="200" value="Fra skjema"' in html
    view = await read_plan(small, world.clinician, plan_id)
    titles: list[Any] = [g["title"] for g in view["goals"]]
    assert "Fra skjema" not in titles
    assert len(titles) == GOALS


def test_the_defaults_are_far_above_a_real_plan() -> None:
    limits = Settings().plan_limits
    assert (limits.open_goals, limits.open_activities) == (100, 300)
