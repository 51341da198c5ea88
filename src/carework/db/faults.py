"""Which errors mean the database cannot serve a request now: a 503 with Retry-After, not a bug.

- no pooled connection within the pool's wait (``sqlalchemy.exc.TimeoutError``): the pool is
  busy, retry in a second;
- the database does not answer: a connection refused, reset or timed out (``OSError``, which
  ``TimeoutError`` is too: asyncpg's connect and command timeouts), a connection SQLAlchemy
  found dead (``connection_invalidated``), or PostgreSQL saying so itself by SQLSTATE —
  connection exceptions (class 08), insufficient resources (53: too many connections, out of
  memory or disk), shutting down or starting up (57P01-57P03), a statement cancelled (57014).

Everything else the database raises (a constraint, a syntax error) is carework's own doing and
stays a 500. ``mark_disconnects`` makes a connection that timed out or lost its socket be
thrown away instead of going back to the pool.
"""

from __future__ import annotations

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine

from carework.errors import Unavailable

#: Retry-After when every connection is in use: a burst, over in moments.
RETRY_BUSY_SECONDS = 1
#: Retry-After when the database does not answer: a restart or failover takes seconds.
RETRY_UNREACHABLE_SECONDS = 5

_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "57014")


def unavailable(error: BaseException) -> Unavailable | None:
    """The 503 this error means, or None when it is not about the database being there."""
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, PoolTimeout):
        return Unavailable(
            "Every database connection is in use; try again shortly.",
            retry_after=RETRY_BUSY_SECONDS,
        )
    if _unreachable(error):
        return Unavailable(
            "The database does not answer right now; try again shortly.",
            retry_after=RETRY_UNREACHABLE_SECONDS,
        )
    return None


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, DisconnectionError):
        return True
    driver: object = error
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        # The driver's own error (asyncpg's), under SQLAlchemy's DB-API emulation of it.
        driver = getattr(error.orig, "driver_exception", error.orig)
    if isinstance(driver, OSError):
        return True
    sqlstate = getattr(driver, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def abort(driver: object) -> None:
    """Close a connection that timed out or lost its socket at once. A polite close (what
    SQLAlchemy tries first when it invalidates one) waits up to 2 s more on a server that does
    not answer: a hung database's 503 came after 5 s with a 3 s command timeout."""
    if isinstance(driver, asyncpg.Connection):
        driver.terminate()


def _throw_away_dead(context: ExceptionContext) -> None:
    """A statement that timed out or lost its socket leaves its connection in doubt (a hung
    server may answer it later, or never): treat it as a disconnect, so SQLAlchemy throws that
    connection away instead of rolling back on it and pooling it again. Only that connection:
    a slow statement says nothing about the others."""
    if isinstance(context.original_exception, OSError):
        if context.connection is not None and not context.connection.invalidated:
            abort(context.connection.connection.driver_connection)
        if not context.is_disconnect:
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = False


def mark_disconnects(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine, "handle_error", _throw_away_dead)
