"""``db.direct``: hot statements run on asyncpg, but in the session's transaction, with the
parameters SQLAlchemy would have sent, and their errors handled as SQLAlchemy handles its own.
If an SQLAlchemy upgrade changes how a transaction begins, or what its public API gives, these
fail instead of the service silently autocommitting or keeping dead connections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.db import direct
from carework.db.session import make_engine, make_sessionmaker, unit_of_work
from tests.domain_helpers import SentThroughSqlalchemy, add_goal, patch, plan_url
from tests.factories import TokenMaker, World, create_plan, make_world

_meta = MetaData()
_scratch = Table(
    "direct_scratch",
    _meta,
    Column("id", Uuid, primary_key=True),
    Column("kind", String, nullable=False),
    Column("n", Integer, nullable=False),
    Column("data", JSON, nullable=False),
)
_INSERT = insert(_scratch).values(
    id=bindparam("id", type_=Uuid),
    kind=bindparam("kind", type_=String),
    n=bindparam("n", type_=Integer),
    data=bindparam("data", type_=JSON),
)
_BY_ID = select(_scratch.c.kind, _scratch.c.n, _scratch.c.data).where(
    _scratch.c.id == bindparam("id", type_=Uuid)
)
_CONSTANT_IN = select(_scratch.c.n).where(
    _scratch.c.id == bindparam("id", type_=Uuid), _scratch.c.kind.in_(["a", "b"])
)


@pytest.fixture
async def sessionmaker(app: FastAPI) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = app.state.engine
    async with engine.begin() as conn:
        await conn.run_sync(_meta.create_all)
    yield app.state.sessionmaker
    async with engine.begin() as conn:
        await conn.run_sync(_meta.drop_all)


async def _stored(maker: async_sessionmaker[AsyncSession], id_: uuid.UUID) -> Any:
    async with maker() as session:
        return (await session.execute(_BY_ID, {"id": id_})).one_or_none()


async def test_a_direct_statement_commits_with_the_unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    id_ = uuid.uuid4()
    async with unit_of_work(sessionmaker) as session:
        await direct.fetch(session, _INSERT, {"id": id_, "kind": "a", "n": 1, "data": {"x": 1}})
    assert tuple(await _stored(sessionmaker, id_)) == ("a", 1, {"x": 1})


async def test_a_direct_statement_rolls_back_with_the_unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Once a write through SQLAlchemy has begun the transaction, a direct statement joins it:
    a request that fails after both leaves neither."""
    first, second = uuid.uuid4(), uuid.uuid4()

    async def write_then_fail() -> None:
        async with unit_of_work(sessionmaker) as session:
            await direct.fetchrow_through_sqlalchemy(
                session, _INSERT, {"id": first, "kind": "a", "n": 1, "data": {}}
            )
            await direct.fetch(
                session, _INSERT, {"id": second, "kind": "a", "n": 2, "data": {}}, joining=True
            )
            raise LookupError("the request failed after the write")

    with pytest.raises(LookupError):
        await write_then_fail()
    assert await _stored(sessionmaker, first) is None
    assert await _stored(sessionmaker, second) is None


async def test_with_no_transaction_open_a_direct_statement_stands_alone(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A read-only request's statements (a read, an audit append) run on their own: the append
    is kept whatever the session does after it, and a statement that must join a change's
    transaction (``joining``) refuses to run outside one."""
    alone, joined = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session:
        await direct.fetch(session, _INSERT, {"id": alone, "kind": "a", "n": 1, "data": {}})
        with pytest.raises(RuntimeError, match="must join"):
            await direct.fetch(
                session, _INSERT, {"id": joined, "kind": "a", "n": 2, "data": {}}, joining=True
            )
        await session.rollback()
    assert await _stored(sessionmaker, alone) is not None
    assert await _stored(sessionmaker, joined) is None


async def test_direct_and_sqlalchemy_statements_share_one_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()

    async def both_then_fail() -> None:
        async with unit_of_work(sessionmaker) as session:
            await session.execute(_INSERT, {"id": first, "kind": "a", "n": 1, "data": {}})
            seen = await direct.fetchrow(session, _BY_ID, {"id": first})
            assert seen is not None
            assert seen["n"] == 1
            await direct.fetch(session, _INSERT, {"id": second, "kind": "b", "n": 2, "data": {}})
            assert (await session.execute(_BY_ID, {"id": second})).one().n == 2
            raise LookupError

    with pytest.raises(LookupError):
        await both_then_fail()
    assert await _stored(sessionmaker, first) is None
    assert await _stored(sessionmaker, second) is None


async def test_a_new_transaction_after_commit_gets_a_fresh_connection_state(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The connection is remembered per transaction: after a commit, a direct statement joins
    the next transaction SQLAlchemy begins, not the one that ended."""
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session:
        await direct.fetchrow_through_sqlalchemy(
            session, _INSERT, {"id": kept, "kind": "a", "n": 1, "data": {}}
        )
        await session.commit()
        await session.execute(select(literal(1)))  # SQLAlchemy begins the next one
        await direct.fetch(
            session, _INSERT, {"id": dropped, "kind": "a", "n": 2, "data": {}}, joining=True
        )
        await session.rollback()
    assert await _stored(sessionmaker, kept) is not None
    assert await _stored(sessionmaker, dropped) is None


async def test_constant_in_lists_and_literals_are_sent_as_built(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    id_ = uuid.uuid4()
    async with unit_of_work(sessionmaker) as session:
        await direct.fetch(session, _INSERT, {"id": id_, "kind": "b", "n": 7, "data": {}})
        row = await direct.fetchrow(session, _CONSTANT_IN, {"id": id_})
        assert row is not None
        assert row["n"] == 7
        labelled = select(literal("fixed").label("word"), _scratch.c.n).where(
            _scratch.c.id == bindparam("id", type_=Uuid)
        )
        row = await direct.fetchrow(session, labelled, {"id": id_})
        assert row is not None
        assert (row["word"], row["n"]) == ("fixed", 7)


def test_an_in_list_given_per_call_is_refused(app: FastAPI) -> None:
    """Its length would change the SQL: such a statement is not for the direct path."""
    per_call = select(_scratch.c.n).where(_scratch.c.kind.in_(bindparam("kinds", expanding=True)))
    with pytest.raises(ValueError, match="expanding"):
        direct.prepared(per_call, app.state.engine.dialect)


async def test_hot_statements_are_built_once_not_per_caller(
    client: httpx.AsyncClient, tokens: TokenMaker
) -> None:
    """Each caller's ids are parameters: reading and changing plans as other people compiles
    nothing new (a statement built per request would grow the compiled set with every call)."""

    async def read_and_change(world: World) -> None:
        plan = await create_plan(client, world)
        goal = await add_goal(client, world.clinician, plan["id"], "treatment")
        url = f"{plan_url(world.clinician, plan['id'])}/goals/{goal['id']}"
        assert (await patch(client, world.clinician, url, 1, {"title": "Sove"})).is_success
        for actor in (world.clinician, world.advisor):
            response = await client.get(plan_url(actor, plan["id"]), headers=actor.headers)
            assert response.status_code == 200, response.text

    await read_and_change(make_world(tokens))
    compiled = direct.prepared.cache_info().currsize
    for _ in range(3):
        await read_and_change(make_world(tokens))
    assert direct.prepared.cache_info().currsize == compiled


# --------------------------------------------------------------------------------------------
# One transaction, begun by SQLAlchemy; rows alike on both paths


_ALL_BY_ID = select(
    _scratch.c.id, _scratch.c.kind, _scratch.c.n, _scratch.c.data, func.now().label("at")
).where(_scratch.c.id == bindparam("id", type_=Uuid))


async def _driver(session: AsyncSession) -> Any:
    return (await (await session.connection()).get_raw_connection()).driver_connection


async def test_direct_statements_never_reach_sqlalchemy_and_changes_always_do(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Reads and appends run on asyncpg, inside or outside a transaction; a statement that
    changes rows in place goes through SQLAlchemy, which begins the transaction for it, and the
    direct statements after it join that transaction: a rollback undoes them all."""
    ids = [uuid.uuid4() for _ in range(3)]
    with SentThroughSqlalchemy(app.state.engine) as sent:
        async with sessionmaker() as session:
            assert await direct.fetchrow(session, _BY_ID, {"id": ids[0]}) is None
            driver = await _driver(session)
            assert not driver.is_in_transaction()
            await direct.fetchrow_through_sqlalchemy(
                session, _INSERT, {"id": ids[0], "kind": "a", "n": 0, "data": {}}
            )
            assert driver.is_in_transaction()
            for n, id_ in enumerate(ids[1:], start=1):
                row = {"id": id_, "kind": "a", "n": n, "data": {}}
                await direct.fetch(session, _INSERT, row, joining=True)
            await session.rollback()
            assert not driver.is_in_transaction()
    assert len(sent) == 1
    assert "INSERT INTO direct_scratch" in sent[0]
    for id_ in ids:
        assert await _stored(sessionmaker, id_) is None


async def test_rows_read_the_same_through_sqlalchemy_and_straight_from_asyncpg(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Callers index rows by position and by name and unpack them; the values are asyncpg's
    either way (JSON decoded, uuid, int, aware datetime)."""
    id_ = uuid.uuid4()
    async with unit_of_work(sessionmaker) as session:
        await session.execute(_INSERT, {"id": id_, "kind": "a", "n": 3, "data": {"x": [1]}})
    async with sessionmaker() as session:
        first = await direct.fetchrow_through_sqlalchemy(session, _ALL_BY_ID, {"id": id_})
        then = await direct.fetchrow(session, _ALL_BY_ID, {"id": id_})  # straight to asyncpg
        assert first is not None
        assert then is not None
        assert type(first) is not type(then)  # both paths taken
        assert tuple(first) == tuple(then)
        assert [type(v) for v in first] == [type(v) for v in then]
        assert dict(first.items()) == dict(then.items())
        assert list(first.keys()) == list(then.keys()) == ["id", "kind", "n", "data", "at"]
        assert (first["data"], first[2], first[-1]) == (then["data"], then[2], then[-1])
        _, kind, *_ = first
        assert kind == "a"
        assert first["at"].tzinfo is not None
        await session.rollback()
    async with sessionmaker() as session:  # no rows, and a statement that returns none
        missing = {"id": uuid.uuid4()}
        assert await direct.fetchrow_through_sqlalchemy(session, _BY_ID, missing) is None
        assert await direct.fetchrow(session, _BY_ID, missing) is None
        assert await direct.fetch(session, _BY_ID, missing) == []
        new = {"id": uuid.uuid4(), "kind": "a", "n": 1, "data": {}}
        assert await direct.fetchrow_through_sqlalchemy(session, _INSERT, new) is None
        assert await direct.fetch(session, _INSERT, {**new, "id": uuid.uuid4()}) == []
        await session.rollback()


# --------------------------------------------------------------------------------------------
# Errors: SQLAlchemy's types, and a dead connection invalidated


_SECRET = "15108695088"  # stands for a national id: never in an error's text


@pytest.mark.parametrize("first", [True, False], ids=["on its own", "in a transaction"])
async def test_a_unique_violation_is_sqlalchemys_integrity_error(
    sessionmaker: async_sessionmaker[AsyncSession], first: bool
) -> None:
    id_ = uuid.uuid4()
    async with unit_of_work(sessionmaker) as session:
        await direct.fetch(session, _INSERT, {"id": id_, "kind": "a", "n": 1, "data": {}})
    async with sessionmaker() as session:
        if not first:
            await session.execute(select(literal(1)))  # SQLAlchemy begins a transaction
        again = {"id": id_, "kind": _SECRET, "n": 2, "data": {"nid": _SECRET}}
        with pytest.raises(IntegrityError) as caught:
            await direct.fetch(session, _INSERT, again)
        error = caught.value
        assert not error.connection_invalidated
        assert getattr(error.orig, "sqlstate", None) == "23505"
        assert "direct_scratch_pkey" in str(error)
        assert _SECRET not in str(error)
        assert "parameters hidden" in str(error)
        await session.rollback()
        assert not (await session.connection()).invalidated
        row = await direct.fetchrow(session, _BY_ID, {"id": id_})  # the connection works on
        assert row is not None
        assert row["n"] == 1


async def _terminate(app: FastAPI, pid: int) -> None:
    """End a backend from another connection (what a restart does to every one)."""
    async with app.state.engine.connect() as other:
        await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def _until_closed(driver: Any) -> None:
    for _ in range(1000):
        if driver.is_closed():
            return
        await asyncio.sleep(0.01)
    pytest.fail("asyncpg did not notice the server closing the connection")


@pytest.mark.parametrize("first", [True, False], ids=["on its own", "in a transaction"])
async def test_an_error_on_a_closed_connection_invalidates_it(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], first: bool
) -> None:
    """As SQLAlchemy does for its own statements: a DBAPIError saying the connection was
    invalidated, and the pool never hands that connection out again."""
    async with sessionmaker() as session:
        conn = await session.connection()
        if not first:
            await session.execute(select(literal(1)))  # SQLAlchemy begins a transaction
        driver = await _driver(session)
        pid = driver.get_server_pid()
        await _terminate(app, pid)
        await _until_closed(driver)
        with pytest.raises(DBAPIError) as caught:
            await direct.fetchrow(session, _BY_ID, {"id": uuid.uuid4()})
        assert caught.value.connection_invalidated
        assert conn.invalidated
        await session.rollback()
    async with sessionmaker() as session:
        row = await direct.fetchrow(session, select(func.pg_backend_pid().label("pid")), {})
        assert row is not None
        assert row["pid"] != pid


async def test_the_pool_does_not_hand_out_a_connection_the_server_closed(
    app: FastAPI, database_url: str
) -> None:
    """Checked at checkout without a round trip: a restart or an idle timeout on the server
    costs no request (the engine has no pre-ping)."""
    engine = make_engine(database_url, pool_size=1)  # one pooled connection: the next checkout
    try:
        maker = make_sessionmaker(engine)
        async with maker() as session:
            driver = await _driver(session)
            pid = driver.get_server_pid()
        await _terminate(app, pid)
        await _until_closed(driver)
        async with maker() as session:
            row = await direct.fetchrow(session, select(func.pg_backend_pid().label("pid")), {})
            assert row is not None
            assert row["pid"] != pid
    finally:
        await engine.dispose()


@pytest.mark.parametrize("first", [True, False], ids=["on its own", "in a transaction"])
async def test_a_statement_cut_off_by_a_timeout_invalidates_its_connection(
    sessionmaker: async_sessionmaker[AsyncSession], first: bool
) -> None:
    """SQLAlchemy does not trust a connection a statement was interrupted on; neither do we.
    The timeout is not wrapped, as SQLAlchemy does not wrap it."""
    sleep = select(func.pg_sleep(bindparam("seconds", type_=Integer)))
    async with sessionmaker() as session:
        conn = await session.connection()
        if not first:
            await session.execute(select(literal(1)))  # SQLAlchemy begins a transaction
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await direct.fetch(session, sleep, {"seconds": 2})
        assert conn.invalidated
        await session.rollback()
    async with sessionmaker() as session:
        assert await direct.fetch(session, select(literal(1)), {})
