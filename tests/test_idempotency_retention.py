"""What an Idempotency-Key keeps, and for how long: the stored answer is sealed with a key kept
outside the database (no national id in the table, in clear or in its JSON), opens only for
its own caller and key, and expired keys are purged by the service itself."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from carework.app import create_app
from carework.config import Settings
from carework.idempotency import service as idempotency
from carework.idempotency.sealing import ResponseSeal, load_or_create_secret
from tests.domain_helpers import assert_problem, plan_url, read_plan
from tests.factories import TokenMaker, World, create_plan, make_nid

ORIGIN = "http://carework.test"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


ROW = text("SELECT owner, body, fingerprint FROM idempotency_key WHERE key = :key")


async def _row(engine: AsyncEngine, key: str) -> dict[str, object]:
    async with engine.connect() as conn:
        row = (await conn.execute(ROW, {"key": key})).one()
    return dict(row._mapping)


@pytest.fixture(scope="module")
async def other_key_app(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    """The app over the same database, with a key file of its own: a replica that was not
    given the shared key, or the service after its key file was replaced."""
    own = tmp_path_factory.mktemp("other-key") / "idempotency-key"
    application = create_app(settings.model_copy(update={"idempotency_key_file": own}))
    async with application.router.lifespan_context(application):
        yield application


async def test_the_stored_answer_holds_no_national_id_and_replays_byte_for_byte(
    client: httpx.AsyncClient, app: FastAPI, world: World
) -> None:
    nid, key = make_nid(), uuid.uuid4().hex
    body = {"patient": {"nid": nid, "name": "Ola Pasient"}, "nav_office": world.nav_office,
            "title": "Tilbake i arbeid"}  # fmt: skip
    first = await client.post("/api/v1/dps/plans", json=body,
                               headers=keyed(world.clinician.headers, key))  # fmt: skip
    assert first.status_code == 201, first.text
    assert nid.encode() in first.content  # the answer names the patient ...

    row = await _row(app.state.engine, key)
    stored = bytes(row["body"])  # type: ignore[arg-type]
    assert nid.encode() not in stored  # ... the table does not, in any form
    assert nid.encode().hex().encode() not in stored
    assert base64.b64encode(nid.encode()) not in stored
    assert b'"patient"' not in stored
    assert first.json()["title"].encode() not in stored
    # Nor does the fingerprint give the request away to a guess of the number.
    request = first.request.content
    plain = hashlib.sha256()
    for part in (b"POST", b"/api/v1/dps/plans", request):
        plain.update(len(part).to_bytes(8, "big") + part)
    assert row["fingerprint"] != plain.hexdigest()

    retry = await client.post("/api/v1/dps/plans", json=body,
                              headers=keyed(world.clinician.headers, key))  # fmt: skip
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    for name in ("content-type", "location", "etag"):
        assert retry.headers[name] == first.headers[name]


async def test_a_stored_answer_does_not_open_for_another_caller(
    client: httpx.AsyncClient, app: FastAPI, world: World, tokens: TokenMaker
) -> None:
    plan_id = str((await create_plan(client, world))["id"])
    colleague = tokens.actor("clinician", org=world.dps_unit, name="Kollega")
    url, key = f"{plan_url(world.clinician, plan_id)}/goals", uuid.uuid4().hex
    goal = {"domain": "treatment", "title": "Sove bedre"}
    first = await client.post(url, json=goal, headers=keyed(world.clinician.headers, key))
    assert first.status_code == 201
    async with app.state.engine.begin() as conn:  # someone with the database moves the row
        await conn.execute(
            text("UPDATE idempotency_key SET owner = :to WHERE key = :key"),
            {"to": f"clinician:{colleague.sub}", "key": key},
        )
    theirs = await client.post(url, json=goal, headers=keyed(colleague.headers, key))
    problem = assert_problem(theirs, 409)
    assert problem["type"].endswith("/idempotency-key-unreadable")
    assert problem["location"] == first.headers["location"]
    assert len((await read_plan(client, world.clinician, plan_id))["goals"]) == 1


async def test_a_changed_key_refuses_the_retry_and_runs_nothing_twice(
    client: httpx.AsyncClient, other_key_app: FastAPI, world: World
) -> None:
    plan_id = str((await create_plan(client, world))["id"])
    url, key = f"{plan_url(world.clinician, plan_id)}/goals", uuid.uuid4().hex
    goal = {"domain": "treatment", "title": "Én gang"}
    first = await client.post(url, json=goal, headers=keyed(world.clinician.headers, key))
    assert first.status_code == 201

    transport = httpx.ASGITransport(app=other_key_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as elsewhere:
        retry = await elsewhere.post(url, json=goal, headers=keyed(world.clinician.headers, key))
        problem = assert_problem(retry, 409)
        assert "new Idempotency-Key" in problem["detail"]
        assert problem["location"] == first.headers["location"]
        # A new key runs the request, sealed with this app's key; it replays here.
        fresh = uuid.uuid4().hex
        again = await elsewhere.post(url, json=goal, headers=keyed(world.clinician.headers, fresh))
        replay = await elsewhere.post(url, json=goal, headers=keyed(world.clinician.headers, fresh))
        assert (again.status_code, replay.status_code) == (201, 201)
        assert replay.content == again.content
    # The first app still opens its own.
    replay = await client.post(url, json=goal, headers=keyed(world.clinician.headers, key))
    assert replay.status_code == 201
    assert replay.content == first.content
    titles = [g["title"] for g in (await read_plan(client, world.clinician, plan_id))["goals"]]
    assert titles == ["Én gang", "Én gang"]  # the first, and the one sent with a new key


async def test_expired_keys_are_purged_by_the_service_with_no_caller_action(
    client: httpx.AsyncClient, settings: Settings, world: World
) -> None:
    plan_id = str((await create_plan(client, world))["id"])
    url = f"{plan_url(world.clinician, plan_id)}/goals"
    old, fresh = uuid.uuid4().hex, uuid.uuid4().hex
    for key in (old, fresh):
        sent = await client.post(url, json={"domain": "treatment", "title": key},
                                 headers=keyed(world.clinician.headers, key))  # fmt: skip
        assert sent.status_code == 201
    age = text("UPDATE idempotency_key SET created_at = now() - interval '25 hours'"
               " WHERE key = :key")  # fmt: skip
    mine = text("SELECT key FROM idempotency_key WHERE key IN (:old, :fresh)")
    quick = create_app(settings.model_copy(update={"idempotency_purge_interval_seconds": 0.05}))
    async with quick.router.lifespan_context(quick):
        engine: AsyncEngine = quick.state.engine
        async with engine.begin() as conn:  # a day passes for one of them
            await conn.execute(age, {"key": old})
        for _ in range(200):  # nobody calls; the job runs every 0.05 s
            async with engine.connect() as conn:
                left = set((await conn.execute(mine, {"old": old, "fresh": fresh})).scalars())
            if old not in left:
                break
            await asyncio.sleep(0.05)
    assert left == {fresh}, "the expired key outlived the purge, or the fresh one went too"


async def test_the_purge_deletes_in_batches_until_none_is_left(app: FastAPI) -> None:
    engine: AsyncEngine = app.state.engine
    owner = f"clinician:{uuid.uuid4().hex}"
    async with engine.begin() as conn:
        for n in range(7):
            await conn.execute(
                text("INSERT INTO idempotency_key (owner, key, fingerprint, created_at)"
                     " VALUES (:owner, :key, 'x', now() - make_interval(hours => :hours))"),
                {"owner": owner, "key": f"k{n}", "hours": 30 if n < 5 else 1},
            )  # fmt: skip
    purged = await idempotency.purge_expired(app.state.sessionmaker, batch=2)
    assert purged >= 5
    keys = text("SELECT key FROM idempotency_key WHERE owner = :o ORDER BY key")
    async with engine.connect() as conn:
        left = (await conn.execute(keys, {"o": owner})).scalars().all()
    assert left == ["k5", "k6"]


def test_the_key_file_is_made_once_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "idempotency-key"
    secret = load_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) == 32
    assert load_or_create_secret(path) == secret  # a restart reads the same key
    seal = ResponseSeal.from_secret(secret)
    sealed = seal.seal("clinician:a", "k", b"{}")
    assert ResponseSeal.from_secret(load_or_create_secret(path)).open("clinician:a", "k",
                                                                      sealed) == b"{}"  # fmt: skip
    assert seal.open("clinician:a", "other key", sealed) is None
    path.write_text("not a key\n")
    with pytest.raises(ValueError, match="idempotency"):
        load_or_create_secret(path)
