"""The change feed: every committed change once, in a stable order, and only what a side may see."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker, World, create_plan, make_world
from tests.live import LiveServer, child_env

FEED = {"dps": "/api/v1/dps/events", "nav": "/api/v1/nav/events"}


async def follow(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], after: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Read the feed to its current end."""
    seen: list[dict[str, Any]] = []
    while True:
        params = {"limit": "50", **({"after": after} if after else {})}
        page = await client.get(url, params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += body["items"]
        if not body["items"]:
            return seen, body["next_cursor"]
        after = body["next_cursor"]


async def test_changes_appear_once_in_order_for_the_sides_in_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    _, start = await follow(client, FEED["dps"], world.clinician.headers)
    plan = await create_plan(client, world)
    base = f"/api/v1/dps/plans/{plan['id']}"
    goal = await client.post(
        f"{base}/goals", json={"domain": "treatment", "title": "Sove bedre"},
        headers=world.clinician.headers,
    )  # fmt: skip
    patched = await client.patch(
        f"{base}/goals/{goal.json()['id']}", json={"title": "Sove hele natten"},
        headers={**world.clinician.headers, "If-Match": goal.headers["etag"]},
    )  # fmt: skip
    assert patched.status_code == 200

    events, end = await follow(client, FEED["dps"], world.clinician.headers, start)
    mine = [e for e in events if e["plan_id"] == plan["id"]]
    assert [e["type"] for e in mine] == ["plan.created", "goal.created", "goal.updated"]
    assert [e["version"] for e in mine[1:]] == [1, 2]
    assert mine[0]["actor"] == {"name": world.clinician.name, "role": "clinician"}
    assert len({e["cursor"] for e in events}) == len(events)

    again, same = await follow(client, FEED["dps"], world.clinician.headers, end)
    assert again == []
    assert same == end

    outsider, _ = await follow(client, FEED["dps"], world.other_clinician.headers, start)
    assert all(e["plan_id"] != plan["id"] for e in outsider)


async def test_nav_sees_treatment_changes_only_under_consent(
    client: httpx.AsyncClient, world: World
) -> None:
    _, start = await follow(client, FEED["nav"], world.advisor.headers)
    plan = await create_plan(client, world)
    base = f"/api/v1/dps/plans/{plan['id']}"
    auth = world.clinician.headers
    treatment = await client.post(
        f"{base}/goals", json={"domain": "treatment", "title": "T"}, headers=auth
    )
    work = await client.post(
        f"/api/v1/nav/plans/{plan['id']}/goals", json={"domain": "work", "title": "W"},
        headers=world.advisor.headers,
    )  # fmt: skip
    for visibility in ("shared", "internal"):
        note = await client.post(
            f"{base}/goals/{treatment.json()['id']}/notes",
            json={"text": f"{visibility} note", "visibility": visibility}, headers=auth,
        )  # fmt: skip
        assert note.status_code == 201

    def nav_types(events: list[dict[str, Any]]) -> list[str]:
        return [e["type"] for e in events if e["plan_id"] == plan["id"]]

    events, _ = await follow(client, FEED["nav"], world.advisor.headers, start)
    assert nav_types(events) == ["plan.created", "goal.created"]
    assert {e["resource_id"] for e in events} >= {work.json()["id"]}
    assert treatment.json()["id"] not in {e["resource_id"] for e in events}

    granted = await client.post(
        "/api/v1/patient/consents", json={"scopes": ["treatment_goals", "treatment_notes"]},
        headers=world.patient.headers,
    )  # fmt: skip
    assert granted.status_code == 201
    # The feed answers by the consent of now: a reader starting over sees the treatment goal
    # and the shared note, never the DPS-internal note.
    events, _ = await follow(client, FEED["nav"], world.advisor.headers, start)
    assert nav_types(events) == [
        "plan.created", "goal.created", "goal.created", "note.added", "consent.granted",
    ]  # fmt: skip
    history = await client.get(
        f"/api/v1/nav/plans/{plan['id']}/history", headers=world.advisor.headers
    )
    assert [e["type"] for e in history.json()["items"]] == nav_types(events)
    dps_history = await client.get(f"{base}/history", headers=auth)
    assert [e["type"] for e in dps_history.json()["items"]].count("note.added") == 2


async def test_a_slow_transaction_holds_back_later_commits(
    client: httpx.AsyncClient, world: World, app: FastAPI
) -> None:
    """An event that commits late may not be skipped: the feed waits for it instead."""
    _, start = await follow(client, FEED["dps"], world.clinician.headers)
    plan = await create_plan(client, world)
    _, after_plan = await follow(client, FEED["dps"], world.clinician.headers, start)
    insert = text(
        "INSERT INTO change_event (plan_id, type, resource_type, resource_id, actor_sub,"
        " actor_name, actor_role, sensitivity) VALUES (:plan, :type, 'goal', :rid, 's', 'n',"
        " 'clinician', 'general')"
    )
    async with app.state.engine.connect() as slow:
        # The slow writer takes its place in line first, then a fast one commits past it.
        await slow.execute(insert, {"plan": plan["id"], "type": "slow", "rid": uuid.uuid4()})
        patched = await client.patch(
            f"/api/v1/dps/plans/{plan['id']}", json={"title": "Fast"},
            headers={**world.clinician.headers, "If-Match": '"1"'},
        )  # fmt: skip
        assert patched.status_code == 200
        held, cursor = await follow(client, FEED["dps"], world.clinician.headers, after_plan)
        assert [e for e in held if e["plan_id"] == plan["id"]] == []
        await slow.commit()
    events, _ = await follow(client, FEED["dps"], world.clinician.headers, cursor)
    assert [e["type"] for e in events if e["plan_id"] == plan["id"]] == ["slow", "plan.updated"]


async def test_feed_refuses_a_forged_cursor(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(
        FEED["dps"], params={"after": "not-a-cursor"}, headers=world.clinician.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


# --- several server processes writing while a reader follows ------------------------------


@pytest.fixture(scope="module")
def feed_server(
    embedded_pg: EmbeddedPostgres, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    url = embedded_pg.create_database("cw_feed_live")
    migrate.upgrade(url)
    env = child_env(DATABASE_URL=url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir))
    server = LiveServer(["--workers", "2"], env, tmp_path_factory.mktemp("feed") / "serve.log")
    try:
        server.wait_ready()
        yield server
    finally:
        assert server.terminate() == 0, server.log()


@pytest.mark.live
async def test_a_follower_sees_every_event_exactly_once_under_concurrent_writers(
    feed_server: LiveServer, tokens: TokenMaker
) -> None:
    writers, changes_each = 12, 6
    worlds = [make_world(tokens) for _ in range(writers)]
    # One DPS unit for all, so one follower's scope holds every plan.
    unit = worlds[0].dps_unit
    clinicians = [tokens.actor("clinician", org=unit) for _ in worlds]
    follower = clinicians[0].headers

    async def write(i: int, client: httpx.AsyncClient) -> int:
        w, who = worlds[i], clinicians[i].headers
        body = {"patient": {"nid": w.nid, "name": "P"}, "nav_office": w.nav_office, "title": "t"}
        plan = await client.post("/api/v1/dps/plans", json=body, headers=who)
        assert plan.status_code == 201, plan.text
        base = f"/api/v1/dps/plans/{plan.json()['id']}"
        goal = await client.post(f"{base}/goals", json={"domain": "treatment", "title": "g"},
                                 headers=who)  # fmt: skip
        etag, made = goal.headers["etag"], 2
        for n in range(changes_each):
            changed = await client.patch(
                f"{base}/goals/{goal.json()['id']}",
                json={"title": f"g{n}"},
                headers={**who, "If-Match": etag},
            )
            assert changed.status_code == 200, changed.text
            etag, made = changed.headers["etag"], made + 1
        return made

    seen: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def read(client: httpx.AsyncClient) -> None:
        after = None
        while True:
            finished = done.is_set()
            page, after = await follow(client, FEED["dps"], follower, after)
            seen.extend(page)
            if finished and not page:
                return
            await asyncio.sleep(0.01)

    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=feed_server.base_url, timeout=30, limits=limits) as c:
        reader = asyncio.create_task(read(c))
        made = await asyncio.gather(*(write(i, c) for i in range(writers)))
        done.set()
        await asyncio.wait_for(reader, 30)

    cursors = [e["cursor"] for e in seen]
    assert len(cursors) == len(set(cursors)), "an event was delivered twice"
    assert len(seen) == sum(made), "an event was missed"
    per_goal: dict[str, list[int]] = {}
    for event in seen:
        if event["type"].startswith("goal."):
            per_goal.setdefault(event["resource_id"], []).append(event["version"])
    assert all(v == list(range(1, changes_each + 2)) for v in per_goal.values()), per_goal
