"""The engine's connection pool, counting who waits for a connection.

SQLAlchemy's pool tells how many connections are checked out, idle and over its size
(``checkedout()``, ``checkedin()``, ``overflow()``), but not how many callers are waiting for
one, nor how long they waited. ``CountingQueuePool`` counts both around ``Pool.connect()``, the
pool's public door every checkout goes through (``Engine.raw_connection``), in plain numbers:
no metrics library on the hot path. ``operations.metrics`` reads them when it samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection


@dataclass(frozen=True, slots=True)
class PoolState:
    """One look at a pool."""

    size: int
    in_use: int
    idle: int
    overflow: int
    waiting: int
    #: Since the pool was made: checkouts, and the seconds they took (waiting included).
    checkouts: int
    checkout_seconds: float


class CountingQueuePool(AsyncAdaptedQueuePool):
    """``AsyncAdaptedQueuePool`` that counts the callers inside ``connect()``: a caller is there
    only while it waits, for a free connection or for a new one to open (a connection at hand
    is taken without yielding to the event loop)."""

    waiting = 0
    checkouts = 0
    checkout_seconds = 0.0

    def connect(self) -> PoolProxiedConnection:
        started = time.perf_counter()
        self.waiting += 1
        try:
            return super().connect()
        finally:
            self.waiting -= 1
            self.checkouts += 1
            self.checkout_seconds += time.perf_counter() - started

    def state(self) -> PoolState:
        return PoolState(
            size=self.size(),
            in_use=self.checkedout(),
            idle=self.checkedin(),
            overflow=max(0, self.overflow()),  # negative while fewer than `size` are open
            waiting=self.waiting,
            checkouts=self.checkouts,
            checkout_seconds=self.checkout_seconds,
        )
