"""The application factory. The lifespan owns the engine; nothing lives at module level."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.concurrency import run_in_threadpool

from carework import __version__, operations, ui
from carework.api import audit, dps, nav, patient
from carework.audit import checkpoint, refusals, verification
from carework.auth.tokens import TokenVerifier
from carework.config import Settings, get_settings
from carework.db.embedded import EmbeddedPostgres
from carework.db.session import make_engine, make_sessionmaker
from carework.fhir import router as fhir
from carework.http.abandon import AbandonMiddleware
from carework.http.headers import SecurityHeaders, SecurityHeadersMiddleware
from carework.http.middleware import (
    AccessLogMiddleware,
    BodyDeadlineMiddleware,
    BodyLimitMiddleware,
    CutOffAtShutdownMiddleware,
    RequestIdMiddleware,
)
from carework.http.problem import install_problem_handlers
from carework.http.rate_limit import RateLimitMiddleware, RateLimits, make_storage
from carework.idempotency import sealing
from carework.idempotency import service as idempotency
from carework.logs import configure_logging
from carework.operations import housekeeping, metrics, tracing
from carework.ui import route as ui_route
from carework.ui import signout

log = logging.getLogger("carework")


def settle_garbage_collector() -> None:
    """Keep the collector's pauses out of the response times.

    With the default thresholds a worker under load ran a full collection every few seconds,
    each 150 ms long, walking every object the app built at start (routes, schemas, SQL
    statements): that was the p99. Frozen, those are never walked again; a larger first
    threshold makes the young collections rarer. ``bench/`` shows the effect on p99.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


DESCRIPTION = """\
One shared individual plan per patient: DPS clinicians own treatment goals, NAV advisors own
work and education goals, and the patient takes part and decides by consent what NAV may see.

Every call on patient data needs `Authorization: Bearer <JWT>` (`/healthz`, `/readyz` and
`/metrics` do not). Each audience has its own router and views;
a plan outside the caller's scope is 404. Errors are `application/problem+json` (RFC 9457).
"""


def housekeeping_jobs(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    tally: refusals.RefusalTally,
) -> list[housekeeping.Job]:
    """The periodic jobs every server process runs (``operations.housekeeping``)."""

    async def purge_idempotency_keys() -> None:
        await idempotency.purge_expired(sessionmaker)

    async def purge_signouts() -> None:
        await signout.purge_expired(sessionmaker)

    location = checkpoint.Location.of(settings)
    checkpoint_interval = settings.audit_checkpoint_interval_seconds

    async def write_checkpoint() -> None:
        written = await checkpoint.take_periodic(sessionmaker, location, checkpoint_interval)
        if written is not None:
            log.info("audit checkpoint written: %s", written.name)

    write_refusal = refusals.writer(sessionmaker)

    async def write_refusal_summaries() -> None:
        await tally.flush(write_refusal)

    return [
        # A window's summary is written within about one window of its end, even if its client
        # never comes back.
        housekeeping.Job(
            "audit-refusal-summaries", settings.refusal_window_seconds, write_refusal_summaries
        ),
        housekeeping.Job(
            "idempotency-purge",
            settings.idempotency_purge_interval_seconds,
            purge_idempotency_keys,
        ),
        housekeeping.Job("audit-checkpoint", checkpoint_interval, write_checkpoint),
        housekeeping.Job(
            "ui-signout-purge", settings.ui_signout_purge_interval_seconds, purge_signouts
        ),
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Here too, not only in `carework serve`: each uvicorn worker process builds its own app.
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        embedded: EmbeddedPostgres | None = None
        if settings.database_url is None:
            # Started directly (e.g. `uvicorn --factory`): run the embedded database ourselves.
            from carework.db import migrate

            embedded = EmbeddedPostgres(settings.pgdata)
            url = await run_in_threadpool(embedded.start)
            await run_in_threadpool(migrate.upgrade, url)
        else:
            url = settings.database_url.get_secret_value()
        app.state.verifier = TokenVerifier(settings)
        app.state.idempotency_seal = await run_in_threadpool(
            sealing.load_seal, settings.idempotency_key_path
        )
        engine = make_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_timeout=settings.db_connect_timeout_seconds,
            command_timeout=settings.db_command_timeout_seconds,
        )
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        if os.environ.get("CAREWORK_DEMO") == "1":  # `carework serve --demo`
            from carework import demo

            await demo.seed(app.state.sessionmaker)
        traced: tracing.Tracing | None = app.state.tracing
        if traced is not None:
            traced.start()
        settle_garbage_collector()
        tally: refusals.RefusalTally = app.state.refusals
        jobs = [*housekeeping_jobs(settings, app.state.sessionmaker, tally), *metrics.jobs(app)]
        try:
            async with (
                verification.verifier(
                    app.state.sessionmaker, checkpoint.Location.of(settings)
                ) as app.state.audit_runs,
                housekeeping.running(jobs),
            ):
                yield
        finally:
            try:
                await tally.flush(refusals.writer(app.state.sessionmaker), everything=True)
            except Exception:
                log.warning("refusal summaries could not be written at shutdown", exc_info=True)
            await engine.dispose()
            if traced is not None:
                traced.stop()
            metrics.process_ended()
            if embedded is not None:
                await run_in_threadpool(embedded.stop)

    app = FastAPI(
        title="carework",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry stays off whatever is configured globally (it would keep
        # bodies for processors and log exception messages): tracing is operations.tracing's.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    app.state.settings = settings
    if settings.dev_auth_enabled and not settings.embedded:
        log.warning(
            "dev auth is ON with an external database: tokens from `carework dev-token` work"
        )
    install_problem_handlers(app)
    app.state.refusals = refusals.RefusalTally(settings.refusal_window_seconds)
    # Outermost last. A request meets: the request id, the access log line, the watch for its
    # client leaving, the rate limit (before any work), the body's deadline and size, and the
    # 503 for a request cut off by a stopping server.
    app.add_middleware(CutOffAtShutdownMiddleware)  # innermost: its 503 gets the request id
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(BodyDeadlineMiddleware, seconds=settings.body_timeout_seconds)
    app.add_middleware(
        RateLimitMiddleware,
        limits=RateLimits(
            settings.rate_limit, settings.anon_rate_limit, make_storage(settings.rate_limit_storage)
        ),
        tally=app.state.refusals,
        ui_prefix="/ui",
        ui_cookie=ui_route.COOKIE,
    )
    app.add_middleware(AbandonMiddleware)
    app.add_middleware(AccessLogMiddleware)  # inside RequestIdMiddleware: the line has the id
    app.add_middleware(RequestIdMiddleware)
    for module in (dps, nav, patient, audit):
        app.include_router(module.router)
    app.include_router(fhir.router)
    ui.install(app)  # /ui: the thin web frontend, and its static files
    operations.install(app)  # /healthz, /readyz, /metrics, and request metrics for every route
    # Outside the others, so every answer has them, errors and refusals included.
    app.state.security_headers = SecurityHeaders.build(settings.frame_ancestors)
    app.add_middleware(SecurityHeadersMiddleware, headers=app.state.security_headers)
    app.state.tracing = tracing.install(app)  # outermost; only with an OTLP endpoint configured
    return app
