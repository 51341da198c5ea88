"""Prometheus metrics: requests, the audit append, the connection pool and the feed's lag.

``GET /metrics`` serves them in the text format (prometheus_client):

- ``http_requests_total`` and ``http_request_duration_seconds``, labelled by method, status and
  *route template* (``/api/v1/dps/plans/{plan_id}``), never by the raw path, which holds ids.
  Paths that match no route are counted under ``none``; ``/metrics`` itself is not counted.
- ``carework_audit_append_seconds``: the audit event's append, which every request on patient
  data waits for (``http.audit``).
- ``carework_db_pool_*``: the connection pool (``db.pool``): connections in use, idle and over
  the pool's size, callers waiting for one, and checkouts with the seconds they took.
- ``carework_feed_lag_seconds``, ``carework_feed_held_back_events``: committed change events
  the feed cannot serve yet, and the age of the oldest (``feed.lag``), measured by the scrape
  with a short timeout; ``carework_feed_lag_measured`` is 0 when the database did not answer.

Behind ``carework serve --workers N`` each worker is a process of its own, and a scrape reaches
whichever accepts the connection. ``carework serve`` sets ``PROMETHEUS_MULTIPROC_DIR``, so every
worker writes its values to files there and a scrape of any worker adds them all up
(prometheus_client's multiprocess mode): request counts are the server's, pool gauges the sum
over live workers. Process metrics (CPU, memory) are left out in that mode, being per process.
Without that variable (tests, ``uvicorn --factory``) each app counts in a registry of its own,
so the apps a test process builds count only their own requests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carework.db.pool import CountingQueuePool
from carework.feed.lag import HeldBack, held_back
from carework.http.middleware import route_template
from carework.operations.housekeeping import Job

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: A scrape waits this long for the feed's lag, then reports it as not measured.
FEED_LAG_TIMEOUT_SECONDS = 1.0
#: How often each worker writes its pool's state for the other workers' scrapes.
POOL_SAMPLE_SECONDS = 1.0
#: The audit append is one statement, usually well under 5 ms.
AUDIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

log = logging.getLogger("carework.metrics")
router = APIRouter(tags=["operations"])


def multiprocess_dir() -> str | None:
    """The shared directory when the workers count together, else None.

    prometheus_client picks its value store when first imported: a variable set later would
    leave this process counting in memory while scrapes read the (empty) directory, so that
    case is reported and treated as a single process.
    """
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return None
    if values.ValueClass is values.MutexValue:
        log.error("%s was set after prometheus_client was imported: ignored", MULTIPROC_ENV)
        return None
    return directory


@dataclass
class Metrics:
    """One app's metrics. In multiprocess mode their values live in the shared files, and the
    gauges add up over the workers alive (``livesum``)."""

    registry: CollectorRegistry
    multiprocess: bool
    requests: Counter
    duration: Histogram
    audit_append_seconds: Histogram
    pool_connections: Gauge
    pool_size: Gauge
    pool_overflow: Gauge
    pool_waiting: Gauge
    pool_checkouts: Counter
    pool_checkout_seconds: Counter
    #: The totals last published, and of which pool (a disposed engine gets a new one).
    _published: tuple[int, int, float] = field(default=(0, 0, 0.0))

    @classmethod
    def create(cls, multiprocess_mode: bool) -> Metrics:
        registry = CollectorRegistry()
        if not multiprocess_mode:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        return cls(
            registry=registry,
            multiprocess=multiprocess_mode,
            requests=Counter(
                "http_requests", "HTTP requests by route template, method and status.",
                ["handler", "method", "status"], registry=registry,
            ),
            duration=Histogram(
                "http_request_duration_seconds", "HTTP request latency by route template.",
                ["handler", "method"], registry=registry,
            ),
            audit_append_seconds=Histogram(
                "carework_audit_append_seconds",
                "Appending a request's audit event (one statement, in the request's transaction).",
                buckets=AUDIT_BUCKETS, registry=registry,
            ),
            pool_connections=Gauge(
                "carework_db_pool_connections",
                "Pooled database connections by state: in_use (checked out) or idle.",
                ["state"], registry=registry, multiprocess_mode="livesum",
            ),
            pool_size=Gauge(
                "carework_db_pool_size",
                "Connections the pools keep (overflow beyond it is allowed, then callers wait).",
                registry=registry, multiprocess_mode="livesum",
            ),
            pool_overflow=Gauge(
                "carework_db_pool_overflow", "Connections open beyond the pools' size.",
                registry=registry, multiprocess_mode="livesum",
            ),
            pool_waiting=Gauge(
                "carework_db_pool_waiting",
                "Callers waiting for a pooled connection (a free one, or a new one to open).",
                registry=registry, multiprocess_mode="livesum",
            ),
            pool_checkouts=Counter(
                "carework_db_pool_checkouts", "Connections taken from the pool.",
                registry=registry,
            ),
            pool_checkout_seconds=Counter(
                "carework_db_pool_checkout_seconds",
                "Seconds spent taking connections from the pool, waiting included.",
                registry=registry,
            ),
        )  # fmt: skip

    def sample_pool(self, engine: AsyncEngine) -> None:
        """Publish the pool's state now (its checkouts as the growth since the last look)."""
        pool = engine.pool
        if not isinstance(pool, CountingQueuePool):
            return
        state = pool.state()
        self.pool_connections.labels("in_use").set(state.in_use)
        self.pool_connections.labels("idle").set(state.idle)
        self.pool_size.set(state.size)
        self.pool_overflow.set(state.overflow)
        self.pool_waiting.set(state.waiting)
        seen, checkouts, seconds = self._published
        if seen != id(pool) or state.checkouts < checkouts:
            checkouts, seconds = 0, 0.0
        self.pool_checkouts.inc(state.checkouts - checkouts)
        self.pool_checkout_seconds.inc(max(0.0, state.checkout_seconds - seconds))
        self._published = (id(pool), state.checkouts, state.checkout_seconds)


class FeedLagCollector:
    """The feed's lag as one scrape measured it (not stored: any worker measures the same)."""

    def __init__(self, held: HeldBack | None) -> None:
        self.held = held

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "carework_feed_lag_measured",
            "1 when this scrape measured the feed's lag, 0 when the database did not answer.",
            value=0 if self.held is None else 1,
        )
        if self.held is not None:
            yield GaugeMetricFamily(
                "carework_feed_lag_seconds",
                "Age of the oldest committed change event the feed cannot serve yet "
                "(an older transaction still runs); 0 when it serves all.",
                value=self.held.oldest_seconds,
            )
            yield GaugeMetricFamily(
                "carework_feed_held_back_events",
                "Committed change events the feed cannot serve yet.",
                value=self.held.events,
            )


async def _feed_lag(engine: AsyncEngine) -> HeldBack | None:
    try:
        async with asyncio.timeout(FEED_LAG_TIMEOUT_SECONDS), engine.connect() as connection:
            return await held_back(connection)
    except Exception as exc:  # the database is down or busy: the scrape still answers, at once
        log.warning("metrics: the feed's lag was not measured (%s)", type(exc).__name__)
        return None


@router.get(
    "/metrics",
    operation_id="metrics",
    summary="Prometheus metrics of this server",
    description="Request counts, sizes and latencies by route template, method and status; "
    "the audit append's latency; the connection pool; the change feed's lag. Under "
    "`carework serve --workers N` any worker answers for all of them.",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    app_metrics: Metrics = request.app.state.metrics
    engine: AsyncEngine = request.app.state.engine
    app_metrics.sample_pool(engine)
    scrape = CollectorRegistry()
    if app_metrics.multiprocess:
        multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
    else:
        scrape.register(app_metrics.registry)
    scrape.register(FeedLagCollector(await _feed_lag(engine)))
    return Response(generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Count every request, and time the audit appends (``http.audit`` reads
    ``app.state.audit_append_seconds``), in metrics of the app's own."""
    app_metrics = Metrics.create(multiprocess_mode=multiprocess_dir() is not None)
    app.state.metrics = app_metrics
    app.state.audit_append_seconds = app_metrics.audit_append_seconds
    app.add_middleware(HttpMetricsMiddleware, metrics=app_metrics)


def jobs(app: FastAPI) -> list[Job]:
    """With several workers each writes its pool's state every second, for the scrapes the
    others answer; alone, the scrape looks itself."""
    app_metrics: Metrics = app.state.metrics
    if not app_metrics.multiprocess:
        return []

    async def sample() -> None:
        app_metrics.sample_pool(app.state.engine)

    return [Job("metrics: pool sample", POOL_SAMPLE_SECONDS, sample)]


def process_ended() -> None:
    """This worker's gauges leave the sums (its counters stay: they were counted)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class HttpMetricsMiddleware:
    """``http_requests_total`` (handler, method, status) and ``http_request_duration_seconds``
    (handler, method), labelled by route template — ``none`` when no route matched — and
    never by the raw path, which holds ids. ``/metrics`` itself is not counted.

    Read from the route the app matched (``scope["route"]``), so it costs two observations
    per request and no second route lookup."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.requests = metrics.requests
        self.duration = metrics.duration

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
