"""``db.direct``: hot statements run on asyncpg, but in the session's transaction, with the
parameters SQLAlchemy would have sent. If an SQLAlchemy upgrade changes how its asyncpg adapter
begins a transaction, these fail instead of the service silently autocommitting."""

from __future__ import annotations

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
    insert,
    literal,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.db import direct
from carework.db.session import unit_of_work
from tests.domain_helpers import add_goal, patch, plan_url
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
    """The first statement of a transaction, sent directly, still begins the transaction."""
    id_ = uuid.uuid4()

    async def write_then_fail() -> None:
        async with unit_of_work(sessionmaker) as session:
            await direct.fetch(session, _INSERT, {"id": id_, "kind": "a", "n": 1, "data": {}})
            raise LookupError("the request failed after the write")

    with pytest.raises(LookupError):
        await write_then_fail()
    assert await _stored(sessionmaker, id_) is None


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
    """The connection is remembered per transaction: after a commit, a direct statement
    begins the next one rather than running outside any."""
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session:
        await direct.fetch(session, _INSERT, {"id": kept, "kind": "a", "n": 1, "data": {}})
        await session.commit()
        await direct.fetch(session, _INSERT, {"id": dropped, "kind": "a", "n": 2, "data": {}})
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
