"""Real ``carework`` processes, started with the installed console script.

These tests exercise what an in-process ASGI client cannot: several server processes racing on
one database, the embedded PostgreSQL's life cycle (start, migrate, serve, SIGTERM, restart), and
the ``migrate`` and ``dev-token`` commands as an operator runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import psutil
import pytest
from sqlalchemy import text

from carework.auth.dev_keys import load_or_create_dev_key
from carework.config import DEFAULT_AUDIENCE, DEV_ISSUER
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from carework.db.session import make_engine
from tests.factories import Actor, TokenMaker, World, make_nid, make_world
from tests.live import (
    PROBLEM_JSON,
    LiveServer,
    child_env,
    clients_across_workers,
    postgres_processes,
    run_cli,
    wait_until_gone,
)

pytestmark = pytest.mark.live

# --------------------------------------------------------------------------------------------
# 1. Concurrency across server processes


@pytest.fixture(scope="module")
def multi_worker_server(
    database_url: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = child_env(
        DATABASE_URL=database_url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir)
    )
    log_path = tmp_path_factory.mktemp("live") / "serve-workers.log"
    server = LiveServer(["--workers", "2"], env, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        returncode = server.terminate()
    assert returncode == 0, server.log()


async def create_world_plan(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    body = {
        "patient": {"nid": world.nid, "name": "Ola Pasient"},
        "nav_office": world.nav_office,
        "title": "Tilbake i arbeid",
        "status": "active",
    }
    response = await client.post("/api/v1/dps/plans", json=body, headers=world.clinician.headers)
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    return plan


async def make_contested_item(
    client: httpx.AsyncClient, world: World, kind: str
) -> tuple[str, Actor]:
    """Create the item to fight over; return its URL and the actor who may change it."""
    plan = await create_world_plan(client, world)
    plan_url = f"/api/v1/dps/plans/{plan['id']}"
    if kind == "plan":
        return plan_url, world.clinician
    if kind == "goal":
        response = await client.post(
            f"{plan_url}/goals",
            json={"domain": "treatment", "title": "Sove bedre"},
            headers=world.clinician.headers,
        )
        assert response.status_code == 201, response.text
        return f"{plan_url}/goals/{response.json()['id']}", world.clinician
    # An activity on the NAV side, so the NAV router is raced as well as the DPS one.
    nav_plan_url = f"/api/v1/nav/plans/{plan['id']}"
    response = await client.post(
        f"{nav_plan_url}/activities",
        json={"kind": "work_training", "title": "Arbeidstrening"},
        headers=world.advisor.headers,
    )
    assert response.status_code == 201, response.text
    return f"{nav_plan_url}/activities/{response.json()['id']}", world.advisor


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == status


@pytest.mark.parametrize("kind", ["plan", "goal", "activity"])
async def test_concurrent_patches_with_one_etag_across_workers_exactly_one_wins(
    multi_worker_server: LiveServer, tokens: TokenMaker, kind: str
) -> None:
    world = make_world(tokens)
    async with clients_across_workers(multi_worker_server) as clients:
        url, actor = await make_contested_item(clients[0], world, kind)
        before = await clients[0].get(url, headers=actor.headers)
        assert before.status_code == 200, before.text
        etag = before.headers["etag"]
        version = before.json()["version"]
        assert etag == f'"{version}"'

        titles = [f"Tittel {i}" for i in range(len(clients))]
        responses = await asyncio.gather(
            *(
                client.patch(
                    url, json={"title": title}, headers={**actor.headers, "If-Match": etag}
                )
                for client, title in zip(clients, titles, strict=True)
            )
        )

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [412] * (len(clients) - 1), statuses
        winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
        for response in responses:
            if response.status_code == 412:
                assert_problem(response, 412)
        assert responses[winner].headers["etag"] == f'"{version + 1}"'
        assert responses[winner].json()["title"] == titles[winner]

        after = await clients[-1].get(url, headers=actor.headers)
        assert after.status_code == 200, after.text
        assert after.json()["version"] == version + 1
        assert after.json()["title"] == titles[winner]
        assert after.headers["etag"] == f'"{version + 1}"'


async def test_concurrent_plan_creation_for_one_patient_gives_one_plan(
    multi_worker_server: LiveServer, tokens: TokenMaker
) -> None:
    world = make_world(tokens)
    nid = make_nid()  # a patient the database has never seen
    body = {
        "patient": {"nid": nid, "name": "Ny Pasient"},
        "nav_office": world.nav_office,
        "title": "Første plan",
        "status": "active",
    }
    async with clients_across_workers(multi_worker_server) as clients:
        responses = await asyncio.gather(
            *(
                client.post("/api/v1/dps/plans", json=body, headers=world.clinician.headers)
                for client in clients
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * (len(clients) - 1), statuses
        for response in responses:
            if response.status_code == 409:
                assert_problem(response, 409)
        created = next(r for r in responses if r.status_code == 201).json()

        found = await clients[0].post(
            "/api/v1/dps/plans/search", json={"nid": nid}, headers=world.clinician.headers
        )
        assert found.status_code == 200, found.text
        assert [p["id"] for p in found.json()["items"]] == [created["id"]]


# --------------------------------------------------------------------------------------------
# 2. Embedded mode end to end


@pytest.fixture
def short_data_dir() -> Iterator[Path]:
    """A short path: PostgreSQL's Unix socket lives inside it and must stay under ~100 bytes."""
    path = Path(tempfile.mkdtemp(dir="/tmp", prefix="cw"))
    try:
        yield path
    finally:
        # Only if a test failed half-way: stop the postgres that test's server started.
        for process in postgres_processes(path / "pgdata"):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        psutil.wait_procs(postgres_processes(path / "pgdata"), timeout=10)
        shutil.rmtree(path, ignore_errors=True)


def test_embedded_mode_serves_stops_cleanly_on_sigterm_and_keeps_data(
    short_data_dir: Path,
) -> None:
    env = child_env()
    pgdata = short_data_dir / "pgdata"

    server = LiveServer(["--data-dir", str(short_data_dir)], env, short_data_dir / "serve-1.log")
    try:
        server.wait_ready()
        assert (pgdata / "PG_VERSION").is_file()
        assert postgres_processes(pgdata), "no embedded postgres runs for the data dir"
        # One owner: the command starts the database; the app it serves only connects to it.
        assert server.log(tail=10**6).count("embedded postgresql ready") == 1, server.log()

        minted = run_cli(
            "dev-token",
            *("--data-dir", str(short_data_dir), "--role", "clinician", "--sub", "u1"),
            *("--org", "dps-x", "--name", "Kari"),
            env=env,
        )
        assert minted.returncode == 0, minted.stderr
        assert minted.stdout.endswith("\n")
        lines = minted.stdout.splitlines()
        assert len(lines) == 1, minted.stdout
        headers = {"Authorization": f"Bearer {lines[0]}"}

        with httpx.Client(base_url=server.base_url, timeout=10.0) as client:
            response = client.post(
                "/api/v1/dps/plans",
                json={
                    "patient": {"nid": make_nid(), "name": "Ola Pasient"},
                    "nav_office": "nav-0301",
                    "title": "Overlever en omstart",
                },
                headers=headers,
            )
        assert response.status_code == 201, response.text
        plan_id = response.json()["id"]
        assert response.json()["dps_unit"] == "dps-x"
    finally:
        returncode = server.terminate()
    assert returncode == 0, server.log()
    left = wait_until_gone(pgdata)
    assert not left, f"embedded postgres still running: {[p.pid for p in left]}\n{server.log()}"

    again = LiveServer(["--data-dir", str(short_data_dir)], env, short_data_dir / "serve-2.log")
    try:
        again.wait_ready()
        with httpx.Client(base_url=again.base_url, timeout=10.0) as client:
            response = client.get(f"/api/v1/dps/plans/{plan_id}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["title"] == "Overlever en omstart"
    finally:
        returncode = again.terminate()
    assert returncode == 0, again.log()
    assert not wait_until_gone(pgdata), again.log()


# --------------------------------------------------------------------------------------------
# 3. carework migrate against DATABASE_URL


async def test_migrate_command_brings_an_empty_database_to_head(
    embedded_pg: EmbeddedPostgres,
) -> None:
    url = embedded_pg.create_database("cw_migrate_cli")
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT to_regclass('alembic_version')")) is None

        env = child_env(DATABASE_URL=url)
        for _ in range(2):  # the second run finds nothing to do and still succeeds
            result = await asyncio.to_thread(run_cli, "migrate", env=env)
            assert result.returncode == 0, result.stderr

        async with engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            assert [v for (v,) in versions] == [migrate.head_revision()]
            assert await conn.scalar(text("SELECT to_regclass('plan')")) is not None
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------------------------
# 4. carework dev-token


def test_dev_token_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = run_cli(
        "dev-token",
        *("--data-dir", str(tmp_path), "--role", "superuser", "--sub", "u1", "--name", "X"),
        env=child_env(),
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert "superuser" in result.stderr


def test_dev_token_honours_ttl_and_is_signed_by_the_data_dir_key(tmp_path: Path) -> None:
    before = int(time.time())
    result = run_cli(
        "dev-token",
        *("--data-dir", str(tmp_path), "--role", "patient", "--sub", "p1", "--name", "Ola"),
        *("--pid", "01015012345", "--ttl", "120"),
        env=child_env(),
    )
    after = int(time.time())
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120
    assert claims["nbf"] == claims["iat"]
    assert before <= claims["iat"] <= after
    assert (claims["role"], claims["sub"], claims["name"], claims["pid"]) == (
        "patient",
        "p1",
        "Ola",
        "01015012345",
    )
    assert "org" not in claims

    key_file = tmp_path / "dev-signing-key.pem"
    assert key_file.is_file()
    public_key = load_or_create_dev_key(key_file).public_key()
    verified = jwt.decode(
        token, public_key, algorithms=["ES256"], audience=DEFAULT_AUDIENCE, issuer=DEV_ISSUER
    )
    assert verified == claims
