"""Operations: liveness, readiness and Prometheus metrics, for orchestrators and monitoring.

``GET /healthz``
    The process is alive and serving. It touches nothing else, so a database outage does not
    make an orchestrator restart every replica.
``GET /readyz``
    The database answers and its Alembic revision is the one this code was built for: a
    replica that is not ready should get no traffic (before ``carework migrate``, or while the
    database is down). Otherwise 503 problem+json naming what is wrong.
``GET /metrics``
    Prometheus text format (prometheus_client): request counts and latencies labelled by
    method, status and *route template* (``/api/v1/dps/plans/{plan_id}``), never by the raw
    path, which holds ids. Paths that match
    no route are counted under ``none``; ``/metrics`` itself is not counted.

None of these needs a token or touches patient data, so they run outside
``api.route.UnitOfWorkRoute``: no session, no audit event.

Every app, and so every server process, keeps its own metrics registry. Behind
``carework serve --workers N`` a scrape reaches whichever worker accepts the connection, and
counters seem to jump between the workers' values. Where metrics matter, run one worker per
replica (scale out with replicas, as the design does anyway) and scrape every replica.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Literal

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carework.db import migrate
from carework.middleware import route_template
from carework.problem import PROBLEM_MEDIA_TYPE, Problem, problem_response

log = logging.getLogger("carework.ops")

#: How long readiness waits for the database before it calls it unreachable.
READY_TIMEOUT_SECONDS = 5.0

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    migrations: str


@functools.cache
def _head_revision() -> str | None:
    """The revision this code expects; the migration scripts do not change while it runs."""
    return migrate.head_revision()


@router.get(
    "/healthz",
    response_model=Health,
    operation_id="healthz",
    summary="Liveness: the process serves requests (no database involved)",
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="readyz",
    summary="Readiness: the database answers and its migrations are at head",
    responses={
        503: {
            "model": Problem,
            "description": "Not ready: the database does not answer or is not at head. "
            "`database` says `ok` or `unreachable`; `migrations` is the database's revision.",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    },
)
async def readyz(request: Request) -> Response | Readiness:
    engine: AsyncEngine = request.app.state.engine
    head = _head_revision()
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            current = await migrate.current_revision(engine)
    except Exception:  # whatever keeps the database from answering, we are not ready
        log.warning("readiness: the database does not answer", exc_info=True)
        return problem_response(
            503,
            "The database does not answer.",
            slug="not-ready",
            title="Not Ready",
            database="unreachable",
            migrations=None,
        )
    if current is None or current != head:  # an unmigrated database is never ready
        return problem_response(
            503,
            f"The database is at migration {current or 'none'}, this code needs {head}: "
            "run `carework migrate`.",
            slug="not-ready",
            title="Not Ready",
            database="ok",
            migrations=current,
        )
    return Readiness(status="ready", database="ok", migrations=current)


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics of this server process",
    description="Request counts, sizes and latencies by route template, method and status, "
    "plus process metrics. Each server process has its own: scrape every replica.",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Add the operations routes and count every request in a registry of the app's own.

    A registry per app, not the global one: tests build several apps in one process, and
    each must count only its own requests.
    """
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    app.state.metrics_registry = registry
    app.add_middleware(HttpMetricsMiddleware, registry=registry)
    app.include_router(router)


class HttpMetricsMiddleware:
    """``http_requests_total`` (handler, method, status) and ``http_request_duration_seconds``
    (handler, method), labelled by route template — ``none`` when no route matched — and
    never by the raw path, which holds ids. ``/metrics`` itself is not counted.

    Read from the route the app matched (``scope["route"]``), so it costs two observations
    per request and no second route lookup."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "http_requests", "HTTP requests by route template, method and status.",
            ["handler", "method", "status"], registry=registry,
        )  # fmt: skip
        self.duration = Histogram(
            "http_request_duration_seconds", "HTTP request latency by route template.",
            ["handler", "method"], registry=registry,
        )  # fmt: skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            handler = route_template(scope) or "none"
            if handler != "/metrics":
                method = str(scope["method"])
                self.requests.labels(handler, method, str(status)).inc()
                self.duration.labels(handler, method).observe(time.perf_counter() - started)
