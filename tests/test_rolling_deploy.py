"""Rolling deploys with real processes: ``carework migrate`` runs at once take turns, and
SIGTERM drains the requests in flight before ``carework serve`` exits.

(Readiness across migrations needs no process of its own: ``tests/test_schema_compatibility.py``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest

from carework.auth.dev_keys import load_or_create_dev_key
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker, World, create_plan, make_world
from tests.live import (
    CAREWORK,
    LiveServer,
    child_env,
    clients_across_workers,
    postgres_processes,
    wait_until_gone,
)

pytestmark = pytest.mark.live

MIGRATORS = 3


async def wait_for(
    conn: asyncpg.Connection, query: str, *args: object, expect: int, within: float = 60
) -> None:
    """Until ``query`` counts ``expect`` rows (polled on ``conn``, outside any transaction)."""
    deadline = time.monotonic() + within
    while (found := await conn.fetchval(query, *args)) != expect:
        assert time.monotonic() < deadline, f"{found} rows, not {expect}, after {within} s"
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------------------------
# carework migrate, several at once


async def test_migrate_runs_at_once_take_turns(embedded_pg: EmbeddedPostgres) -> None:
    """Several ``carework migrate`` on one fresh database, started together, all succeed: one
    migrates, the others wait for it and find the database at head.

    So that they really run at once, whatever their start-up times: the test creates the
    (empty) version table Alembic reads first and locks it, starts the runs, waits until every
    one is blocked in the database, and lets go.
    """
    url = embedded_pg.create_database("cw_migrate_race")
    gate = await asyncpg.connect(url)
    watcher = await asyncpg.connect(url)
    try:
        await gate.execute(
            "CREATE TABLE alembic_version (version_num varchar(32) NOT NULL,"
            " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        gate_open = gate.transaction()
        await gate_open.start()
        await gate.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")

        env = child_env(DATABASE_URL=url)
        runs = [
            await asyncio.create_subprocess_exec(
                CAREWORK,
                "migrate",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(MIGRATORS)
        ]
        try:
            await wait_for(
                watcher,
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'",
                expect=MIGRATORS,
            )
            await gate_open.rollback()
            async with asyncio.timeout(120):
                errs = [(await run.communicate())[1].decode() for run in runs]
        finally:
            for run in runs:
                with contextlib.suppress(ProcessLookupError):
                    run.kill()
        codes = [run.returncode for run in runs]
        assert codes == [0] * MIGRATORS, "\n".join(err[-2000:] for err in errs)

        migrated = [err for err in errs if "Running upgrade" in err]
        waited = [err for err in errs if "another migration holds the lock" in err]
        assert len(migrated) == 1, "exactly one run migrates; the others find the work done"
        assert len(waited) == MIGRATORS - 1

        versions = await watcher.fetch("SELECT version_num FROM alembic_version")
        assert [row["version_num"] for row in versions] == [migrate.head_revision()]
        head = migrate.head_revision()
        served = await watcher.fetchval(
            "SELECT count(*) FROM schema_compatibility WHERE revision = $1 AND code_revision = $1",
            head,
        )
        assert served == 1
    finally:
        await gate.close()
        await watcher.close()


# --------------------------------------------------------------------------------------------
# SIGTERM drains


SHUTDOWN_TIMEOUT = 20
#: Spawned workers import the app afresh, after the embedded database's initdb and migration:
#: on 2 cores shared with other test runs (load 9) that took over 30 s.
STARTUP_ALLOWANCE = 120
HOLD_AFTER_SIGTERM = 1.0  # how long the test keeps the requests in flight after SIGTERM


@contextlib.asynccontextmanager
async def plain_clients(server: LiveServer, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` clients, each with one open connection to the (single-process) server."""
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=server.base_url,
                    timeout=60.0,
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                )
            )
            for _ in range(count)
        ]
        warm = await asyncio.gather(*(c.get("/healthz") for c in clients))
        assert all(r.status_code == 200 for r in warm)
        yield clients


def wait_started(server: LiveServer, workers: int, within: float = 30) -> None:
    """Until every worker process has finished its start-up (uvicorn logs it)."""
    deadline = time.monotonic() + within
    while server.log(tail=10**6).count("Application startup complete") < workers:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)


def wait_refused(port: int, within: float = 5) -> None:
    """Until a new connection to ``port`` is refused."""
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                pass
        except ConnectionRefusedError:
            return
        assert time.monotonic() < deadline, f"still accepting connections after {within} s"
        time.sleep(0.02)


def goals_title(i: int) -> str:
    return f"Mål {i}"


async def goals_to_patch(server: LiveServer, world: World, count: int) -> list[tuple[str, str]]:
    """``count`` goals on a fresh plan: (their URL, their ETag)."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as client:
        plan = await create_plan(client, world)
        plan_url = f"/api/v1/dps/plans/{plan['id']}"
        goals = []
        for i in range(count):
            response = await client.post(
                f"{plan_url}/goals",
                json={"domain": "treatment", "title": goals_title(i)},
                headers=world.clinician.headers,
            )
            assert response.status_code == 201, response.text
            goals.append((f"{plan_url}/goals/{response.json()['id']}", response.headers["etag"]))
        return goals


@dataclass
class Deployment:
    """A ``carework serve`` to start, the database it uses, and tokens it trusts."""

    args: list[str]
    env: dict[str, str]
    tokens: TokenMaker
    pgdata: Path | None  # the embedded database's, which the server stops itself

    def database_url(self) -> str:
        """The URL the test connects with (the embedded server's: from its postmaster.pid)."""
        if self.pgdata is None:
            return self.env["DATABASE_URL"]
        socket_dir = (self.pgdata / "postmaster.pid").read_text().splitlines()[4]
        return f"postgresql://postgres@/carework?host={socket_dir}"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """For an embedded database: its Unix socket path must stay under ~100 bytes."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="cwd"))
    try:
        yield path
    finally:
        for process in postgres_processes(path / "pgdata"):  # only if the test failed
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        psutil.wait_procs(postgres_processes(path / "pgdata"), timeout=10)
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize(
    ("workers", "database"), [(1, "external"), (2, "embedded")], ids=["1-worker", "2-workers"]
)
async def test_sigterm_lets_every_request_in_flight_finish(
    database_url: str,
    data_dir: Path,
    short_dir: Path,
    tmp_path: Path,
    tokens: TokenMaker,
    workers: int,
    database: str,
) -> None:
    """Goal PATCHes wait on row locks the test holds; SIGTERM; the server refuses new
    connections at once, yet every PATCH in flight answers 200 and is saved once the locks
    go, and the process exits 0 within the drain timeout. With the embedded database, that
    database stops only after the drain (one PATCH, the last, is still in flight while the
    others' writes are read back)."""
    timeout = {"CAREWORK_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT)}
    if database == "external":
        deployment = Deployment(
            ["--workers", str(workers)],
            child_env(
                DATABASE_URL=database_url,
                CAREWORK_DEV_AUTH="1",
                CAREWORK_DATA_DIR=str(data_dir),
                **timeout,
            ),
            tokens,
            None,
        )
    else:
        load_or_create_dev_key(short_dir / "dev-signing-key.pem")  # before the workers race
        deployment = Deployment(
            ["--workers", str(workers), "--data-dir", str(short_dir)],
            child_env(**timeout),
            TokenMaker(short_dir / "dev-signing-key.pem"),
            short_dir / "pgdata",
        )
    server = LiveServer(deployment.args, deployment.env, tmp_path / "serve.log")
    connections: list[asyncpg.Connection] = []
    try:
        server.wait_ready(STARTUP_ALLOWANCE)
        wait_started(server, workers, STARTUP_ALLOWANCE)
        url = deployment.database_url()
        holder, last, watcher = connections = [await asyncpg.connect(url) for _ in range(3)]
        world = make_world(deployment.tokens)
        opened = clients_across_workers(server, 3) if workers > 1 else plain_clients(server, 4)
        async with opened as clients:
            goals = await goals_to_patch(server, world, len(clients))
            ids = [url.rsplit("/", 1)[1] for url, _ in goals]
            held, held_last = holder.transaction(), last.transaction()
            await held.start()
            await held_last.start()
            await holder.execute(
                "SELECT 1 FROM goal WHERE id = ANY($1::uuid[]) FOR UPDATE", ids[:-1]
            )
            await last.execute("SELECT 1 FROM goal WHERE id = $1 FOR UPDATE", ids[-1])
            patches = [
                asyncio.create_task(
                    client.patch(
                        url,
                        json={"title": f"Lagret under stopp {i}"},
                        headers={**world.clinician.headers, "If-Match": etag},
                    )
                )
                for i, (client, (url, etag)) in enumerate(zip(clients, goals, strict=True))
            ]
            await wait_for(
                watcher,
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE cardinality(pg_blocking_pids(pid)) > 0",
                expect=len(patches),
                within=30,
            )

            sigterm_at = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(wait_refused, server.port)
            refused_after = time.monotonic() - sigterm_at
            await asyncio.sleep(max(0.0, HOLD_AFTER_SIGTERM - refused_after))
            assert server.proc.poll() is None, "the server left before its requests finished"
            assert not any(p.done() for p in patches)

            await held.rollback()
            responses = await asyncio.gather(*patches[:-1])
            assert [r.status_code for r in responses] == [200] * len(responses), [
                r.text for r in responses
            ]
            # Saved while the server still drains (the last PATCH keeps it from finishing).
            titles = await watcher.fetch("SELECT title FROM goal WHERE id = ANY($1::uuid[])", ids)
            saved = [f"Lagret under stopp {i}" for i in range(len(patches) - 1)]
            assert sorted(row["title"] for row in titles) == sorted(
                [*saved, goals_title(len(patches) - 1)]
            )
            await held_last.rollback()
            response = await patches[-1]
            assert response.status_code == 200, response.text
            assert response.json()["title"] == f"Lagret under stopp {len(patches) - 1}"
            # Each answer ends its connection: the client goes elsewhere for the next request.
            assert {r.headers.get("connection") for r in [*responses, response]} == {"close"}
            exit_code = await asyncio.to_thread(server.proc.wait, SHUTDOWN_TIMEOUT + 10)
            drained_in = time.monotonic() - sigterm_at
        assert exit_code == 0, server.log()
        assert drained_in < SHUTDOWN_TIMEOUT
        if deployment.pgdata is not None:
            assert not wait_until_gone(deployment.pgdata), "the embedded database still runs"
        print(  # the figures docs/operations/deploys.md quotes (pytest -s)
            f"\nworkers={workers} ({database}): {len(patches)} in flight, all 200; refused "
            f"new connections after {refused_after:.2f} s; exited {drained_in:.2f} s after "
            f"SIGTERM ({drained_in - HOLD_AFTER_SIGTERM:.2f} s after the first locks went)"
        )
    finally:
        for conn in connections:  # first: a server still draining waits for their locks
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await conn.close()
        server.terminate()


async def test_requests_still_in_flight_at_the_drain_timeout_are_cut_off(
    database_url: str, data_dir: Path, tmp_path: Path, tokens: TokenMaker
) -> None:
    """The drain is bounded: at CAREWORK_SHUTDOWN_TIMEOUT_SECONDS the requests still waiting
    are cancelled (their transactions roll back) and the process exits 0."""
    timeout = 1
    env = child_env(
        DATABASE_URL=database_url,
        CAREWORK_DEV_AUTH="1",
        CAREWORK_DATA_DIR=str(data_dir),
        CAREWORK_SHUTDOWN_TIMEOUT_SECONDS=str(timeout),
    )
    server = LiveServer([], env, tmp_path / "serve.log")
    holder = await asyncpg.connect(database_url)
    watcher = await asyncpg.connect(database_url)
    try:
        server.wait_ready()
        world = make_world(tokens)
        async with plain_clients(server, 2) as clients:
            goals = await goals_to_patch(server, world, len(clients))
            ids = [url.rsplit("/", 1)[1] for url, _ in goals]
            held = holder.transaction()
            await held.start()
            await holder.execute("SELECT 1 FROM goal WHERE id = ANY($1::uuid[]) FOR UPDATE", ids)
            patches = [
                asyncio.create_task(
                    client.patch(
                        url,
                        json={"title": "Aldri lagret"},
                        headers={**world.clinician.headers, "If-Match": etag},
                    )
                )
                for client, (url, etag) in zip(clients, goals, strict=True)
            ]
            await wait_for(
                watcher,
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                holder.get_server_pid(),
                expect=len(patches),
                within=30,
            )
            sigterm_at = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            exit_code = await asyncio.to_thread(server.proc.wait, 30)
            stopped_in = time.monotonic() - sigterm_at
            outcomes = await asyncio.gather(*patches, return_exceptions=True)
            await held.rollback()
        print(f"\ncut off after {stopped_in:.2f} s: {outcomes}")
        assert exit_code == 0, server.log()
        assert timeout <= stopped_in < timeout + 5
        for outcome in outcomes:  # a fault, never a 500: nothing was saved, send it again
            assert isinstance(outcome, httpx.Response), outcome
            assert outcome.status_code == 503, outcome.text
            assert outcome.headers["retry-after"] == "1"
            assert outcome.headers["content-type"] == "application/problem+json"
            assert outcome.headers["x-request-id"]
        titles = await watcher.fetch("SELECT title FROM goal WHERE id = ANY($1::uuid[])", ids)
        assert "Aldri lagret" not in {row["title"] for row in titles}
    finally:
        await holder.close()
        server.terminate()
        await watcher.close()
