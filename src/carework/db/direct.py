"""Hot-path statements sent straight to asyncpg, inside the session's own transaction.

The plan read, the goal change, the audit append and the change event run on every busy
request. SQLAlchemy's execution path around each (cache key and lookup, parameter building,
DBAPI adaptation, result wrapping) cost about 0.2 ms of CPU per statement — as much as asyncpg
itself. Here such a statement, still SQLAlchemy Core, is compiled once for PostgreSQL and then
run with asyncpg's ``fetch``/``fetchrow`` on the connection the session holds, in the session's
transaction: it commits or rolls back with everything else in the unit of work.

This is the one module that reaches under SQLAlchemy's asyncpg adapter (its transaction is
begun lazily, on the first statement, so a direct statement must begin it the same way);
``tests/test_direct.py`` fails if an upgrade changes that.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DRIVER = "carework.direct"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement as asyncpg runs it: SQL with ``$n`` placeholders, and how to fill them."""

    sql: str
    names: tuple[str, ...]
    fixed: Mapping[str, Any]  # values written into the statement when it was built
    processors: Mapping[str, Callable[[Any], Any]]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name in self.names:
            value = params[name] if name in params else self.fixed[name]
            process = self.processors.get(name)
            values.append(value if process is None or value is None else process(value))
        return values


@functools.lru_cache(maxsize=512)
def prepared(stmt: ClauseElement, dialect: Dialect) -> Prepared:
    """Compile once per statement object. Hot statements are built once (per role, schema or
    set of fields; see their modules); the bound keeps a statement built per call, by mistake,
    from growing the cache without end — it would only be compiled each time.

    A constant ``IN`` list is written into the SQL as one parameter per member; an ``IN`` list
    given per call would change the SQL with its length, so it is refused.
    """
    plain = stmt.compile(dialect=dialect)
    assert isinstance(plain, SQLCompiler)
    given = {name for name, bind in plain.binds.items() if bind.required}
    if any(plain.binds[name].expanding for name in given):
        raise ValueError("an IN list given per call (an expanding parameter) cannot run directly")
    done: Any = plain
    if any(bind.expanding for bind in plain.binds.values()):
        # Placeholders for the parameters given per call, so the constant lists can be rendered.
        done = stmt.params(dict.fromkeys(given)).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
    assert isinstance(done, SQLCompiler)
    assert done.positiontup is not None
    names = tuple(done.positiontup)
    fixed: dict[str, Any] = {}
    processors: dict[str, Callable[[Any], Any]] = {}
    for name in names:
        if name in done.binds:
            bind = done.binds[name]
            if name not in given:
                fixed[name] = bind.effective_value
        else:  # one member of a constant IN list, rendered as ``<list>_<n>``
            base, _, n = name.rpartition("_")
            bind = done.binds[base]
            fixed[name] = bind.effective_value[int(n) - 1]  # type: ignore[index]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    return Prepared(str(done), names, fixed, processors)


async def connection(session: AsyncSession) -> tuple[asyncpg.Connection[Any], Dialect]:
    """The asyncpg connection of the session's transaction (begun), and its dialect."""
    transaction = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1], cached[2]
    conn = await session.connection()
    adapted: Any = (await conn.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:
        await adapted._start_transaction()
    driver: asyncpg.Connection[Any] = adapted._connection
    session.info[_DRIVER] = (session.sync_session.get_transaction(), driver, conn.dialect)
    return driver, conn.dialect


async def fetch(
    session: AsyncSession, stmt: ClauseElement, params: Mapping[str, Any]
) -> list[asyncpg.Record]:
    driver, dialect = await connection(session)
    done = prepared(stmt, dialect)
    return await driver.fetch(done.sql, *done.args(params))


async def fetchrow(
    session: AsyncSession, stmt: ClauseElement, params: Mapping[str, Any]
) -> asyncpg.Record | None:
    driver, dialect = await connection(session)
    done = prepared(stmt, dialect)
    return await driver.fetchrow(done.sql, *done.args(params))
