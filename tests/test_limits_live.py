"""Deadlines, abandoned requests and rate limits against a real ``carework serve``.

1. Connections that never complete a request head (silent, half a head, a byte at a time, or
   a half head after a first answer) are closed within the header deadline plus a little,
   300 of them at once, while a normal request meanwhile is answered at once.
2. A body that stalls is a 408 problem, audited, and the connection is closed.
3. A client that leaves while its request waits — a goal PATCH blocked on a row lock the test
   holds, a plan read blocked on a table lock — has its work cancelled: the server's backend
   stops waiting, the PATCH is not applied when the lock goes, the attempt is audited as 499,
   and the next requests succeed.
4. The flood of issue #14, at the default anonymous limit: bad-token requests from one address
   are mostly 429s, and the trail holds a few rows whose counts add up to all of them.

A database of this module's own, so every audit row in it is this module's.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from carework.config import Settings
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker, World, create_plan, make_world
from tests.live import LiveServer, child_env

pytestmark = pytest.mark.live

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 1.5
#: What a deadline may overrun by on a busy machine before the test calls it broken.
SLACK = 1.5
ATTACKERS = 300
HALF_A_HEAD = b"GET /healthz HTTP/1.1\r\nHost: carework\r\nX-Slow: "


@pytest.fixture(scope="module")
def url(embedded_pg: EmbeddedPostgres) -> str:
    database = embedded_pg.create_database("cw_limits_live")
    migrate.upgrade(database)
    return database


def start(url: str, data_dir: Path, log: Path, **env: str) -> LiveServer:
    server = LiveServer(
        [],
        child_env(DATABASE_URL=url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir), **env),
        log,
    )
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def server(
    url: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = start(
        url,
        data_dir,
        tmp_path_factory.mktemp("limits") / "serve.log",
        CAREWORK_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        CAREWORK_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
    )
    try:
        yield live
    finally:
        assert live.terminate() == 0, live.log()


async def fetch(url: str, statement: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(statement, *args))
    finally:
        await conn.close()


async def read_until_closed(reader: asyncio.StreamReader, limit: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    async with asyncio.timeout(limit):
        while chunk := await reader.read(65536):
            data += chunk
    return data


# --------------------------------------------------------------------------------------------
# 1. The header deadline


async def test_connections_that_never_finish_their_head_are_closed_in_time(
    server: LiveServer,
) -> None:
    loop = asyncio.get_running_loop()

    async def attacker(kind: str) -> tuple[str, float, bytes]:
        opened = loop.time()  # the server's clock starts no sooner than this
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        trickle: asyncio.Task[None] | None = None
        if kind == "half a head":
            writer.write(HALF_A_HEAD)
        elif kind == "a byte at a time":

            async def drip() -> None:
                for byte in HALF_A_HEAD + b"a" * 20:
                    writer.write(bytes([byte]))
                    await asyncio.sleep(0.2)

            trickle = asyncio.create_task(drip())
        try:
            answer = await read_until_closed(reader, HEADER_TIMEOUT + 15)
        finally:
            if trickle is not None:
                trickle.cancel()
            writer.close()
        return kind, loop.time() - opened, answer

    kinds = ["silent", "half a head", "a byte at a time"]
    attack = [asyncio.create_task(attacker(kinds[i % 3])) for i in range(ATTACKERS)]
    await asyncio.sleep(0.5)  # all connected and stalling

    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        started = time.monotonic()
        normal = await client.get("/healthz")
        during = time.monotonic() - started
    assert normal.status_code == 200
    assert during < 1.0, during

    results = await asyncio.gather(*attack)
    closed_after = sorted(elapsed for _, elapsed, _ in results)
    print(
        f"{ATTACKERS} stalled connections closed after {closed_after[0]:.2f}-"
        f"{closed_after[-1]:.2f} s (deadline {HEADER_TIMEOUT} s); a normal request during "
        f"the attack took {during * 1000:.0f} ms"
    )
    assert closed_after[0] >= HEADER_TIMEOUT - 0.1
    assert closed_after[-1] <= HEADER_TIMEOUT + SLACK
    for kind, _, answer in results:
        if kind == "silent":
            assert answer == b""
        else:
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            head, _, body = answer.partition(b"\r\n\r\n")
            assert b"application/problem+json" in head
            assert json.loads(body)["status"] == 408


async def test_after_an_answer_the_next_head_has_its_own_deadline(server: LiveServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: carework\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        length = int(next(
            line.split(b":")[1] for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ))  # fmt: skip
        await reader.readexactly(length)
        answered = time.monotonic()
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")  # and no more
        rest = await read_until_closed(reader, HEADER_TIMEOUT + 15)
        waited = time.monotonic() - answered
    finally:
        writer.close()
    assert rest.startswith(b"HTTP/1.1 408 ")
    assert HEADER_TIMEOUT - 0.1 <= waited <= HEADER_TIMEOUT + SLACK


# --------------------------------------------------------------------------------------------
# 2. The body deadline


async def test_a_stalled_body_is_a_408_problem_and_the_connection_closes(
    server: LiveServer, url: str, tokens: TokenMaker
) -> None:
    world = make_world(tokens)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(
            b"POST /api/v1/dps/plans HTTP/1.1\r\nHost: carework\r\n"
            + f"Authorization: Bearer {world.clinician.token}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"patient": '
        )
        started = time.monotonic()
        answer = await read_until_closed(reader, BODY_TIMEOUT + 15)
        waited = time.monotonic() - started
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), answer
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    problem = json.loads(body)
    assert problem["type"].endswith("/request-timeout")
    assert BODY_TIMEOUT - 0.1 <= waited <= BODY_TIMEOUT + SLACK
    request_id = next(
        line.split(b": ")[1].decode() for line in head.split(b"\r\n")
        if line.lower().startswith(b"x-request-id")
    )  # fmt: skip
    [event] = await fetch(
        url, "SELECT action, outcome, status FROM audit_event WHERE request_id = $1", request_id
    )
    assert tuple(event) == ("create_plan", "failed", 408)


# --------------------------------------------------------------------------------------------
# 3. A client that leaves


async def lock_waiters(url: str) -> list[int]:
    """Backends of the server waiting for a lock (the test's own connections never wait)."""
    found = await fetch(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'",
    )
    return [row["pid"] for row in found]


async def wait_for(condition: Any, limit: float = 10.0) -> float:
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < limit, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@pytest.fixture
async def scene(server: LiveServer, tokens: TokenMaker) -> AsyncIterator[tuple[World, str, str]]:
    world = make_world(tokens)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        plan = await create_plan(client, world)
        goal = await client.post(
            f"/api/v1/dps/plans/{plan['id']}/goals",
            json={"domain": "treatment", "title": "Sove bedre"},
            headers=world.clinician.headers,
        )
        assert goal.status_code == 201, goal.text
        yield world, plan["id"], goal.json()["id"]


def raw_request(method: str, path: str, token: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: carework", f"Authorization: Bearer {token}"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def leave_while_waiting(server: LiveServer, url: str, request: bytes) -> tuple[float, float]:
    """Send the request, wait until its backend waits for the lock, hang up; the seconds
    until the backend stopped waiting, and until then from the hang-up."""
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    await writer.drain()
    waited = await wait_for(lambda: _any(lock_waiters(url)))
    [pid] = await lock_waiters(url)
    writer.close()
    await writer.wait_closed()

    async def released() -> bool:
        return pid not in await lock_waiters(url)

    return waited, await wait_for(released)


async def _any(pending: Any) -> bool:
    return bool(await pending)


async def test_a_write_whose_client_left_stops_waiting_and_is_not_applied(
    server: LiveServer, url: str, scene: tuple[World, str, str]
) -> None:
    world, plan_id, goal_id = scene
    holder = await asyncpg.connect(url)
    try:
        lock = holder.transaction()
        await lock.start()
        await holder.execute("SELECT id FROM goal WHERE id = $1 FOR UPDATE", uuid.UUID(goal_id))
        body = json.dumps({"title": "Skrevet for ingen"}).encode()
        patch = raw_request(
            "PATCH", f"/api/v1/dps/plans/{plan_id}/goals/{goal_id}", world.clinician.token,
            body, If_Match='"1"',
        )  # fmt: skip
        _, stopped = await leave_while_waiting(server, url, patch)
        print(f"the abandoned PATCH stopped waiting {stopped * 1000:.0f} ms after the hang-up")
        await lock.rollback()
    finally:
        await holder.close()
    await asyncio.sleep(0.3)  # had it gone on waiting, it would now be applied
    [goal] = await fetch(url, "SELECT title, version FROM goal WHERE id = $1", uuid.UUID(goal_id))
    assert tuple(goal) == ("Sove bedre", 1)
    assert await audited(url, "update_goal", plan_id) == [("failed", 499)]
    await the_server_still_answers(server, world, plan_id, goal_id)


async def test_a_read_whose_client_left_stops_waiting(
    server: LiveServer, url: str, scene: tuple[World, str, str]
) -> None:
    world, plan_id, goal_id = scene
    holder = await asyncpg.connect(url)
    try:
        lock = holder.transaction()
        await lock.start()
        await holder.execute("LOCK TABLE goal IN ACCESS EXCLUSIVE MODE")
        read = raw_request("GET", f"/api/v1/dps/plans/{plan_id}", world.clinician.token)
        _, stopped = await leave_while_waiting(server, url, read)
        print(f"the abandoned read stopped waiting {stopped * 1000:.0f} ms after the hang-up")
        await lock.rollback()
    finally:
        await holder.close()
    assert await audited(url, "read_plan", plan_id) == [("failed", 499)]
    await the_server_still_answers(server, world, plan_id, goal_id)


async def audited(url: str, action: str, plan_id: str) -> list[tuple[str, int]]:
    """The plan's events of this action, once there are any (the cancelled request writes its
    event after the hang-up, in a transaction of its own)."""
    events: list[tuple[str, int]] = []

    async def written() -> bool:
        nonlocal events
        rows = await fetch(
            url,
            "SELECT outcome, status FROM audit_event WHERE action = $1 AND plan_id = $2",
            action,
            uuid.UUID(plan_id),
        )
        events = [(row["outcome"], row["status"]) for row in rows]
        return bool(events)

    await wait_for(written)
    return events


async def the_server_still_answers(
    server: LiveServer, world: World, plan_id: str, goal_id: str
) -> None:
    """More requests than the pool has connections, so a bad one would be handed out."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        reads = await asyncio.gather(
            *(
                client.get(f"/api/v1/dps/plans/{plan_id}", headers=world.clinician.headers)
                for _ in range(25)
            )
        )
        assert Counter(r.status_code for r in reads) == Counter({200: 25})
        changed = await client.patch(
            f"/api/v1/dps/plans/{plan_id}/goals/{goal_id}",
            json={"title": "Sove hele natten"},
            headers={**world.clinician.headers, "If-Match": '"1"'},
        )
        assert changed.status_code == 200, changed.text


# --------------------------------------------------------------------------------------------
# 4. The flood, at the default anonymous limit


async def test_a_bad_token_flood_is_refused_and_counted_in_a_few_rows(
    url: str, data_dir: Path, tmp_path: Path
) -> None:
    defaults = Settings.model_fields
    server = start(
        url,
        data_dir,
        tmp_path / "serve.log",
        CAREWORK_ANON_RATE_LIMIT=str(defaults["anon_rate_limit"].default),
        CAREWORK_REFUSAL_WINDOW_SECONDS=str(defaults["refusal_window_seconds"].default),
    )
    flood = 1500
    try:
        [before] = await fetch(
            url, "SELECT coalesce(max(occurred_at), now()) AS t FROM audit_event"
        )
        limits = httpx.Limits(max_connections=16)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as c:
            bad = {"Authorization": "Bearer not.a.jwt"}
            started = time.monotonic()
            answers = await asyncio.gather(
                *(c.get(f"/api/v1/dps/plans/{uuid.uuid4()}", headers=bad) for _ in range(flood))
            )
            took = time.monotonic() - started
        statuses = Counter(a.status_code for a in answers)
        # 120 a minute; a few more if the flood crosses into the next minute's count.
        assert 120 <= statuses[401] <= 135, statuses
        assert statuses[401] + statuses[429] == flood, statuses
        assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)
    finally:
        assert server.terminate() == 0, server.log()  # writes the open windows' summaries
    events = await fetch(
        url,
        "SELECT action, status, occurrences FROM audit_event WHERE occurred_at > $1 "
        "AND client_ip = '127.0.0.1' AND actor_sub IS NULL",
        before["t"],
    )
    print(
        f"{flood} bad-token requests in {took:.1f} s: {statuses[401]} x 401, "
        f"{statuses[429]} x 429, {len(events)} audit rows"
    )
    assert len(events) == 4, events
    assert sum(e["occurrences"] or 1 for e in events) == flood
