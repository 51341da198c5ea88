"""Audit checkpoints as files (``audit.checkpoint``): new, private, signed, never overwritten;
the service's periodic job writes one per round across processes (``app.housekeeping_jobs``).

On the session database, read through the session app's engine; the checkpoints go to each
test's own directory (a checkpoint belongs to one database).
"""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from carework.app import housekeeping_jobs
from carework.audit import checkpoint
from carework.config import Settings
from carework.files import create_exclusively
from carework.operations import housekeeping


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def location(tmp_path: Path) -> checkpoint.Location:
    return checkpoint.Location(tmp_path / "store" / "checkpoints", tmp_path / "keys" / "key.pem")


async def test_a_checkpoint_is_a_new_private_signed_file_of_every_head(
    app: FastAPI, location: checkpoint.Location
) -> None:
    sessionmaker = app.state.sessionmaker
    first = await checkpoint.take(sessionmaker, location)
    second = await checkpoint.take(sessionmaker, location)

    assert first != second
    assert sorted(p.name for p in location.directory.iterdir()) == [first.name, second.name]
    assert mode(location.directory) == 0o700
    assert mode(first) == mode(second) == mode(location.key_file) == 0o600
    assert location.key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")

    async with app.state.engine.connect() as conn:
        heads = {r.chain: [r.seq, r.hash] for r in await conn.execute(
            text("SELECT chain, seq, hash FROM audit_chain_head"))}  # fmt: skip
        events = (await conn.execute(text("SELECT count(*) FROM audit_event"))).scalar_one()
    payload = json.loads(second.read_text())["payload"]
    assert payload["chains"] == heads  # nothing was appended meanwhile in this worker
    assert payload["events"] == events == sum(seq for seq, _ in heads.values())

    anchor = checkpoint.newest(location)
    assert (anchor.file, anchor.problem) == (second.name, None)
    assert anchor.summary()["state"] == "checked"


def test_a_checkpoint_name_is_never_written_twice(location: checkpoint.Location) -> None:
    location.directory.mkdir(parents=True)
    taken = location.directory / "checkpoint-20261201T000000000000Z-00000000.json"
    create_exclusively(taken, b"first")
    with pytest.raises(FileExistsError):
        create_exclusively(taken, b"second")
    assert taken.read_bytes() == b"first"
    assert [p.name for p in location.directory.iterdir()] == [taken.name]  # no leftovers


def test_without_any_checkpoint_verification_says_so(location: checkpoint.Location) -> None:
    anchor = checkpoint.newest(location)
    assert anchor.summary() == {
        "state": "none", "detail": "no checkpoint has been written yet", "file": None,
        "created_at": None, "events": None, "chains": None,
    }  # fmt: skip
    assert not location.key_file.exists()  # reading never creates a key


async def test_the_periodic_job_writes_one_checkpoint_a_round_however_many_run_it(
    app: FastAPI, location: checkpoint.Location
) -> None:
    sessionmaker = app.state.sessionmaker
    rounds = await asyncio.gather(
        *(checkpoint.take_periodic(sessionmaker, location, 300) for _ in range(6))
    )
    assert len([r for r in rounds if r is not None]) == 1
    # Within half an interval of it, the next rounds write nothing.
    assert await checkpoint.take_periodic(sessionmaker, location, 300) is None
    # A short interval: it is due again.
    assert await checkpoint.take_periodic(sessionmaker, location, 0.001) is not None
    assert len(list(location.directory.iterdir())) == 2


async def test_a_planted_future_checkpoint_does_not_stop_the_job(
    app: FastAPI, location: checkpoint.Location
) -> None:
    location.directory.mkdir(parents=True)
    planted = location.directory / "checkpoint-99991231T000000000000Z-00000000.json"
    planted.write_text("{}")
    written = await checkpoint.take_periodic(app.state.sessionmaker, location, 300)
    assert written is not None
    # It is the newest by name, and unreadable: verification reports that, not ok.
    assert checkpoint.newest(location).problem == "the newest checkpoint cannot be read"


async def test_the_service_runs_the_checkpoint_job_at_its_interval(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    every = settings.model_copy(
        update={"audit_checkpoint_dir": tmp_path / "cp", "audit_checkpoint_interval_seconds": 0.05}
    )
    jobs = [job for job in housekeeping_jobs(every, app.state.sessionmaker, app.state.refusals)
            if job.name == "audit-checkpoint"]  # fmt: skip
    assert [job.interval for job in jobs] == [0.05]
    async with housekeeping.running(jobs):
        for _ in range(500):
            if len(list((tmp_path / "cp").glob(checkpoint.GLOB))) >= 2:
                break
            await asyncio.sleep(0.02)
    assert len(list((tmp_path / "cp").glob(checkpoint.GLOB))) >= 2
    off = settings.model_copy(update={"audit_checkpoint_interval_seconds": 0})
    intervals = {
        job.name: job.interval
        for job in housekeeping_jobs(off, app.state.sessionmaker, app.state.refusals)
    }
    assert intervals["audit-checkpoint"] == 0
