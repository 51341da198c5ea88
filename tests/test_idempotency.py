"""Idempotency-Key on POST: a retry gets the first response and creates nothing new."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.factories import World, create_plan

PROBLEM = "application/problem+json"


async def goals_titled(client: httpx.AsyncClient, world: World, plan_id: str, title: str) -> int:
    view = await client.get(f"/api/v1/dps/plans/{plan_id}", headers=world.clinician.headers)
    return sum(goal["title"] == title for goal in view.json()["goals"])


def keyed(world: World, key: str) -> dict[str, str]:
    return {**world.clinician.headers, "Idempotency-Key": key}


async def test_a_retry_gets_the_first_response(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    url, key = f"/api/v1/dps/plans/{plan['id']}/goals", uuid.uuid4().hex
    body = {"domain": "treatment", "title": "Bedre søvn"}
    first = await client.post(url, json=body, headers=keyed(world, key))
    retry = await client.post(url, json=body, headers=keyed(world, key))
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await goals_titled(client, world, plan["id"], "Bedre søvn") == 1


async def test_the_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    url, key = f"/api/v1/dps/plans/{plan['id']}/goals", uuid.uuid4().hex
    await client.post(url, json={"domain": "treatment", "title": "A"}, headers=keyed(world, key))
    other = await client.post(
        url, json={"domain": "treatment", "title": "B"}, headers=keyed(world, key)
    )
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert await goals_titled(client, world, plan["id"], "B") == 0


async def test_keys_belong_to_their_caller(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    key = uuid.uuid4().hex
    body = {"domain": "work", "title": "Arbeidstrening"}
    nav = f"/api/v1/nav/plans/{plan['id']}/goals"
    advisor = {**world.advisor.headers, "Idempotency-Key": key}
    assert (await client.post(nav, json=body, headers=advisor)).status_code == 201
    # The clinician's identical key is theirs alone: no replay of the advisor's answer.
    mine = await client.post(
        f"/api/v1/dps/plans/{plan['id']}/goals",
        json={"domain": "treatment", "title": "Egen"},
        headers=keyed(world, key),
    )
    assert mine.status_code == 201
    assert "idempotent-replayed" not in mine.headers


async def test_keys_expire_after_a_day(
    client: httpx.AsyncClient, world: World, app: FastAPI
) -> None:
    plan = await create_plan(client, world)
    url, key = f"/api/v1/dps/plans/{plan['id']}/goals", uuid.uuid4().hex
    body = {"domain": "treatment", "title": "Utløpt nøkkel"}
    assert (await client.post(url, json=body, headers=keyed(world, key))).status_code == 201
    async with app.state.engine.begin() as conn:  # a day passes
        await conn.execute(
            text("UPDATE idempotency_key SET created_at = now() - interval '25 hours'"
                 " WHERE key = :key"),
            {"key": key},
        )  # fmt: skip
    again = await client.post(url, json=body, headers=keyed(world, key))
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await goals_titled(client, world, plan["id"], "Utløpt nøkkel") == 2


async def test_concurrent_retries_create_one_resource(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    url, key = f"/api/v1/dps/plans/{plan['id']}/goals", uuid.uuid4().hex
    body = {"domain": "treatment", "title": "Samtidig"}
    answers = await asyncio.gather(
        *(client.post(url, json=body, headers=keyed(world, key)) for _ in range(12))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum("idempotent-replayed" in a.headers for a in answers) == 11
    assert await goals_titled(client, world, plan["id"], "Samtidig") == 1


async def test_a_failed_first_attempt_is_not_kept(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    url, key = f"/api/v1/dps/plans/{plan['id']}/goals", uuid.uuid4().hex
    refused = await client.post(url, json={"domain": "work", "title": "X"},
                                headers=keyed(world, key))  # fmt: skip
    assert refused.status_code == 403
    # The refusal stored nothing, so the key is still free for a corrected request.
    fixed = await client.post(
        url, json={"domain": "treatment", "title": "X"}, headers=keyed(world, "other-" + key)
    )
    assert fixed.status_code == 201
    again = await client.post(url, json={"domain": "work", "title": "X"}, headers=keyed(world, key))
    assert again.status_code == 403


async def test_a_malformed_key_is_refused(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    url = f"/api/v1/dps/plans/{plan['id']}/goals"
    for bad in ("", "x" * 256, "mellom rom"):
        response = await client.post(
            url, json={"domain": "treatment", "title": "K"}, headers=keyed(world, bad)
        )
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == PROBLEM
    assert await goals_titled(client, world, plan["id"], "K") == 0


async def test_a_replay_is_audited(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    url, key = f"/api/v1/dps/plans/{plan['id']}/goals", uuid.uuid4().hex
    body = {"domain": "treatment", "title": "Revidert"}
    for _ in range(2):
        await client.post(url, json=body, headers=keyed(world, key))
    events = await client.get(
        "/api/v1/audit/events", params={"plan_id": plan["id"]}, headers=world.auditor.headers
    )
    actions = [e["action"] for e in events.json()["items"]]
    assert actions.count("create_goal") == 1
    assert actions.count("create_goal.replayed") == 1
