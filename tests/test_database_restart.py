"""A PostgreSQL restart costs no request once the database is back.

The engine has no pre-ping (a round trip per request). After a restart every pooled connection
is dead, and the pool must not hand one out (``db.session._refuse_closed``). Before, the first
request of each pool failed with 500, and plan reads kept failing: direct statements never told
SQLAlchemy about the dead connection, so nothing invalidated it until something else cleared
the pool. (A connection that dies in use: ``tests/test_direct.py``.)

A PostgreSQL of this module's own (``tests/postgres.py``; restarting the session's would cut
every other test's pool), served by ``carework serve --workers 2``, so two pools, one per worker
process, hold connections when it restarts. Each route kind gets a fresh restart, and its FIRST
request after PostgreSQL accepts connections again must answer 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from carework.db.session import make_engine
from tests.factories import TokenMaker, make_world
from tests.live import LiveServer, child_env, clients_across_workers
from tests.postgres import RestartablePostgres, restartable_postgres

#: Starts its own PostgreSQL and a real `carework serve`.
pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def postgres() -> Iterator[RestartablePostgres]:
    with restartable_postgres("cwrs") as pg:
        yield pg


@pytest.fixture(scope="module")
def server(
    postgres: RestartablePostgres, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = child_env(
        DATABASE_URL=postgres.url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir)
    )
    live = LiveServer(["--workers", "2"], env, tmp_path_factory.mktemp("restart") / "serve.log")
    try:
        live.wait_ready()
        yield live
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()


async def test_asyncpg_notices_a_restart_without_being_asked(
    postgres: RestartablePostgres,
) -> None:
    """What the checkout check rests on: an idle pooled connection is seen closed, with no
    statement sent, once the server has gone — asyncpg reads its socket while the loop runs."""
    engine = make_engine(postgres.url)
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            assert not driver.is_closed()
            await postgres.restart()
            assert driver.is_closed()
            await conn.invalidate()
    finally:
        await engine.dispose()


ROUTE_KINDS = ["plan read", "goal patch", "plan list", "change feed"]


@pytest.mark.parametrize("kind", ROUTE_KINDS)
async def test_the_first_request_after_a_database_restart_succeeds(
    server: LiveServer, postgres: RestartablePostgres, tokens: TokenMaker, kind: str
) -> None:
    world = make_world(tokens)
    headers = world.clinician.headers
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as client:
        body = {
            "patient": {"nid": world.nid, "name": "Ola Pasient"},
            "nav_office": world.nav_office,
            "title": "Tilbake i arbeid",
            "status": "active",
        }
        response = await client.post("/api/v1/dps/plans", json=body, headers=headers)
        assert response.status_code == 201, response.text
        plan_url = f"/api/v1/dps/plans/{response.json()['id']}"
        goal = {"domain": "treatment", "title": "Sove bedre"}
        response = await client.post(f"{plan_url}/goals", json=goal, headers=headers)
        assert response.status_code == 201, response.text
        goal_url, etag = f"{plan_url}/goals/{response.json()['id']}", response.headers["etag"]

    # Both workers' pools hold connections (each worker serves some of these reads).
    async with clients_across_workers(server) as clients:
        reads = await asyncio.gather(*(c.get(plan_url, headers=headers) for c in clients))
        assert all(r.status_code == 200 for r in reads)

    await postgres.restart()

    first: dict[str, Any] = {
        "plan read": {"method": "GET", "url": plan_url},
        "goal patch": {
            "method": "PATCH",
            "url": goal_url,
            "json": {"title": "Sove hele natten"},
            "headers": {"If-Match": etag},
        },
        "plan list": {"method": "GET", "url": "/api/v1/dps/plans"},
        "change feed": {"method": "GET", "url": "/api/v1/dps/events"},
    }[kind]
    first["headers"] = {**headers, **first.get("headers", {})}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as client:
        response = await client.request(**first)
    assert response.status_code == 200, f"{response.text}\n{server.log()}"
    if kind == "goal patch":
        assert response.json()["title"] == "Sove hele natten"
    # And the other worker's first requests, on its own pool of dead connections, as well.
    async with clients_across_workers(server) as clients:
        reads = await asyncio.gather(*(c.get(plan_url, headers=headers) for c in clients))
        assert [r.status_code for r in reads] == [200] * len(clients), server.log()
