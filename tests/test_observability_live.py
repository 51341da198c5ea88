"""Tracing and metrics as an operator runs them: real ``carework serve`` processes.

- Tracing: with ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a real OTLP/HTTP receiver (a small
  HTTP server here that decodes ``ExportTraceServiceRequest`` with opentelemetry-proto), a
  request sent with a W3C ``traceparent`` yields spans in the caller's trace: the server span
  under the caller's span, and database spans under it. No attribute of any span holds the
  test patient's national id, although it went in a body, a query string and a path. The batch
  waits a minute, so the spans arrive only because shutdown flushes them.
- Without the endpoint, nothing of OpenTelemetry is imported.
- Metrics: behind ``--workers 2`` requests land on both workers, and ``/metrics`` from any
  worker counts all of them.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from prometheus_client.parser import text_string_to_metric_families

from carework.operations.metrics import POOL_SAMPLE_SECONDS
from tests.factories import TokenMaker, make_world
from tests.live import LiveServer, child_env, clients_across_workers

pytestmark = pytest.mark.live

SERVER_KIND = 2  # opentelemetry.proto.trace.v1.Span.SpanKind
CLIENT_KIND = 3


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, str]
    service: str


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: what the exporter POSTs to ``/v1/traces``."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        with self.lock:
            self.paths.append(path)
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            ReceivedSpan(
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                name=span.name,
                                kind=span.kind,
                                attributes=_attributes(span.attributes),
                                service=resource.get("service.name", ""),
                            )
                        )


def _value(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return repr([_value(v) for v in value.array_value.values])
    return "" if kind is None else str(getattr(value, kind))


def _attributes(pairs: Any) -> dict[str, str]:
    return {pair.key: _value(pair.value) for pair in pairs}


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.take(self.path, body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_request_continues_the_callers_trace_down_to_the_database_without_the_nid(
    receiver: tuple[Receiver, str], database_url: str, tmp_path: Path
) -> None:
    received, endpoint = receiver
    tokens = TokenMaker(tmp_path / "dev-signing-key.pem")
    world = make_world(tokens)
    nid = world.nid
    env = child_env(
        DATABASE_URL=database_url,
        CAREWORK_DEV_AUTH="1",
        CAREWORK_DATA_DIR=str(tmp_path),
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_BSP_SCHEDULE_DELAY="60000",  # only the flush at shutdown sends them
    )
    live = LiveServer([], env, tmp_path / "serve.log")
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    traced = {**world.clinician.headers, "traceparent": f"00-{trace_id}-{caller_span}-01"}
    try:
        live.wait_ready()
        with httpx.Client(base_url=live.base_url, timeout=10) as client:
            body = {
                "patient": {"nid": nid, "name": "Ola Pasient"},
                "nav_office": world.nav_office,
                "title": "Tilbake i arbeid",
                "status": "active",
            }
            created = client.post("/api/v1/dps/plans", json=body, headers=traced)
            assert created.status_code == 201, created.text
            plan_id = created.json()["id"]
            found = client.post("/api/v1/dps/plans/search", json={"nid": nid}, headers=traced)
            assert found.status_code == 200, found.text
            read = client.get(f"/api/v1/dps/plans/{plan_id}?nid={nid}", headers=traced)
            assert read.status_code == 200, read.text
            astray = client.get(f"/api/v1/dps/nothing/{nid}", headers=traced)
            assert astray.status_code == 404
        assert received.spans == [], "exported before shutdown: the flush is not what is tested"
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()

    assert set(received.paths) == {"/v1/traces"}
    ours = [s for s in received.spans if s.trace_id == trace_id]
    servers = [s for s in ours if s.kind == SERVER_KIND]
    assert sorted(s.name for s in servers) == [
        "GET",  # no route matched: the raw path never names a span
        "GET /api/v1/dps/plans/{plan_id}",
        "POST /api/v1/dps/plans",
        "POST /api/v1/dps/plans/search",
    ]
    assert {s.parent_span_id for s in servers} == {caller_span}
    assert {s.service for s in ours} == {"carework"}

    # Database spans, each under a server span of ours (directly or through others).
    by_id = {s.span_id: s for s in ours}

    def root_of(span: ReceivedSpan) -> ReceivedSpan:
        while span.parent_span_id in by_id:
            span = by_id[span.parent_span_id]
        return span

    statements = [s for s in ours if s.kind == CLIENT_KIND and "db.system" in s.attributes]
    assert len(statements) >= 6
    assert {root_of(s).kind for s in statements} == {SERVER_KIND}
    assert any("audit_event" in s.attributes.get("db.statement", "") for s in statements)
    search = next(s for s in servers if s.name == "POST /api/v1/dps/plans/search")
    assert any(root_of(s) is search for s in statements)

    leaks = [
        (s.name, key, value)
        for s in received.spans
        for key, value in s.attributes.items()
        if nid in value or nid in s.name
    ]
    assert leaks == []
    read_span = next(s for s in servers if s.name == "GET /api/v1/dps/plans/{plan_id}")
    assert read_span.attributes["http.route"] == "/api/v1/dps/plans/{plan_id}"
    # Runs of 6+ digits are masked wherever a path is recorded (a national id has 11); a plan
    # id may hold such a run too (it did: the test failed one run in a few dozen).
    target = re.sub(r"\d{6,}", "{digits}", f"/api/v1/dps/plans/{plan_id}")
    assert read_span.attributes["http.target"] == target


def test_without_an_endpoint_no_tracing_is_loaded(database_url: str) -> None:
    """(FastAPI itself imports the OpenTelemetry API; its own telemetry is switched off.)"""
    program = (
        "import sys\n"
        "from carework.app import create_app\n"
        "from carework.config import Settings\n"
        f"app = create_app(Settings(database_url={database_url!r}))\n"
        "sdk = ('opentelemetry.sdk', 'opentelemetry.instrumentation', 'opentelemetry.exporter')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(sdk))\n"
        "assert not loaded, loaded\n"
        "assert app.state.tracing is None\n"
        "assert not app._native_telemetry.enabled()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def wait_for_workers(live: LiveServer, workers: int, timeout: float = 30.0) -> None:
    """Until every worker has started its app (one answering ``/healthz`` is not all)."""
    deadline = time.monotonic() + timeout
    while live.log(tail=1_000_000).count("Application startup complete") < workers:
        assert time.monotonic() < deadline, live.log()
        time.sleep(0.1)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_from_any_worker_count_every_workers_requests(
    database_url: str, tmp_path: Path
) -> None:
    tokens = TokenMaker(tmp_path / "dev-signing-key.pem")
    world = make_world(tokens)
    env = child_env(
        DATABASE_URL=database_url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(tmp_path)
    )
    live = LiveServer(["--workers", "2"], env, tmp_path / "serve.log")
    route = ("/api/v1/dps/plans", "GET", "200")
    try:
        live.wait_ready()
        wait_for_workers(live, 2)
        async with clients_across_workers(live) as clients:
            for client in clients:  # each on its own connection, on two workers or more
                for _ in range(3):
                    response = await client.get(
                        "/api/v1/dps/plans", headers=world.clinician.headers
                    )
                    assert response.status_code == 200, response.text
            asked = 3 * len(clients)
            await asyncio.sleep(POOL_SAMPLE_SECONDS * 1.5)  # every worker has looked at its pool
            scrapes = [await client.get("/metrics") for client in clients]
        worker_files = {p.name.rsplit("_", 1)[1] for p in (tmp_path / "metrics").glob("*_*.db")}
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()

    for scrape in scrapes:  # from every client's connection: whichever worker answered
        assert scrape.status_code == 200
        samples = _samples(scrape.text)
        labels = tuple(sorted(zip(("handler", "method", "status"), route, strict=True)))
        assert samples[("http_requests_total", labels)] == asked
        assert samples[("carework_audit_append_seconds_count", ())] == asked
        in_use = samples[("carework_db_pool_connections", (("state", "in_use"),))]
        idle = samples[("carework_db_pool_connections", (("state", "idle"),))]
        assert 0 <= in_use <= 2 * 20
        assert 0 <= idle <= 2 * 20
        assert samples[("carework_db_pool_size", ())] == 2 * 10  # both workers' pools
        assert samples[("carework_db_pool_waiting", ())] == 0
        assert samples[("carework_db_pool_checkouts_total", ())] >= asked
        assert samples[("carework_feed_lag_measured", ())] == 1
        assert samples[("carework_feed_lag_seconds", ())] >= 0
        assert samples[("carework_feed_held_back_events", ())] >= 0
    assert len(worker_files) >= 2, worker_files  # every worker wrote its own counts there
