"""Hot-path statements sent straight to asyncpg: the read model and the appends.

The plan read, the item answers, the audit append and the change event run on every busy
request. SQLAlchemy's execution path around each (cache key and lookup, parameter building,
DBAPI adaptation, result wrapping) costs several times asyncpg's own: ``exec_driver_sql`` of a
precompiled statement 0.09 ms of CPU, asyncpg's ``fetchrow`` 0.025 ms (0.14 and 0.06 ms on a
busier machine). Here such a statement, still SQLAlchemy Core, is compiled once for
PostgreSQL and run on the connection the session holds.

The contract with SQLAlchemy is its public API only (its version is bounded in
``pyproject.toml``; ``tests/test_direct.py`` fails if the contract breaks):

- the connection is ``AsyncConnection.get_raw_connection().driver_connection``;
- transactions stay SQLAlchemy's. A direct statement joins the session's transaction when one
  is open (anything the request wrote through SQLAlchemy began it), and commits or rolls back
  with it. With none open it runs on its own, which is sound only because direct statements
  are reads of the read model and single-statement appends (the audit event: its chain head
  and its row in one statement). So a read-only request — a plan read and its audit event —
  costs two round trips and no SQLAlchemy execution at all. A statement that must be part of
  the change it records (the outbox's event) says so (``joining=True``) and is refused outside
  a transaction; statements that lock or change rows in place go through SQLAlchemy always
  (``fetchrow_through_sqlalchemy``, precompiled the same way), which begins the transaction;
- an error on asyncpg is raised as SQLAlchemy raises its own (``sqlalchemy.exc.DBAPIError`` and
  its subclasses, parameters never in the text), and a disconnect (``Dialect.is_disconnect``)
  or an interrupted statement invalidates the connection (``AsyncConnection.invalidate``), so
  the pool does not hand a dead connection out again.

Rows are read like ``asyncpg.Record`` either way (``Record``): by position, by name,
``items()``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, cast

import asyncpg
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from carework.db.faults import abort

_LINK = "carework.direct"


class Record(Protocol):
    """A row as callers read it: by position, by name, unpacked, ``items()`` (``asyncpg.Record``
    and the rows of a transaction's first statement alike)."""

    def __getitem__(self, key: Any, /) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...
    def keys(self) -> Iterator[str]: ...
    def values(self) -> Iterator[Any]: ...
    def items(self) -> Iterator[tuple[str, Any]]: ...


class _RowRecord:
    """A row that came through SQLAlchemy, read like an ``asyncpg.Record``. The values are the
    ones asyncpg decoded on the same connection (no result processing for driver SQL): only the
    wrapper differs. ``_mapping`` and ``_fields`` are ``Row``'s public API (the underscore keeps
    them from clashing with column names)."""

    __slots__ = ("_row",)

    def __init__(self, row: Row[Any]) -> None:
        self._row = row

    def __getitem__(self, key: Any, /) -> Any:
        return self._row._mapping[key] if isinstance(key, str) else self._row[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def keys(self) -> Iterator[str]:
        return iter(self._row._fields)

    def values(self) -> Iterator[Any]:
        return iter(self._row)

    def items(self) -> Iterator[tuple[str, Any]]:
        return zip(self._row._fields, self._row, strict=True)

    def __repr__(self) -> str:
        return f"<Record {self._row!r}>"


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


@dataclass(frozen=True, slots=True)
class _Link:
    """The session transaction's connection as SQLAlchemy holds it and as asyncpg runs it."""

    transaction: SessionTransaction
    connection: AsyncConnection
    pooled: PoolProxiedConnection
    driver: asyncpg.Connection[Any]
    dialect: Dialect


async def _link(session: AsyncSession) -> _Link:
    """Looked up once per transaction: each lookup is two trips through SQLAlchemy's greenlet."""
    link: _Link | None = session.info.get(_LINK)
    if link is not None and link.transaction is session.sync_session.get_transaction():
        return link
    connection = await session.connection()
    pooled = await connection.get_raw_connection()
    transaction = session.sync_session.get_transaction()
    assert transaction is not None, "session.connection() begins one"
    assert pooled.driver_connection is not None, "a connection in use is connected"
    link = _Link(transaction, connection, pooled, pooled.driver_connection, connection.dialect)
    session.info[_LINK] = link
    return link


async def _through_sqlalchemy(link: _Link, sql: str, args: list[Any]) -> list[Record]:
    result = await link.connection.exec_driver_sql(sql, tuple(args))
    return [_RowRecord(row) for row in result] if result.returns_rows else []


def _joins(link: _Link, joining: bool) -> None:
    if joining and not link.driver.is_in_transaction():
        raise RuntimeError("this statement must join the transaction of the change it records")


async def fetch(
    session: AsyncSession, stmt: ClauseElement, params: Mapping[str, Any], *, joining: bool = False
) -> list[Record]:
    """Run on the driver: in the session's transaction if one is open, else on its own (a
    read, or a single-statement append); ``joining`` refuses the latter."""
    link = await _link(session)
    _joins(link, joining)
    done = prepared(stmt, link.dialect)
    args = done.args(params)
    try:
        return cast("list[Record]", await link.driver.fetch(done.sql, *args))
    except BaseException as error:
        await _failed(session, link, done.sql, args, error)


async def fetchrow(
    session: AsyncSession, stmt: ClauseElement, params: Mapping[str, Any], *, joining: bool = False
) -> Record | None:
    """One row of ``fetch``'s."""
    link = await _link(session)
    _joins(link, joining)
    done = prepared(stmt, link.dialect)
    args = done.args(params)
    try:
        return await link.driver.fetchrow(done.sql, *args)
    except BaseException as error:
        await _failed(session, link, done.sql, args, error)


async def fetchrow_through_sqlalchemy(
    session: AsyncSession, stmt: ClauseElement, params: Mapping[str, Any]
) -> Record | None:
    """A statement that locks or changes rows in place (a goal's lock read and its PATCH):
    compiled once like the others, but run through SQLAlchemy (``exec_driver_sql``), which
    begins the transaction for it when none is open and sees its errors and events."""
    link = await _link(session)
    done = prepared(stmt, link.dialect)
    rows = await _through_sqlalchemy(link, done.sql, done.args(params))
    return rows[0] if rows else None


# How SQLAlchemy's asyncpg dialect turns asyncpg's errors into DB-API ones (its own table, walked
# along the error's classes), in the PEP 249 names every dialect's DB-API has. The dialect also
# has finer classes (UniqueViolationError, ...) under these: the sqlalchemy.exc type is the same,
# only ``orig`` is the coarser class (its ``sqlstate`` and ``driver_exception`` are the same).
_DBAPI_ERROR: dict[type[BaseException], str] = {
    asyncpg.IntegrityConstraintViolationError: "IntegrityError",
    asyncpg.exceptions.SyntaxOrAccessError: "ProgrammingError",
    asyncpg.exceptions.InvalidCachedStatementError: "NotSupportedError",
    asyncpg.exceptions.InternalServerError: "InternalError",
    asyncpg.exceptions.InternalClientError: "InternalError",
    asyncpg.InterfaceError: "InterfaceError",
    asyncpg.PostgresError: "Error",
}


def _interrupted(error: BaseException) -> bool:
    """SQLAlchemy's rule: a statement cut off mid-way leaves the connection in doubt."""
    return not isinstance(error, Exception) or isinstance(
        error, (asyncio.CancelledError, TimeoutError)
    )


async def _failed(
    session: AsyncSession, link: _Link, sql: str, args: list[Any], error: BaseException
) -> NoReturn:
    """Raise a failed asyncpg statement's error as SQLAlchemy raises its own statements' errors,
    and invalidate the connection when SQLAlchemy would: on a disconnect, or when interrupted."""
    if _interrupted(error):
        await _invalidate(session, link, error)
        raise error
    name = next((_DBAPI_ERROR[c] for c in type(error).__mro__ if c in _DBAPI_ERROR), None)
    if name is None:
        raise error  # not the database's: SQLAlchemy does not wrap these either
    dbapi = link.dialect.loaded_dbapi
    message = error.args[0] if error.args else str(error)
    dbapi_error = getattr(dbapi, name)(message, error)
    dbapi_error.__cause__ = error
    disconnect = link.dialect.is_disconnect(dbapi_error, link.pooled, None)
    if disconnect:
        await _invalidate(session, link, dbapi_error)
    # The parameters hold national ids: never in the text, whatever the engine says.
    raise DBAPIError.instance(
        sql, args, dbapi_error, dbapi.Error,
        hide_parameters=True, connection_invalidated=disconnect, dialect=link.dialect,
    ) from dbapi_error  # fmt: skip


async def _invalidate(session: AsyncSession, link: _Link, error: BaseException) -> None:
    session.info.pop(_LINK, None)
    if isinstance(error, OSError):  # timed out, or the socket failed (``db.faults.abort``)
        abort(link.driver)
    await link.connection.invalidate(error)
