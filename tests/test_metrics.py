"""The metrics beyond request counts (``operations.metrics``), on the app over ASGI: the audit
append's latency, the connection pool (in use, idle, overflow, waiting, checkouts) and the
change feed's lag behind its outbox; and a scrape that answers at once when the database gives
it no connection."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from carework.operations.metrics import FEED_LAG_TIMEOUT_SECONDS
from tests.factories import World, create_plan

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def one(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_each_audited_request_times_its_append(
    client: httpx.AsyncClient, world: World
) -> None:
    before = await scrape(client)
    plan = await create_plan(client, world)
    read = await client.get(f"/api/v1/dps/plans/{plan['id']}", headers=world.clinician.headers)
    assert read.status_code == 200
    refused = await client.get(f"/api/v1/dps/plans/{uuid.uuid4()}", headers=world.clinician.headers)
    assert refused.status_code == 404  # audited too, in a transaction of its own
    after = await scrape(client)
    count = "carework_audit_append_seconds_count"
    assert one(after, count) - one(before, count) == 3
    appended = one(after, "carework_audit_append_seconds_sum") - one(
        before, "carework_audit_append_seconds_sum"
    )
    assert 0 < appended < 3
    checkouts = "carework_db_pool_checkouts_total"
    assert one(after, checkouts) - one(before, checkouts) >= 3
    assert one(after, "carework_db_pool_checkout_seconds_total") > 0


async def test_the_feed_lag_is_the_age_of_what_an_open_transaction_holds_back(
    client: httpx.AsyncClient, world: World, database_url: str
) -> None:
    settled = await scrape(client)
    assert one(settled, "carework_feed_lag_measured") == 1
    assert one(settled, "carework_feed_held_back_events") == 0
    assert one(settled, "carework_feed_lag_seconds") == 0

    holder = await asyncpg.connect(database_url)
    try:
        async with holder.transaction():
            await holder.fetchval("SELECT pg_current_xact_id()")  # the feed's horizon stops here
            await create_plan(client, world)  # its change event commits above the horizon
            await asyncio.sleep(0.3)
            held = await scrape(client)
        assert one(held, "carework_feed_held_back_events") >= 1
        assert one(held, "carework_feed_lag_seconds") >= 0.3
    finally:
        await holder.close()
    released = await scrape(client)
    assert one(released, "carework_feed_held_back_events") == 0
    assert one(released, "carework_feed_lag_seconds") == 0


async def test_the_pool_shows_who_waits_and_a_scrape_does_not_wait_long(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    engine: AsyncEngine = app.state.engine
    capacity = engine.pool.size() + 10  # make_engine's max_overflow
    held: list[AsyncConnection] = [await engine.connect() for _ in range(capacity)]

    async def take() -> AsyncConnection:
        return await engine.connect()

    waiter = asyncio.create_task(take())
    try:
        await asyncio.sleep(0.1)
        assert not waiter.done()
        started = time.perf_counter()
        starved = await scrape(client)
        took = time.perf_counter() - started
        assert one(starved, "carework_db_pool_connections", state="in_use") == capacity
        assert one(starved, "carework_db_pool_connections", state="idle") == 0
        assert one(starved, "carework_db_pool_overflow") == 10
        assert one(starved, "carework_db_pool_waiting") == 1
        # No connection for the feed's lag: reported as not measured, after the short timeout.
        assert one(starved, "carework_feed_lag_measured") == 0
        assert ("carework_feed_lag_seconds", ()) not in starved
        assert FEED_LAG_TIMEOUT_SECONDS <= took < FEED_LAG_TIMEOUT_SECONDS + 2
    finally:
        for connection in held:
            await connection.close()
        await (await waiter).close()
    calm = await scrape(client)
    assert one(calm, "carework_db_pool_waiting") == 0
    assert one(calm, "carework_db_pool_connections", state="in_use") == 0
    assert one(calm, "carework_db_pool_size") == engine.pool.size()
    assert one(calm, "carework_feed_lag_measured") == 1
