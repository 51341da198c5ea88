"""Periodic jobs each server process runs beside its requests (audit checkpoints, purges).

A job that fails (the database is down) logs and waits for its next round: housekeeping never
takes the server down. Rounds are jittered so that the workers and replicas that all run the
same job do not hit the database in step; a job that must run once across them takes a
PostgreSQL advisory lock itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("carework.housekeeping")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    #: Seconds between rounds; 0 or less turns the job off.
    interval: float
    run: Callable[[], Awaitable[None]]


async def _loop(job: Job) -> None:
    while True:
        await asyncio.sleep(job.interval * random.uniform(0.8, 1.2))  # noqa: S311 (jitter)
        try:
            await job.run()
        except Exception:
            log.warning("housekeeping job %s failed; it runs again later", job.name, exc_info=True)


@contextlib.asynccontextmanager
async def running(jobs: Sequence[Job]) -> AsyncIterator[None]:
    """Run the jobs while the block runs; cancel them when it ends."""
    tasks = [
        asyncio.create_task(_loop(job), name=f"housekeeping:{job.name}")
        for job in jobs
        if job.interval > 0
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
