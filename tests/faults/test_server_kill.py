"""``kill -9`` of the server in the middle of writes, and every unanswered write retried with its
Idempotency-Key against a new server: exactly one plan per key, nothing half-written, no
acknowledged write lost.

A database of this module's own on the session's server (nothing here stops PostgreSQL; the
server processes are this module's).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker, make_nid, make_world
from tests.faults.load import NO_ANSWER, Answer, RequestOf, one_connection, sending, server_env
from tests.live import LiveServer

pytestmark = [pytest.mark.faults, pytest.mark.live]

WRITERS = 6


@pytest.fixture(scope="module")
def kill_url(embedded_pg: EmbeddedPostgres) -> str:
    url = embedded_pg.create_database("carework_kill")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def env(kill_url: str, data_dir: Path) -> dict[str, str]:
    return server_env(kill_url, data_dir)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kill")


def kill(server: LiveServer) -> None:
    """SIGKILL to the server's whole process group: no shutdown, no cleanup, mid-request."""
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)


@pytest.fixture
def new_server(env: dict[str, str], logs: Path) -> Iterator[LiveServer]:
    live = LiveServer([], env, logs / "after.log")
    try:
        yield live
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()
    assert "unhandled error" not in live.log_path.read_text()


async def test_kill_9_mid_write_and_idempotent_retries(
    env: dict[str, str], logs: Path, kill_url: str, tokens: TokenMaker, new_server: LiveServer
) -> None:
    world = make_world(tokens)
    bodies: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> the plan it creates

    def creates(w: int) -> RequestOf:
        def request(client: httpx.AsyncClient, n: int) -> httpx.Request:
            key = f"kill-{world.dps_unit}-{w}-{n}"
            bodies[key] = {
                "patient": {"nid": make_nid(), "name": f"Pasient {w}-{n}"},
                "nav_office": world.nav_office, "title": key, "status": "active",
            }  # fmt: skip
            return client.build_request(
                "POST", "/api/v1/dps/plans", json=bodies[key],
                headers={**world.clinician.headers, "Idempotency-Key": key},
            )  # fmt: skip

        return request

    first = LiveServer([], env, logs / "killed.log")
    answers: list[Answer] = []
    try:
        await asyncio.to_thread(first.wait_ready)
        clients = [one_connection(first) for _ in range(WRITERS)]
        async with sending({f"{w}": (clients[w], creates(w)) for w in range(WRITERS)}, answers):
            await asyncio.sleep(1.2)
            kill(first)
        for client in clients:
            await client.aclose()
    finally:
        if first.proc.poll() is None:
            kill(first)
    assert first.proc.returncode == -signal.SIGKILL

    # The n-th answer of a writer is that of its n-th key.
    keys = list(bodies)
    sent: dict[str, Answer] = {}
    counts = dict.fromkeys(range(WRITERS), 0)
    for a in answers:
        w = int(a.kind)
        sent[f"kill-{world.dps_unit}-{w}-{counts[w]}"] = a
        counts[w] += 1
    assert set(sent) == set(keys)
    acknowledged = {key: a for key, a in sent.items() if a.status == 201}
    unanswered = [key for key, a in sent.items() if a.status == NO_ANSWER]
    assert {a.status for a in sent.values()} <= {201, NO_ANSWER}
    assert unanswered, "the kill met no write in flight: it proved nothing"

    # A new server; every write without an answer is sent again, as it was.
    await asyncio.to_thread(new_server.wait_ready)
    retried: dict[str, httpx.Response] = {}
    async with httpx.AsyncClient(base_url=new_server.base_url, timeout=30) as client:
        for key in unanswered:
            retried[key] = await client.post(
                "/api/v1/dps/plans", json=bodies[key],
                headers={**world.clinician.headers, "Idempotency-Key": key},
            )  # fmt: skip
    assert {key: r.status_code for key, r in retried.items()} == dict.fromkeys(unanswered, 201)
    replayed = [key for key, r in retried.items() if r.headers.get("idempotent-replayed")]

    conn = await asyncpg.connect(kill_url)
    try:
        rows = await conn.fetch(
            """
            SELECT p.id, p.title,
                   (SELECT count(*) FROM change_event e
                     WHERE e.resource_id = p.id AND e.type = 'plan.created') AS changes,
                   (SELECT count(*) FROM audit_event a
                     WHERE a.resource_id = p.id::text AND a.action = 'create_plan'
                       AND a.outcome = 'allowed') AS audits,
                   (SELECT count(*) FROM idempotency_key k
                     WHERE k.key = p.title AND k.plan_id = p.id AND k.status = 201) AS keys
              FROM plan p WHERE p.title = ANY($1::text[])
            """,
            keys,
        )
    finally:
        await conn.close()
    plans_per_key: dict[str, list[str]] = {}
    for row in rows:
        plans_per_key.setdefault(row["title"], []).append(str(row["id"]))
    # Exactly one plan per key, and every one whole: its change event, audit event and key.
    assert {key: len(ids) for key, ids in plans_per_key.items()} == dict.fromkeys(keys, 1)
    assert [dict(r) for r in rows if (r["changes"], r["audits"], r["keys"]) != (1, 1, 1)] == []
    # No acknowledged write lost, and a retry answers with the plan the key made.
    answered = {key: a.body["id"] for key, a in acknowledged.items() if a.body}
    answered |= {key: r.json()["id"] for key, r in retried.items()}
    assert answered == {key: ids[0] for key, ids in plans_per_key.items()}
    print(
        f"\nkill -9 mid-write: {len(keys)} keys, {len(acknowledged)} acknowledged, "
        f"{len(unanswered)} unanswered and retried ({len(replayed)} had been stored: replayed); "
        f"1 plan per key, 0 partial, 0 lost"
    )
