"""OpenTelemetry traces, sent over OTLP/HTTP, only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set. Without it nothing of OpenTelemetry is even
imported: the requests pay nothing.

What is traced: one server span per HTTP request, continuing the caller's trace when it sends
a W3C ``traceparent``, named by method and route template (``GET
/api/v1/dps/plans/{plan_id}``); under it one client span per database statement, every one on
asyncpg (the hot path's direct statements and SQLAlchemy's alike, which runs asyncpg's prepared
statements). Service name ``carework`` unless ``OTEL_SERVICE_NAME`` says otherwise; the other
standard ``OTEL_*`` variables (sampler, headers, batch sizes) apply as the SDK reads them.

What is not recorded: a national id, or anything that may hold one. Statement parameters are
not captured (only the SQL text, whose values are all parameters); bodies never are; request
headers are not captured whatever ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` says; the
URL attributes lose their query string, and digit runs left in the path (a path no route
matched) are masked as in the access log.

Each server process sets up its own: ``install`` at ``create_app`` (the middleware), ``start``
in the lifespan (the exporter's batch thread, so after any fork), ``stop`` at shutdown, which
flushes what is left.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carework import __version__
from carework.http.middleware import route_template

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
DEFAULT_SERVICE_NAME = "carework"
#: The attributes that hold the request's URL or part of it (old and new HTTP conventions).
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.path", "url.query")
_DIGIT_RUN = re.compile(r"\d{6,}")  # as in the access log (http.middleware)


def enabled() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES) and (
        os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true"
    )


def _without_query(value: str) -> str:
    return _DIGIT_RUN.sub("{digits}", value.split("?", 1)[0])


def scrub_request_attributes(span: Span, scope: dict[str, Any]) -> None:
    """The server span's URL attributes without the query string or long digit runs."""
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            span.set_attribute(name, "" if name == "url.query" else _without_query(value))


def _span_details(scope: Scope) -> tuple[str, dict[str, str]]:
    """The name a server span starts with: the method only. ``NameByRoute`` names it by the
    route template once the app has matched one; the raw path never becomes a name."""
    return str(scope.get("method") or "HTTP"), {}


class NameByRoute:
    """Inside the OpenTelemetry middleware: as the answer starts (the span ends with its last
    byte), name the server span, and set ``http.route``, by the route template the app matched,
    as the metrics label it."""

    def __init__(self, app: ASGIApp) -> None:
        from opentelemetry import trace

        self.app = app
        self.current_span = trace.get_current_span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        span = self.current_span()

        async def naming(message: Message) -> None:
            if message["type"] == "http.response.start" and span.is_recording():
                template = route_template(scope)
                if template is not None:
                    span.update_name(f"{scope['method']} {template}")
                    span.set_attribute("http.route", template)
            await send(message)

        await self.app(scope, receive, naming)


class Tracing:
    """One server process's tracing: its provider, exporter and instrumentation."""

    def __init__(self) -> None:
        from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
        from opentelemetry.sdk.trace import TracerProvider

        name = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
        resource = Resource.create({SERVICE_NAME: name, SERVICE_VERSION: __version__})
        self.provider: TracerProvider = TracerProvider(resource=resource)
        self._instrumentor: Any = None

    def install(self, app: FastAPI) -> None:
        """The server spans: the outermost middleware, so they time everything."""
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.metrics import NoOpMeterProvider

        app.add_middleware(NameByRoute)
        app.add_middleware(
            OpenTelemetryMiddleware,
            tracer_provider=self.provider,
            meter_provider=NoOpMeterProvider(),  # metrics are Prometheus's (operations.metrics)
            default_span_details=_span_details,
            server_request_hook=scrub_request_attributes,
            exclude_spans=["receive", "send"],
            http_capture_headers_server_request=[],
            http_capture_headers_server_response=[],
        )

    def start(self) -> None:
        """In the server process, at startup: the exporter's thread, and the statement spans."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
        self._instrumentor.instrument(tracer_provider=self.provider)

    def stop(self) -> None:
        """At shutdown: send what is left (the exporter's timeout bounds it)."""
        if self._instrumentor is not None:
            self._instrumentor.uninstrument()
            self._instrumentor = None
        self.provider.shutdown()


def install(app: FastAPI) -> Tracing | None:
    """Trace this app's requests if an OTLP endpoint is configured; else do nothing."""
    if not enabled():
        return None
    tracing = Tracing()
    tracing.install(app)
    return tracing
