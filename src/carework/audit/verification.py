"""Verification as a job: the API never re-hashes a large trail inside a request.

Each run is a row of ``audit_verification``. At most one runs at a time across every process
and replica: starting takes a transaction-level advisory lock and joins the run already going
instead of adding one. The process that starts a run runs it as a task beside its requests and
beats every ``HEARTBEAT_EVERY`` seconds (``heartbeat_at``, ``events_done``); a running row whose
beat is older than ``STALE_AFTER`` belongs to a process that died, and the next start marks it
failed. A finished run keeps its report (``chain.Verification``) as JSON.

Runs are not incremental: only re-hashing every event finds an old event changed in place, so
each run starts from every chain's genesis (about 45 to 55 s a million events on two busy cores,
``docs/operations/audit-checkpoints.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.audit import chain
from carework.audit.checkpoint import Location
from carework.models.audit import AuditVerification

log = logging.getLogger("carework.audit.verification")

HEARTBEAT_EVERY = 2.0
STALE_AFTER = timedelta(seconds=30)
_POLL_EVERY = 0.1
ADVISORY_LOCK = int.from_bytes(hashlib.sha256(b"carework:audit-verification").digest()[:8], "big",
                               signed=True)  # fmt: skip
_table: Table = AuditVerification.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Run:
    id: uuid.UUID
    state: str
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    events_done: int
    events_total: int | None
    result: dict[str, Any] | None

    @property
    def report(self) -> dict[str, Any] | None:
        """A finished run's report (``ok``, ``events``, ``chains``, ``first_broken``, ...)."""
        return self.result if self.state == "done" else None

    @property
    def error(self) -> str | None:
        return str(self.result.get("error")) if self.state == "failed" and self.result else None


def _run(row: Any) -> Run:
    return Run(**{name: getattr(row, name) for name in Run.__dataclass_fields__})


class Verifier:
    """Starts, runs and reads verification runs for one server process (``app.state``)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], location: Location) -> None:
        self.sessionmaker = sessionmaker
        self.location = location
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def start(self) -> Run:
        """The run going now, or a new one started in this process."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK})
            await session.execute(
                update(_table)
                .where(_table.c.state == "running")
                .where(_table.c.heartbeat_at < func.now() - STALE_AFTER)
                .values(state="failed", finished_at=func.now(),
                        result={"error": "the process running it stopped beating"})
            )  # fmt: skip
            going = (
                await session.execute(
                    select(_table).where(_table.c.state == "running").order_by(_table.c.started_at)
                )
            ).first()
            if going is not None:
                return _run(going)
            started = (
                await session.execute(
                    insert(_table).values(id=uuid.uuid4(), state="running").returning(_table)
                )
            ).one()
        run = _run(started)
        self._tasks[run.id] = asyncio.create_task(self._execute(run.id), name=f"verify:{run.id}")
        return run

    async def get(self, run_id: uuid.UUID) -> Run | None:
        async with self.sessionmaker() as session:
            row = (await session.execute(select(_table).where(_table.c.id == run_id))).first()
        return _run(row) if row is not None else None

    async def latest_done(self) -> Run | None:
        async with self.sessionmaker() as session:
            stmt = (
                select(_table)
                .where(_table.c.state == "done")
                .order_by(_table.c.started_at.desc())
                .limit(1)
            )
            row = (await session.execute(stmt)).first()
        return _run(row) if row is not None else None

    async def wait(self, run_id: uuid.UUID, seconds: float) -> Run | None:
        """The run once it has finished, or as it stands after ``seconds``. Waiting never
        cancels it: the caller going away leaves the run to finish."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.wait({task}, timeout=seconds)
            return await self.get(run_id)
        deadline = time.monotonic() + seconds
        while True:  # another process runs it: watch its row
            run = await self.get(run_id)
            if run is None or run.state != "running" or time.monotonic() >= deadline:
                return run
            await asyncio.sleep(_POLL_EVERY)

    async def _execute(self, run_id: uuid.UUID) -> None:
        seen = {"done": 0, "total": -1}
        counted = asyncio.Event()

        async def progress(done: int, total: int) -> None:
            seen["done"], seen["total"] = done, total
            counted.set()

        beat = asyncio.create_task(self._beat(run_id, seen, counted))
        try:
            async with self.sessionmaker() as session:
                found = await chain.verify(session, location=self.location, progress=progress)
            outcome, result = "done", asdict(found)
        except Exception as exc:
            log.warning("audit verification %s failed", run_id, exc_info=True)
            outcome, result = "failed", {"error": f"the run failed: {type(exc).__name__}"}
        finally:
            beat.cancel()
            self._tasks.pop(run_id, None)
        await self._finish(run_id, outcome, result, seen)

    async def _beat(self, run_id: uuid.UUID, seen: dict[str, int], counted: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):  # the first beat as soon as the total is known
            await asyncio.wait_for(counted.wait(), HEARTBEAT_EVERY)
        while True:
            try:
                async with self.sessionmaker() as session, session.begin():
                    await session.execute(
                        update(_table)
                        .where(_table.c.id == run_id, _table.c.state == "running")
                        .values(heartbeat_at=func.now(), events_done=seen["done"],
                                events_total=seen["total"] if seen["total"] >= 0 else None)
                    )  # fmt: skip
            except Exception:
                log.warning("audit verification %s: heartbeat failed", run_id, exc_info=True)
            await asyncio.sleep(HEARTBEAT_EVERY)

    async def _finish(
        self, run_id: uuid.UUID, state: str, result: dict[str, Any], seen: dict[str, int]
    ) -> None:
        """Record the outcome, unless the run was already failed as stale meanwhile."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(_table)
                .where(_table.c.id == run_id, _table.c.state == "running")
                .values(state=state, finished_at=func.now(), heartbeat_at=func.now(),
                        result=result, events_done=seen["done"],
                        events_total=seen["total"] if seen["total"] >= 0 else None)
            )  # fmt: skip

    async def close(self) -> None:
        """Stop this process's runs (the server is stopping) and say so in their rows."""
        tasks = dict(self._tasks)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        if not tasks:
            return
        with contextlib.suppress(Exception):  # best effort: staleness catches what this misses
            async with asyncio.timeout(5), self.sessionmaker() as session, session.begin():
                await session.execute(
                    update(_table)
                    .where(_table.c.id.in_(list(tasks)), _table.c.state == "running")
                    .values(state="failed", finished_at=func.now(),
                            result={"error": "the server stopped before the run finished"})
                )  # fmt: skip


@contextlib.asynccontextmanager
async def verifier(
    sessionmaker: async_sessionmaker[AsyncSession], location: Location
) -> AsyncIterator[Verifier]:
    """A ``Verifier`` for the block (the app's lifespan); its runs stop with it."""
    runs = Verifier(sessionmaker, location)
    try:
        yield runs
    finally:
        await runs.close()
