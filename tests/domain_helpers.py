"""Small helpers for the domain behaviour tests: URLs per side, writes that return the ETag,
and a check that an error is an RFC 9457 problem."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Set
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Actor, World, create_plan, make_nid

PROBLEM = "application/problem+json"

SIDE_OF_ROLE = {"clinician": "dps", "nav_advisor": "nav"}

S = TypeVar("S")


def shortest_path(transitions: Mapping[S, Set[S]], start: S, target: S) -> list[S]:
    """The fewest status moves from ``start`` to ``target`` under a transition table."""
    queue: deque[list[S]] = deque([[start]])
    seen = {start}
    while queue:
        path = queue.popleft()
        if path[-1] == target:
            return path
        for nxt in sorted(transitions[path[-1]], key=str):
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    raise AssertionError(f"{target} cannot be reached from {start}")


def base(actor: Actor) -> str:
    """The audience router for this actor: ``/api/v1/dps`` or ``/api/v1/nav``."""
    return f"/api/v1/{SIDE_OF_ROLE[actor.role]}/plans"


def plan_url(actor: Actor, plan_id: str) -> str:
    return f"{base(actor)}/{plan_id}"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is ``status`` and an RFC 9457 problem body saying so."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    return body


def assert_created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def plan_for_new_patient(
    client: httpx.AsyncClient, world: World, *, status: str = "active", **extra: Any
) -> dict[str, Any]:
    """A plan in the world's unit and office for a patient other than ``world.nid``."""
    return await create_plan(
        client, world, status=status, patient={"nid": make_nid(), "name": "Per Pasient"}, **extra
    )


async def read_plan(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> dict[str, Any]:
    response = await client.get(plan_url(actor, plan_id), headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def read_patient_plan(client: httpx.AsyncClient, patient: Actor) -> dict[str, Any]:
    response = await client.get("/api/v1/patient/plan", headers=patient.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_goal(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, domain: str, **fields: Any
) -> dict[str, Any]:
    body = {"domain": domain, "title": f"{domain} goal", **fields}
    response = await client.post(
        f"{plan_url(actor, plan_id)}/goals", json=body, headers=actor.headers
    )
    goal = assert_created(response)
    assert response.headers["etag"] == f'"{goal["version"]}"'
    return goal


async def propose_goal(
    client: httpx.AsyncClient, patient: Actor, domain: str, title: str = "Mitt mål"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/patient/plan/goals",
        json={"domain": domain, "title": title},
        headers=patient.headers,
    )
    return assert_created(response)


async def add_activity(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, kind: str, **fields: Any
) -> dict[str, Any]:
    body = {"kind": kind, "title": f"{kind} activity", **fields}
    response = await client.post(
        f"{plan_url(actor, plan_id)}/activities", json=body, headers=actor.headers
    )
    activity = assert_created(response)
    assert response.headers["etag"] == f'"{activity["version"]}"'
    return activity


async def add_note(
    client: httpx.AsyncClient,
    actor: Actor,
    plan_id: str,
    goal_id: str,
    text: str,
    visibility: str = "shared",
) -> dict[str, Any]:
    response = await client.post(
        f"{plan_url(actor, plan_id)}/goals/{goal_id}/notes",
        json={"text": text, "visibility": visibility},
        headers=actor.headers,
    )
    return assert_created(response)


async def patch(
    client: httpx.AsyncClient, actor: Actor, url: str, version: int, body: dict[str, Any]
) -> httpx.Response:
    headers = {**actor.headers, "If-Match": f'"{version}"'}
    return await client.patch(url, json=body, headers=headers)


async def all_pages(
    client: httpx.AsyncClient, actor: Actor, url: str, limit: int
) -> list[list[dict[str, Any]]]:
    """Every page of a list, following ``next_cursor`` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor does not move on"


def served_routes(app: FastAPI) -> set[str]:
    """Every ``METHOD /path`` the app answers with a FastAPI route, patient data or not."""
    routes: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue  # the docs pages and openapi.json are plain Starlette routes
        assert context.path is not None
        for method in context.methods or ():
            routes.add(f"{method} {context.path}")
    return routes


class SentThroughSqlalchemy:
    """The statements SQLAlchemy itself sends while the block runs (``db.direct``'s, sent
    straight to the driver, are not among them)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.sent: list[str] = []

    def _note(self, *args: Any) -> None:
        self.sent.append(args[2])

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._note)
        return self.sent

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._note)
