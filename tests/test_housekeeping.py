"""Housekeeping jobs run periodically, survive their own failures, and stop with the block."""

from __future__ import annotations

import asyncio

from carework.operations import housekeeping


async def test_a_job_runs_again_after_it_failed_and_stops_with_the_block() -> None:
    rounds: list[int] = []

    async def flaky() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise ConnectionError("the database is down")

    job = housekeeping.Job("flaky", 0.01, flaky)
    async with housekeeping.running([job, housekeeping.Job("off", 0, flaky)]):
        for _ in range(200):
            if len(rounds) >= 3:
                break
            await asyncio.sleep(0.01)
    assert len(rounds) >= 3
    stopped_at = len(rounds)
    await asyncio.sleep(0.05)
    assert len(rounds) == stopped_at
