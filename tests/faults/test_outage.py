"""PostgreSQL stops and starts again under load: 503s with Retry-After while it is away, on
the same keep-alive connections, and service again at once when it is back; no acknowledged
write is lost.

A PostgreSQL of this module's own (``tests/postgres.py``), served by a real ``carework serve``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.factories import TokenMaker, create_plan, make_world
from tests.faults.load import (
    SERVED,
    Answer,
    RequestOf,
    mixed_load,
    one_connection,
    sending,
    server_env,
    unavailable_problems,
)
from tests.live import LiveServer
from tests.postgres import RestartablePostgres, restartable_postgres

pytestmark = [pytest.mark.faults, pytest.mark.live]

#: Set for the server, so the bound below is the setting's.
CONNECT_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def postgres() -> Iterator[RestartablePostgres]:
    with restartable_postgres("cwout", "carework_outage") as pg:
        yield pg


@pytest.fixture(scope="module")
def server(
    postgres: RestartablePostgres, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = server_env(
        postgres.url, data_dir, DB_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT),
        MAX_OPEN_GOALS="100000",  # the write load adds goals to one plan for as long as it runs
    )  # fmt: skip
    live = LiveServer([], env, tmp_path_factory.mktemp("outage") / "serve.log")
    try:
        live.wait_ready()
        yield live
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()
    assert "unhandled error" not in live.log_path.read_text()


async def test_database_outage_under_mixed_load(
    server: LiveServer, postgres: RestartablePostgres, tokens: TokenMaker
) -> None:
    world = make_world(tokens)
    async with one_connection(server) as setup:
        plan_id = (await create_plan(setup, world))["id"]
    loads = mixed_load(world, plan_id)
    clients = {kind: one_connection(server) for kind in loads}
    answers: list[Answer] = []
    try:
        async with sending({k: (clients[k], loads[k]) for k in loads}, answers):
            await asyncio.sleep(0.5)
            stopping = time.monotonic()
            await postgres.stop()
            stopped = time.monotonic()
            await asyncio.sleep(2.0)
            starting = time.monotonic()
            await postgres.start()  # returns once it accepts a connection
            back = time.monotonic()
            await asyncio.sleep(1.5)
    finally:
        for client in clients.values():
            await client.aclose()

    # Never a 500, never a dropped request.
    statuses = {(a.kind, a.status) for a in answers}
    assert statuses <= {(k, s) for k, served in SERVED.items() for s in (served, 503)}, statuses

    # Before the stop everything was served.
    before = [a for a in answers if a.ended < stopping]
    assert {a.kind for a in before} == set(loads)
    assert all(a.status == SERVED[a.kind] for a in before), before

    # While it was down: every answer a 503 that says why and when to come back, and fast.
    down = [a for a in answers if a.within(stopped, starting)]
    assert list(unavailable_problems(down)) == []
    per_kind = {kind: sum(a.kind == kind for a in down) for kind in loads}
    assert min(per_kind.values()) >= 5, per_kind
    slowest = max(a.seconds for a in down)
    assert slowest < CONNECT_TIMEOUT, slowest

    # Each client kept its one connection from the first request to the last.
    ports = {kind: {a.port for a in answers if a.kind == kind} for kind in loads}
    assert all(len(p) == 1 and None not in p for p in ports.values()), ports

    # Back at once: each kind's first request sent after PostgreSQL accepts again is served,
    # and so is every one after it.
    recovery = {}
    for kind in loads:
        after = [a for a in answers if a.kind == kind and a.started >= back]
        assert after, kind
        assert [a.status for a in after] == [SERVED[kind]] * len(after), (kind, after[:3])
        recovery[kind] = after[0].ended - back
    assert max(recovery.values()) < 2.0, recovery
    print(
        f"\noutage: {len(down)} answers while down, all 503 ({per_kind}); slowest 503 "
        f"{slowest * 1000:.0f} ms; stop took {stopped - stopping:.2f} s; first answer after "
        f"restart {max(recovery.values()) * 1000:.0f} ms (slowest kind)"
    )


async def test_restart_under_write_load_loses_no_acknowledged_write(
    server: LiveServer, postgres: RestartablePostgres, tokens: TokenMaker
) -> None:
    world = make_world(tokens)
    async with one_connection(server) as setup:
        plan_id = (await create_plan(setup, world))["id"]
    url = f"/api/v1/dps/plans/{plan_id}/goals"
    writers = 4
    clients = [one_connection(server) for _ in range(writers)]
    answers: list[Answer] = []

    def writes(w: int) -> RequestOf:
        return lambda c, n: c.build_request(
            "POST", url, headers=world.clinician.headers,
            json={"domain": "treatment", "title": f"w{w}-{n}"},
        )  # fmt: skip

    sent: dict[str, Answer] = {}
    try:
        async with sending({f"w{w}": (clients[w], writes(w)) for w in range(writers)}, answers):
            await asyncio.sleep(0.5)
            await postgres.restart()
            await asyncio.sleep(0.8)
    finally:
        for client in clients:
            await client.aclose()
    counts = {w: 0 for w in range(writers)}
    for a in answers:  # the n-th answer of a writer answers its n-th request
        w = int(a.kind[1:])
        sent[f"w{w}-{counts[w]}"] = a
        counts[w] += 1

    acknowledged = {title for title, a in sent.items() if a.status == 201}
    failed = {title for title, a in sent.items() if a.status != 201}
    assert {sent[t].status for t in failed} <= {503}
    assert list(unavailable_problems([sent[t] for t in failed])) == []
    assert failed, "the restart met no write: it proved nothing"

    conn = await asyncpg.connect(postgres.url)
    try:
        rows = await conn.fetch(
            """
            SELECT g.title,
                   (SELECT count(*) FROM change_event e
                     WHERE e.resource_id = g.id AND e.type = 'goal.created') AS changes,
                   (SELECT count(*) FROM audit_event a
                     WHERE a.resource_id = g.id::text AND a.outcome = 'allowed') AS audits
              FROM goal g WHERE g.plan_id = $1
            """,
            plan_id,  # asyncpg takes the id as text for a uuid parameter
        )
    finally:
        await conn.close()
    stored = {row["title"]: (row["changes"], row["audits"]) for row in rows}
    lost = acknowledged - set(stored)
    assert lost == set(), f"{len(lost)} acknowledged writes lost"
    # Nothing partial: every goal stored came with its change event and its audit event.
    partial = {title: n for title, n in stored.items() if n != (1, 1)}
    assert partial == {}
    # A write that failed left nothing, unless its commit was cut off with the connection
    # (stored, never acknowledged: what Idempotency-Key is for).
    in_doubt = set(stored) - acknowledged
    assert in_doubt <= failed
    assert len(in_doubt) <= 1 * writers
    print(
        f"\nrestart under writes: {len(acknowledged)} acknowledged, all stored; {len(failed)} "
        f"503s, {len(in_doubt)} of them stored all the same (commit in doubt); 0 partial"
    )
