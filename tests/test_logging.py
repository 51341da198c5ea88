"""Structured logs: JSON lines, a request id on every line a request causes, one access line per
request naming the route template, and no national id or note text anywhere.

The in-process scenario captures at the handler level with carework's own formatter, with every
logger turned up to DEBUG (SQLAlchemy's statements included), so it sees what an operator would.
The live check reads what ``carework serve --workers 2`` really writes to stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from carework.app import create_app
from carework.config import Settings
from carework.logs import HANDLER_NAME, configure_logging, make_formatter
from tests.factories import Actor, TokenMaker, World, make_nid, make_world, unique
from tests.live import LiveServer, child_env

PLANS = "/api/v1/dps/plans"
# The test's own HTTP client logs full URLs; it is not carework and its lines are not checked.
CLIENT_LOGGERS = ("httpx", "httpcore")


class _NotTheClient(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(CLIENT_LOGGERS)


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every record, from every logger at DEBUG, as carework's JSON formatter renders it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(json=True))
    handler.addFilter(_NotTheClient())
    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(name) for name in list(root.manager.loggerDict))]
    levels = {logger: logger.level for logger in loggers}
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for logger, level in levels.items():
            logger.setLevel(level)


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Every line is one JSON object with the keys every carework line has."""
    entries = []
    for line in text.splitlines():
        entry = json.loads(line)  # fails the test on a line that is not JSON
        assert isinstance(entry, dict), line
        assert {"timestamp", "level", "logger", "event"} <= entry.keys(), line
        assert entry["timestamp"].endswith("Z"), line  # ISO 8601, UTC
        entries.append(entry)
    return entries


class Recorder:
    """Sends requests through the app and files the log lines each one caused under it."""

    def __init__(self, client: httpx.AsyncClient, stream: io.StringIO) -> None:
        self.client = client
        self.stream = stream
        self.requests: list[tuple[httpx.Response, str, list[dict[str, Any]]]] = []

    async def __call__(
        self,
        method: str,
        url: str,
        route: str,
        actor: Actor | None = None,
        *,
        status: int,
        **kwargs: Any,
    ) -> httpx.Response:
        start = len(self.stream.getvalue())
        if actor is not None:
            kwargs["headers"] = actor.headers
        response = await self.client.request(method, url, **kwargs)
        assert response.status_code == status, response.text
        lines = parse_lines(self.stream.getvalue()[start:])
        self.requests.append((response, route, lines))
        return response


async def test_a_full_scenario_logs_json_with_request_ids_and_no_patient_data(
    client: httpx.AsyncClient, world: World
) -> None:
    wrong_nid = world.nid[:10] + str((int(world.nid[10]) + 1) % 10)
    patient_name = unique("Pasientnavn")
    goal_title = unique("Maalet om bedre soevn")
    shared_text = unique("Delt notat om angst og soevn")
    internal_text = unique("Internt journalnotat om medisinering")
    secrets = [world.nid, wrong_nid, patient_name, goal_title, shared_text, internal_text]
    plan_route = PLANS + "/{plan_id}"

    with captured_logs() as stream:
        call = Recorder(client, stream)
        created = await call(
            "POST",
            PLANS,
            PLANS,
            world.clinician,
            status=201,
            json={
                "patient": {"nid": world.nid, "name": patient_name},
                "nav_office": world.nav_office,
                "title": "Tilbake i arbeid",
                "status": "active",
            },
        )
        plan_id = created.json()["id"]
        found = await call(
            "POST",
            f"{PLANS}/search",
            f"{PLANS}/search",
            world.clinician,
            status=200,
            json={"nid": world.nid},
        )
        assert [p["id"] for p in found.json()["items"]] == [plan_id]
        await call(
            "POST",
            f"{PLANS}/search",
            f"{PLANS}/search",
            world.clinician,
            status=422,
            json={"nid": wrong_nid},
        )
        await call(
            "POST",
            PLANS,
            PLANS,
            world.clinician,
            status=422,
            json={
                "patient": {"nid": wrong_nid, "name": patient_name},
                "nav_office": world.nav_office,
                "title": "Feil fødselsnummer",
            },
        )
        goal = await call(
            "POST",
            f"{PLANS}/{plan_id}/goals",
            plan_route + "/goals",
            world.clinician,
            status=201,
            json={"domain": "treatment", "title": goal_title},
        )
        notes_url = f"{PLANS}/{plan_id}/goals/{goal.json()['id']}/notes"
        for text, visibility in ((shared_text, "shared"), (internal_text, "internal")):
            await call(
                "POST",
                notes_url,
                plan_route + "/goals/{goal_id}/notes",
                world.clinician,
                status=201,
                json={"text": text, "visibility": visibility},
            )
        dps_view = await call("GET", f"{PLANS}/{plan_id}", plan_route, world.clinician, status=200)
        assert internal_text in dps_view.text  # the texts were really there to leak
        await call(
            "GET",
            f"/api/v1/nav/plans/{plan_id}",
            "/api/v1/nav/plans/{plan_id}",
            world.advisor,
            status=200,
        )
        own = await call(
            "GET", "/api/v1/patient/plan", "/api/v1/patient/plan", world.patient, status=200
        )
        assert shared_text in own.text
        await call("GET", f"{PLANS}/{uuid.uuid4()}", plan_route, world.clinician, status=404)
        await call("GET", f"{PLANS}/{plan_id}", plan_route, None, status=401)
        await call(
            "GET",
            f"{PLANS}/{plan_id}",
            plan_route,
            None,
            status=401,
            headers={"Authorization": "Bearer not-a-token"},
        )
        # No route: the path is the caller's; a national id typed into it stays out of the log,
        # and so does the query string.
        await call(
            "GET",
            f"/api/v1/nope/{world.nid}",
            "/api/v1/nope/{digits}",
            world.clinician,
            status=404,
            params={"nid": world.nid},
        )
        output = stream.getvalue()

    all_lines = parse_lines(output)
    assert len(all_lines) > 3 * len(call.requests), "DEBUG captured too little to prove anything"
    for secret in secrets:
        assert secret not in output, f"{secret!r} reached the logs"

    for response, route, lines in call.requests:
        request_id = response.headers["x-request-id"]
        where = f"{response.request.method} {route} -> {response.status_code}"
        assert lines, where
        for line in lines:
            assert line.get("request_id") == request_id, (where, line)
        access = [line for line in lines if line["logger"] == "carework.access"]
        assert len(access) == 1, (where, access)
        assert access[0]["path"] == route, where
        assert access[0]["method"] == response.request.method
        assert access[0]["status"] == response.status_code
        assert isinstance(access[0]["duration_ms"], float)
        assert access[0]["client_ip"] == "127.0.0.1"
        assert not {"headers", "query", "query_string", "body"} & access[0].keys()
    assert not [line for line in all_lines if line["logger"] == "uvicorn.access"]


async def test_an_unhandled_error_is_logged_with_its_request_id_on_every_line(
    settings: Settings,
) -> None:
    app: FastAPI = create_app(settings)  # no lifespan: the route below needs no database

    async def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app)
    with captured_logs() as stream:
        async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
            with pytest.raises(RuntimeError, match="kaboom") as raised:
                await c.get("/boom", headers={"X-Request-ID": "boom-1"})
        # What uvicorn does with an exception the app raises, after the request has left
        # the middleware that bound its id.
        logging.getLogger("uvicorn.error").error(
            "Exception in ASGI application\n", exc_info=raised.value
        )
        lines = parse_lines(stream.getvalue())

    assert {line["logger"] for line in lines} >= {
        "carework.access",
        "carework.http.problem",
        "uvicorn.error",
    }
    assert all(line.get("request_id") == "boom-1" for line in lines), lines
    access = next(line for line in lines if line["logger"] == "carework.access")
    assert (access["path"], access["status"]) == ("/boom", 500)
    problem = next(line for line in lines if line["logger"] == "carework.http.problem")
    frames = problem["exception"][0]["frames"]
    assert frames, problem
    assert not any("locals" in frame for frame in frames), "tracebacks must not show locals"


def test_configure_logging_is_idempotent() -> None:
    root = logging.getLogger()
    level = root.level
    try:
        configure_logging("INFO")
        configure_logging("INFO")
        assert [h.get_name() for h in root.handlers].count(HANDLER_NAME) == 1
        assert root.level == logging.INFO
    finally:
        root.setLevel(level)


@pytest.mark.live
def test_the_live_server_and_its_workers_write_json_lines_with_request_ids(
    database_url: str,
    data_dir: Path,
    tokens: TokenMaker,
    tmp_path: Path,
) -> None:
    env = child_env(
        DATABASE_URL=database_url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir)
    )
    world = make_world(tokens)
    nid = make_nid()
    server = LiveServer(["--workers", "2"], env, tmp_path / "serve.log")
    responses: list[tuple[httpx.Response, str]] = []
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.base_url, timeout=10.0) as http:
            responses.append((http.get("/healthz", headers={"X-Request-ID": "live-1"}), "/healthz"))
            created = http.post(
                PLANS,
                json={
                    "patient": {"nid": nid, "name": "Ola Pasient"},
                    "nav_office": world.nav_office,
                    "title": "Tilbake i arbeid",
                },
                headers=world.clinician.headers,
            )
            assert created.status_code == 201, created.text
            responses.append((created, PLANS))
            plan_url = f"{PLANS}/{created.json()['id']}"
            unauthenticated = http.get(plan_url)
            assert unauthenticated.status_code == 401
            responses.append((unauthenticated, PLANS + "/{plan_id}"))
            listed = http.get(PLANS, params={"nid": nid}, headers=world.clinician.headers)
            responses.append((listed, PLANS))
    finally:
        returncode = server.terminate()
    assert returncode == 0, server.log()

    output = server.log_path.read_text()
    lines = parse_lines(output)  # stdout and stderr both: every line is JSON
    assert nid not in output
    # The parent process and both workers, which configure logging when they build the app.
    events = [line["event"] for line in lines]
    assert any(e.startswith("Started parent process") for e in events), events
    assert sum(e.startswith("Started server process") for e in events) == 2, events
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    access = [line for line in lines if line["logger"] == "carework.access"]
    assert all(line.get("request_id") for line in access)
    for response, route in responses:
        mine = [line for line in access if line["request_id"] == response.headers["x-request-id"]]
        assert len(mine) == 1, (route, access[-5:])
        assert (mine[0]["path"], mine[0]["status"]) == (route, response.status_code)


def test_a_national_id_in_any_log_text_is_redacted() -> None:
    """Even an error text carrying a number (as asyncpg's ``Key (nid)=(...)`` does) is scrubbed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter())
    log = logging.getLogger("carework.test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise ValueError("duplicate key value: Key (nid)=(15108695088) already exists")
        except ValueError:
            log.exception("insert failed for 151086 95088")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    line = stream.getvalue()
    assert "15108695088" not in line
    assert "151086 95088" not in line
    assert line.count("[national-id]") >= 2
    assert json.loads(line)["event"] == "insert failed for [national-id]"
