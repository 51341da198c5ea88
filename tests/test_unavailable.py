"""A database that cannot be reached: every route on it answers 503 problem+json with
Retry-After (the pages a 503 page), whatever the token; the routes off it keep answering.

In process, against an address where nothing listens (connection refused at once). What a real
server does through a real outage, a hung database and an exhausted pool: ``tests/faults/``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from carework.app import create_app
from carework.config import Settings
from tests.factories import TokenMaker, World
from tests.live import PROBLEM_JSON, free_port

UNAVAILABLE = "https://carework.example/problems/unavailable"
PLAN = "/api/v1/dps/plans/00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
async def unreachable(data_dir: Path) -> AsyncIterator[FastAPI]:
    url = f"postgresql://carework@127.0.0.1:{free_port()}/carework"
    app = create_app(Settings(database_url=url, dev_auth=True, data_dir=data_dir))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def down(unreachable: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=unreachable)
    async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
        yield c


def calls(world: World) -> dict[str, dict[str, Any]]:
    clinician = world.clinician.headers
    return {
        "read": {"method": "GET", "url": PLAN, "headers": clinician},
        "write": {"method": "PATCH", "url": PLAN, "json": {"title": "X"},
                  "headers": {**clinician, "If-Match": '"1"'}},
        "search by national id": {"method": "POST", "url": "/api/v1/dps/plans/search",
                                  "json": {"nid": world.nid}, "headers": clinician},
        "no token": {"method": "GET", "url": "/api/v1/dps/plans"},
        "a bad token": {"method": "GET", "url": "/api/v1/dps/plans",
                        "headers": {"Authorization": "Bearer nonsense"}},
        "the wrong role": {"method": "GET", "url": "/api/v1/nav/plans", "headers": clinician},
        "fhir": {"method": "GET", "url": "/fhir/r4/CarePlan/" + PLAN.rsplit("/")[-1],
                 "headers": clinician},
        "patient": {"method": "GET", "url": "/api/v1/patient/plan",
                    "headers": world.patient.headers},
    }  # fmt: skip


async def test_every_api_route_answers_503_with_retry_after(
    down: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="carework")
    for name, call in calls(world).items():
        response = await down.request(**call)
        assert response.status_code == 503, (name, response.text)
        assert response.headers["content-type"] == PROBLEM_JSON, name
        assert response.headers["retry-after"] == "5", name
        problem = response.json()
        assert (problem["type"], problem["status"]) == (UNAVAILABLE, 503), name
    assert "503, database unavailable" in caplog.text
    assert world.nid not in caplog.text


async def test_pages_answer_a_503_page(down: httpx.AsyncClient, tokens: TokenMaker) -> None:
    clinician = tokens.actor("clinician", org="dps-x")
    cookie = {"Cookie": f"carework_ui={clinician.token}"}
    for method, path, headers in [
        ("GET", "/ui/plans", cookie),
        ("GET", "/ui/plans", {}),  # not signed in: still not a redirect to sign in
        ("GET", "/ui/login", {}),
        ("POST", f"/ui/plans/{PLAN.rsplit('/')[-1]}/status",
         {**cookie, "Origin": "http://carework.test"}),
    ]:  # fmt: skip
        response = await down.request(method, path, headers=headers, data={"version": "1"})
        assert response.status_code == 503, (method, path)
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["retry-after"] == "5"
        assert "midlertidig utilgjengelig" in response.text


async def test_the_routes_off_the_database_keep_answering(down: httpx.AsyncClient) -> None:
    assert (await down.get("/healthz")).status_code == 200
    ready = await down.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert (await down.get("/metrics")).status_code == 200
