"""A database that is there but does not answer in time: every pooled connection busy, or a
hung database (half-open connections: packets black-holed). Each request answers 503 with
Retry-After after the configured wait, never after 30 s or never; then service comes back.

One real ``carework serve`` with a small pool and short limits reaches a database of this
module's own through ``BlackHoleProxy``, which forwards faithfully until told otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker, World, create_plan, make_world
from tests.faults.load import (
    SERVED,
    Answer,
    mixed_load,
    one_connection,
    send,
    server_env,
    unavailable_problems,
)
from tests.faults.proxy import BlackHoleProxy
from tests.live import LiveServer
from tests.postgres import over_tcp, socket_of

pytestmark = [pytest.mark.faults, pytest.mark.live]

POOL_SIZE = 2
POOL_TIMEOUT = 1.0
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 3.0
#: How long the test holds a row lock: the requests waiting on it stay under the command timeout.
LOCK_HELD = 2.0


@pytest.fixture(scope="module")
def slow_url(embedded_pg: EmbeddedPostgres) -> str:
    """A database of its own on the session's server: nothing here stops that server."""
    url = embedded_pg.create_database("carework_slow")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
async def proxy(slow_url: str) -> AsyncIterator[BlackHoleProxy]:
    proxy = BlackHoleProxy(socket_of(slow_url))
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture(scope="module")
async def server(
    slow_url: str,
    proxy: BlackHoleProxy,
    data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveServer]:
    """Started and stopped in a thread: the proxy runs on this event loop, and the server's
    pool closes its connections through it when it stops."""
    env = server_env(
        over_tcp(slow_url, proxy.port), data_dir,
        DB_POOL_SIZE=str(POOL_SIZE), DB_MAX_OVERFLOW="0",
        DB_POOL_TIMEOUT_SECONDS=str(POOL_TIMEOUT),
        DB_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT),
        DB_COMMAND_TIMEOUT_SECONDS=str(COMMAND_TIMEOUT),
    )  # fmt: skip
    live = LiveServer([], env, tmp_path_factory.mktemp("slow") / "serve.log")
    try:
        await asyncio.to_thread(live.wait_ready)
        yield live
    finally:
        returncode = await asyncio.to_thread(live.terminate)
    assert returncode == 0, live.log()
    assert "unhandled error" not in live.log_path.read_text()


async def one_of_each(server: LiveServer, world: World, plan_id: str) -> list[Answer]:
    """One request of every kind at once, each on a connection of its own."""
    loads = mixed_load(world, plan_id)
    clients = [one_connection(server) for _ in loads]
    try:
        return list(
            await asyncio.gather(
                *(send(c, kind, loads[kind](c, 0)) for c, kind in zip(clients, loads, strict=True))
            )
        )
    finally:
        for client in clients:
            await client.aclose()


async def served_again(server: LiveServer, world: World, plan_id: str, since: float) -> float:
    """Seconds from ``since`` until every kind of request is served again."""
    async with asyncio.timeout(30):
        while True:
            answers = await one_of_each(server, world, plan_id)
            assert all(a.status in (SERVED[a.kind], 503) for a in answers), answers
            if all(a.status == SERVED[a.kind] for a in answers):
                return time.monotonic() - since
            await asyncio.sleep(0.05)


async def waiting_on_locks(slow_url: str, count: int) -> None:
    conn = await asyncpg.connect(slow_url)
    try:
        async with asyncio.timeout(10):
            while True:
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if waiting >= count:
                    return
                await asyncio.sleep(0.02)
    finally:
        await conn.close()


async def test_an_exhausted_pool_answers_503_after_the_pool_wait(
    server: LiveServer, slow_url: str, tokens: TokenMaker
) -> None:
    world, other = make_world(tokens), make_world(tokens)
    async with one_connection(server) as client:
        locked = (await create_plan(client, world))["id"]
        plan_id = (await create_plan(client, other))["id"]

    # A row lock held from outside: both PATCHes of the locked plan wait on it, each holding
    # one of the pool's two connections.
    holder = await asyncpg.connect(slow_url)
    patchers = [one_connection(server) for _ in range(POOL_SIZE)]
    try:
        change, at_1 = {"title": "Endret"}, {**world.clinician.headers, "If-Match": '"1"'}
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM plan WHERE id = $1 FOR UPDATE", locked)
        patches = [
            asyncio.create_task(c.patch(f"/api/v1/dps/plans/{locked}", json=change, headers=at_1))
            for c in patchers
        ]
        await waiting_on_locks(slow_url, POOL_SIZE)
        waited_from = time.monotonic()
        busy = await one_of_each(server, other, plan_id)
        held = time.monotonic() - waited_from
        assert held < LOCK_HELD
        await asyncio.sleep(LOCK_HELD - held)
        await tx.rollback()
        patched = sorted(r.status_code for r in await asyncio.gather(*patches))
    finally:
        await holder.close()
        for client in patchers:
            await client.aclose()

    assert list(unavailable_problems(busy)) == []
    assert {a.retry_after for a in busy} == {"1"}
    waits = sorted(a.seconds for a in busy)
    assert waits[0] >= POOL_TIMEOUT * 0.9, waits
    assert waits[-1] < POOL_TIMEOUT + 1.0, waits
    # The two that waited for the lock: one change, and one refused as stale (412).
    assert patched == [200, 412]
    recovery = await served_again(server, other, plan_id, time.monotonic())
    print(
        f"\npool of {POOL_SIZE} exhausted: {len(busy)} requests 503 after "
        f"{waits[0]:.2f}-{waits[-1]:.2f} s (pool wait {POOL_TIMEOUT} s); served again in "
        f"{recovery * 1000:.0f} ms"
    )


@pytest.mark.parametrize("ending", ["resume", "drop"])
async def test_a_hung_database_answers_503_within_the_timeouts(
    server: LiveServer, proxy: BlackHoleProxy, tokens: TokenMaker, ending: str
) -> None:
    world = make_world(tokens)
    async with one_connection(server) as client:
        plan_id = (await create_plan(client, world))["id"]
    warm = await one_of_each(server, world, plan_id)
    assert all(a.status == SERVED[a.kind] for a in warm), warm

    proxy.black_hole()
    try:
        # Twice: the first meet the pooled connections hanging, the next new ones.
        hung = await one_of_each(server, world, plan_id)
        hung += await one_of_each(server, world, plan_id)
    finally:
        ended = time.monotonic()
        proxy.resume() if ending == "resume" else proxy.drop()

    assert list(unavailable_problems(hung)) == []
    slowest = max(a.seconds for a in hung)
    assert slowest < COMMAND_TIMEOUT + 1.0, sorted(a.seconds for a in hung)
    recovery = await served_again(server, world, plan_id, ended)
    assert recovery < 2.0
    print(
        f"\nhung database ({ending}): {len(hung)} requests 503 in "
        f"{min(a.seconds for a in hung):.2f}-{slowest:.2f} s (command {COMMAND_TIMEOUT} s, "
        f"connect {CONNECT_TIMEOUT} s, pool {POOL_TIMEOUT} s); served again in "
        f"{recovery * 1000:.0f} ms"
    )
