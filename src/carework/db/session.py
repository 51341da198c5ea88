"""Engine and the unit of work.

The HTTP request is the unit of work: ``api.route.UnitOfWorkRoute`` commits once after the
response is built (before it leaves) or rolls back. Services only ``flush()``. Outside HTTP use
``unit_of_work``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def to_async_url(url: str) -> str:
    """Accept the usual ``postgresql://`` URL and pick the asyncpg driver."""
    for prefix in (
        "postgresql+psycopg://",
        "postgresql+asyncpg://",
        "postgresql://",
        "postgres://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a PostgreSQL URL")


def _no_result_rows(record: logging.LogRecord) -> bool:
    # SQLAlchemy's DEBUG output is the result rows themselves: patient data, national ids.
    return record.levelno > logging.DEBUG


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # National ids are query parameters and result values: keep both out of every log line,
    # even when someone turns SQL logging on (hide_parameters also keeps them out of errors).
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    if _no_result_rows not in engine_log.filters:
        engine_log.addFilter(_no_result_rows)
    # No pre-ping: it is one more round trip on every request, and a connection the server
    # dropped is found anyway — its error invalidates the pool, and that one request fails
    # with 500 (nothing committed) instead of every request paying for the check.
    # Timestamps leave PostgreSQL as JSON in the plan view: always in UTC.
    return create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        max_overflow=10,
        hide_parameters=True,
        connect_args={"server_settings": {"timezone": "UTC"}},
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
