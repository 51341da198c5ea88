"""Prometheus metrics of this server process.

``GET /metrics`` serves them in the text format (prometheus_client): request counts and
latencies labelled by method, status and *route template* (``/api/v1/dps/plans/{plan_id}``),
never by the raw path, which holds ids. Paths that match no route are counted under ``none``;
``/metrics`` itself is not counted.

Every app, and so every server process, keeps its own metrics registry. Behind
``carework serve --workers N`` a scrape reaches whichever worker accepts the connection, and
counters seem to jump between the workers' values. Where metrics matter, run one worker per
replica (scale out with replicas, as the design does anyway) and scrape every replica.
"""

from __future__ import annotations

import time

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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carework.http.middleware import route_template

router = APIRouter(tags=["operations"])


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
    """Count every request in a registry of the app's own.

    A registry per app, not the global one: tests build several apps in one process, and
    each must count only its own requests.
    """
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    app.state.metrics_registry = registry
    app.add_middleware(HttpMetricsMiddleware, registry=registry)


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
