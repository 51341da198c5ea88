"""Verification runs as a job (``audit.verification``), through the API, on a database of its
own: one run at a time, joined rather than duplicated; a run whose process stopped beating is
failed and replaced; ``GET /api/v1/audit/verify`` waits at most ~2 s and otherwise answers from
the newest finished run (or 202 when there is none); a stopping server fails its runs.

A run is held up for real by a checkpoint "file" that is a FIFO nobody writes to: reading the
newest checkpoint hangs as it would on a hung network mount.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from carework.app import create_app
from carework.audit import verification
from carework.audit.checkpoint import Location
from carework.config import Settings
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.domain_helpers import assert_problem
from tests.factories import Actor, TokenMaker, create_plan, make_world

VERIFY = "/api/v1/audit/verify"
RUNS = "/api/v1/audit/verifications"


@dataclass
class Runs:
    app: FastAPI
    client: httpx.AsyncClient
    auditor: Actor
    checkpoints: Path

    async def sql(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        async with self.app.state.engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [dict(r) for r in result.mappings().all()] if result.returns_rows else []

    async def pretend_running(self, heartbeat_age: float) -> str:
        """A run another process holds, its last beat ``heartbeat_age`` seconds ago."""
        run_id = str(uuid.uuid4())
        await self.sql(
            "INSERT INTO audit_verification (id, state, started_at, heartbeat_at) VALUES "
            "(:id, 'running', now() - make_interval(secs => :age), "
            "now() - make_interval(secs => :age))",
            id=run_id, age=heartbeat_age,
        )  # fmt: skip
        return run_id

    async def end_running(self) -> None:
        await self.sql("UPDATE audit_verification SET state = 'failed' WHERE state = 'running'")

    async def read(self, run_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{RUNS}/{run_id}", headers=self.auditor.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
async def runs(
    embedded_pg: EmbeddedPostgres,
    data_dir: Path,
    tokens: TokenMaker,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Runs]:
    url = embedded_pg.create_database("cw_audit_runs")
    await asyncio.to_thread(migrate.upgrade, url)
    checkpoints = tmp_path_factory.mktemp("runs-checkpoints")
    settings = Settings(
        database_url=url, dev_auth=True, data_dir=data_dir, audit_checkpoint_dir=checkpoints,
        audit_checkpoint_interval_seconds=0,
    )  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runs.test") as client:
            world = make_world(tokens)
            await create_plan(client, world)
            yield Runs(app, client, world.auditor, checkpoints)


@contextlib.contextmanager
def hung_checkpoint(directory: Path) -> Iterator[None]:
    """The newest checkpoint is a FIFO: reading it blocks until the block ends, when it gets
    a few bytes that are no checkpoint (and is removed)."""
    fifo = directory / "checkpoint-20991231T000000000000Z-00000000.json"
    os.mkfifo(fifo, 0o600)
    try:
        yield
    finally:
        deadline = time.monotonic() + 5
        while True:  # the blocked reader is the other end; a writer cannot open without one
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            os.write(fd, b"not json")
            os.close(fd)
            break
        fifo.unlink()


async def wait_until_finished(runs: Runs, run_id: str) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            run = await runs.read(run_id)
            if run["state"] != "running":
                return run
            await asyncio.sleep(0.05)


async def test_a_run_is_started_in_the_background_and_reports_its_progress(runs: Runs) -> None:
    started = await runs.client.post(RUNS, headers=runs.auditor.headers)
    assert started.status_code == 202, started.text
    run = started.json()
    assert started.headers["location"] == f"{RUNS}/{run['id']}"
    assert started.headers["retry-after"] == "2"

    done = await wait_until_finished(runs, run["id"])
    assert done["state"] == "done", done
    assert done["report"]["ok"] is True, done
    assert done["report"]["checkpoint"]["state"] == "none"  # none written here
    assert done["events_done"] == done["events_total"] == done["report"]["events"] > 0
    assert done["finished_at"] >= done["started_at"]
    assert done["error"] is None


async def test_verify_answers_fresh_from_the_run_it_started(runs: Runs) -> None:
    [before] = await runs.sql("SELECT count(*) AS n FROM audit_event")
    response = await runs.client.get(VERIFY, headers=runs.auditor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    assert body["events"] == before["n"]  # everything up to this request, not an old count
    assert body["run"]["state"] == "done"
    assert body["verified_at"] == body["run"]["started_at"]


async def test_a_run_going_elsewhere_is_joined_not_duplicated(runs: Runs) -> None:
    finished = (await runs.client.get(VERIFY, headers=runs.auditor.headers)).json()
    elsewhere = await runs.pretend_running(heartbeat_age=0)
    try:
        started = await runs.client.post(RUNS, headers=runs.auditor.headers)
        assert started.status_code == 202
        assert started.json()["id"] == elsewhere

        began = time.monotonic()
        response = await runs.client.get(VERIFY, headers=runs.auditor.headers)
        waited = time.monotonic() - began
        assert response.status_code == 200, response.text
        body = response.json()
        # It waited for the other run (about 2 s), then answered from the newest finished one.
        assert 1.5 < waited < 10, waited
        assert body["run"]["id"] == elsewhere
        assert body["run"]["state"] == "running"
        assert body["verified_at"] == finished["verified_at"]
        assert body["ok"] is True
        [count] = await runs.sql("SELECT count(*) AS n FROM audit_verification "
                                 "WHERE state = 'running'")  # fmt: skip
        assert count["n"] == 1
    finally:
        await runs.end_running()


async def test_a_run_whose_process_stopped_beating_is_failed_and_replaced(runs: Runs) -> None:
    stale_after = verification.STALE_AFTER.total_seconds()
    dead = await runs.pretend_running(heartbeat_age=stale_after + 5)
    started = await runs.client.post(RUNS, headers=runs.auditor.headers)
    assert started.status_code == 202
    assert started.json()["id"] != dead

    failed = await runs.read(dead)
    assert failed["state"] == "failed"
    assert failed["error"] == "the process running it stopped beating"
    assert failed["report"] is None
    assert (await wait_until_finished(runs, started.json()["id"]))["state"] == "done"


async def test_with_no_finished_run_verify_answers_202_and_the_run_keeps_beating(
    runs: Runs,
) -> None:
    await runs.sql("DELETE FROM audit_verification")
    with hung_checkpoint(runs.checkpoints):
        response = await runs.client.get(VERIFY, headers=runs.auditor.headers)
        assert response.status_code == 202, response.text
        run = response.json()
        assert run["state"] == "running"
        assert response.headers["location"] == f"{RUNS}/{run['id']}"
        assert response.headers["retry-after"] == "2"
        again = await runs.client.get(VERIFY, headers=runs.auditor.headers)
        assert (again.status_code, again.json()["id"]) == (202, run["id"])  # the same run
        await asyncio.sleep(verification.HEARTBEAT_EVERY + 0.5)
        [row] = await runs.sql(
            "SELECT heartbeat_at > started_at AS beating, state FROM audit_verification "
            "WHERE id = :id", id=run["id"],
        )  # fmt: skip
        assert row == {"beating": True, "state": "running"}
    # The "checkpoint" it finally read is no checkpoint: that run reports the trail broken.
    done = await wait_until_finished(runs, run["id"])
    assert done["report"]["ok"] is False
    assert done["report"]["first_broken"]["reason"] == "the newest checkpoint cannot be read"


async def test_a_stopping_server_fails_its_runs(runs: Runs) -> None:
    await runs.end_running()
    own = verification.Verifier(
        runs.app.state.sessionmaker, Location(runs.checkpoints, runs.checkpoints / "key.pem")
    )
    with hung_checkpoint(runs.checkpoints):
        run = await own.start()
        assert run.state == "running"
        await asyncio.sleep(0.5)  # until it hangs reading the checkpoint
        await own.close()
    stopped = await runs.read(str(run.id))
    assert stopped["state"] == "failed"
    assert stopped["error"] == "the server stopped before the run finished"


async def test_an_unknown_run_is_404(runs: Runs) -> None:
    response = await runs.client.get(f"{RUNS}/{uuid.uuid4()}", headers=runs.auditor.headers)
    assert_problem(response, 404)
