"""Engine and the unit of work.

The HTTP request is the unit of work: ``http.route.UnitOfWorkRoute`` commits once after the
response is built (before it leaves) or rolls back. Services only ``flush()``. Outside HTTP use
``unit_of_work``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from carework.config import (
    DB_COMMAND_TIMEOUT_SECONDS,
    DB_CONNECT_TIMEOUT_SECONDS,
    DB_MAX_OVERFLOW,
    DB_POOL_SIZE,
    DB_POOL_TIMEOUT_SECONDS,
)
from carework.db import faults
from carework.db.pool import CountingQueuePool


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


def make_engine(
    url: str,
    *,
    pool_size: int = DB_POOL_SIZE,
    max_overflow: int = DB_MAX_OVERFLOW,
    pool_timeout: float = DB_POOL_TIMEOUT_SECONDS,
    connect_timeout: float = DB_CONNECT_TIMEOUT_SECONDS,
    command_timeout: float = DB_COMMAND_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """The engine, with every wait on the database bounded (``config``: ``CAREWORK_DB_*``):
    past a bound the request fails with an error ``db.faults`` reads as 503."""
    # National ids are query parameters and result values: keep both out of every log line,
    # even when someone turns SQL logging on (hide_parameters also keeps them out of errors).
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    if _no_result_rows not in engine_log.filters:
        engine_log.addFilter(_no_result_rows)
    # No pre-ping: it is one more round trip on every request. A connection the server closed
    # while it sat in the pool (a restart) is refused at checkout without one
    # (``_refuse_closed``); one that dies in use fails its request, and its error invalidates it
    # (``db.direct`` does as SQLAlchemy does).
    # Timestamps leave PostgreSQL as JSON in the plan view: always in UTC.
    engine = create_async_engine(
        to_async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        poolclass=CountingQueuePool,  # who waits for a connection, for /metrics
        hide_parameters=True,
        connect_args={
            "server_settings": {"timezone": "UTC"},
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
        },
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    faults.mark_disconnects(engine)
    return engine


def _refuse_closed(
    dbapi_connection: object, entry: ConnectionPoolEntry, proxy: PoolProxiedConnection
) -> None:
    """SQLAlchemy's pessimistic disconnect handling, minus the round trip: asyncpg reads every
    connection's socket while the event loop runs, so it has seen the server close an idle one
    (``is_closed()``). The pool reconnects an entry refused here before handing it out."""
    driver = entry.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


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
