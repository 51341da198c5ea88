"""Operations endpoints: liveness, readiness (database and migrations) and Prometheus metrics."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from carework.app import create_app
from carework.config import Settings
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.factories import World, create_plan
from tests.live import free_port

PROBLEM_JSON = "application/problem+json"


@asynccontextmanager
async def running(database_url: str, data_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app of its own on ``database_url``, its lifespan entered, and a client for it."""
    app = create_app(Settings(database_url=database_url, dev_auth=True, data_dir=data_dir))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
            yield c


def previous_revision() -> str | None:
    head = migrate.head_revision()
    assert head is not None
    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    down = script.get_revision(head).down_revision
    assert down is None or isinstance(down, str), "a merge at head: pick one parent"
    return down


# --- /healthz ------------------------------------------------------------------------------------


async def test_healthz_says_ok_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


async def test_healthz_needs_no_database(data_dir: Path) -> None:
    nowhere = f"postgresql://carework@127.0.0.1:{free_port()}/carework"
    async with running(nowhere, data_dir) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503


# --- /readyz -------------------------------------------------------------------------------------


async def test_readyz_is_ready_on_the_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migrations": migrate.head_revision(),
        "code_head": migrate.head_revision(),
    }


async def test_readyz_is_503_when_the_database_is_behind_head(
    embedded_pg: EmbeddedPostgres, data_dir: Path
) -> None:
    url = embedded_pg.create_database("cw_not_head")
    before_head = previous_revision()
    if before_head is not None:
        await asyncio.to_thread(migrate.upgrade, url, before_head)
    async with running(url, data_dir) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 503
    assert problem["database"] == "ok"
    assert problem["migrations"] == before_head
    assert str(migrate.head_revision()) in problem["detail"]
    assert "carework migrate" in problem["detail"]


async def test_readyz_is_503_when_the_database_does_not_answer(data_dir: Path) -> None:
    nowhere = f"postgresql://carework@127.0.0.1:{free_port()}/carework"
    async with running(nowhere, data_dir) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert (problem["status"], problem["database"]) == (503, "unreachable")
    assert "127.0.0.1" not in response.text  # no connection details for whoever asks


# --- /metrics ------------------------------------------------------------------------------------


def request_counts(text: str) -> dict[tuple[str, str, str], float]:
    """``http_requests_total`` by (handler, method, status)."""
    counts = {}
    for family in text_string_to_metric_families(text):
        if family.name != "http_requests":
            continue
        for sample in family.samples:
            if sample.name == "http_requests_total":
                labels = sample.labels
                key = (labels["handler"], labels["method"], labels["status"])
                counts[key] = sample.value
    return counts


async def test_metrics_count_requests_by_route_template_never_by_ids(
    client: httpx.AsyncClient, world: World
) -> None:
    before = request_counts((await client.get("/metrics")).text)
    plan = await create_plan(client, world)
    plan_url = f"/api/v1/dps/plans/{plan['id']}"
    for _ in range(2):
        response = await client.get(plan_url, headers=world.clinician.headers)
        assert response.status_code == 200
    goal = await client.post(
        f"{plan_url}/goals",
        json={"domain": "treatment", "title": "Sove bedre"},
        headers=world.clinician.headers,
    )
    assert goal.status_code == 201
    missing = await client.get(f"{plan_url}/nothing-here/{world.nid}")
    assert missing.status_code == 404

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = request_counts(response.text)

    def grew(key: tuple[str, str, str]) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert grew(("/api/v1/dps/plans/{plan_id}", "GET", "200")) == 2
    assert grew(("/api/v1/dps/plans", "POST", "201")) == 1
    assert grew(("/api/v1/dps/plans/{plan_id}/goals", "POST", "201")) == 1
    assert grew(("none", "GET", "404")) == 1  # no route: counted, but not under its path
    assert not any(handler == "/metrics" for handler, _, _ in after)
    for value in (plan["id"], goal.json()["id"], world.nid, "nothing-here"):
        assert value not in response.text
    # Latency by route template too, and the process itself.
    assert 'http_request_duration_seconds_count{handler="/api/v1/dps/plans/{plan_id}"' in (
        response.text
    )
    assert "process_cpu_seconds_total" in response.text


def test_objects_built_at_start_are_kept_out_of_the_collector(app: FastAPI) -> None:
    """Full collections walking every route, schema and statement were the read p99 (bench/)."""
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold()[0] >= 10_000
