"""Load for the fault tests: clients that keep sending while a fault is injected, and what each
request got back, with the time it took and the connection it went over."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.factories import Actor, World
from tests.live import PROBLEM_JSON, LiveServer, child_env

UNAVAILABLE = "https://carework.example/problems/unavailable"
#: No answer at all: the connection failed (the server was killed, say).
NO_ANSWER = 0


def server_env(database_url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """``carework serve`` on ``database_url``, trusting the tests' dev key; ``settings`` are
    ``CAREWORK_`` variables without the prefix (``DB_POOL_SIZE="2"``)."""
    return child_env(
        DATABASE_URL=database_url,
        CAREWORK_DEV_AUTH="1",
        CAREWORK_DATA_DIR=str(data_dir),
        **{f"CAREWORK_{name}": value for name, value in settings.items()},
    )


def one_connection(server: LiveServer, timeout: float = 30.0) -> httpx.AsyncClient:
    """A client with a single keep-alive connection: every answer shows whether it survived."""
    return httpx.AsyncClient(
        base_url=server.base_url,
        timeout=timeout,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


@dataclass(frozen=True, slots=True)
class Answer:
    kind: str
    started: float
    ended: float
    status: int  # NO_ANSWER when the request got none
    content_type: str
    retry_after: str | None
    problem_type: str | None
    #: The client's local port: the same while its connection is kept alive.
    port: int | None
    body: dict[str, Any] | None

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def within(self, start: float, end: float) -> bool:
        return start <= self.started and self.ended <= end


def _local_port(response: httpx.Response) -> int | None:
    """None when the connection is gone already (the server closed it)."""
    stream = response.extensions.get("network_stream")
    try:
        address = stream.get_extra_info("client_addr") if stream is not None else None
    except OSError:
        return None
    return int(address[1]) if address else None


async def send(client: httpx.AsyncClient, kind: str, request: httpx.Request) -> Answer:
    started = time.monotonic()
    try:
        response = await client.send(request)
    except httpx.TransportError:
        return Answer(kind, started, time.monotonic(), NO_ANSWER, "", None, None, None, None)
    ended = time.monotonic()
    content_type = response.headers.get("content-type", "")
    body = response.json() if content_type.startswith(("application/", "text/json")) else None
    if content_type.startswith("application/fhir+json"):
        body = None  # a whole CarePlan: nothing the checks read
    return Answer(
        kind, started, ended, response.status_code, content_type,
        response.headers.get("retry-after"),
        body.get("type") if isinstance(body, dict) and content_type == PROBLEM_JSON else None,
        _local_port(response), body if isinstance(body, dict) else None,
    )  # fmt: skip


RequestOf = Callable[[httpx.AsyncClient, int], httpx.Request]


async def keep_sending(
    client: httpx.AsyncClient,
    kind: str,
    request_of: RequestOf,
    answers: list[Answer],
    stop: asyncio.Event,
    pause: float = 0.02,
) -> None:
    """The ``n``-th request is ``request_of(client, n)``, one at a time, until ``stop``."""
    n = 0
    while not stop.is_set():
        answers.append(await send(client, kind, request_of(client, n)))
        n += 1
        await asyncio.sleep(pause)


@contextlib.asynccontextmanager
async def sending(
    loads: dict[str, tuple[httpx.AsyncClient, RequestOf]], answers: list[Answer]
) -> AsyncIterator[None]:
    """Every load keeps sending on its own client while the block runs."""
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(keep_sending(client, kind, request_of, answers, stop))
        for kind, (client, request_of) in loads.items()
    ]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def mixed_load(world: World, plan_id: str) -> dict[str, RequestOf]:
    """Every kind of route on the database: a read, a write, a request with no token (refused,
    but its refusal is audited), a web page and a FHIR read."""
    plan = f"/api/v1/dps/plans/{plan_id}"
    clinician: Actor = world.clinician
    return {
        "read": lambda c, n: c.build_request("GET", plan, headers=clinician.headers),
        "write": lambda c, n: c.build_request(
            "POST",
            f"{plan}/goals",
            headers=clinician.headers,
            json={"domain": "treatment", "title": f"Mål {n}"},
        ),
        "no token": lambda c, n: c.build_request("GET", "/api/v1/dps/plans"),
        "page": lambda c, n: c.build_request(
            "GET", f"/ui/plans/{plan_id}", headers={"Cookie": f"carework_ui={clinician.token}"}
        ),
        "fhir": lambda c, n: c.build_request(
            "GET", f"/fhir/r4/CarePlan/{plan_id}", headers=clinician.headers
        ),
    }


#: What each kind answers when the database serves.
SERVED = {"read": 200, "write": 201, "no token": 401, "page": 200, "fhir": 200}


def unavailable_problems(answers: list[Answer]) -> Iterator[str]:
    """What is wrong with each answer that should be an unavailable 503 (none: all good)."""
    for a in answers:
        if a.status != 503:
            yield f"{a.kind}: {a.status}"
        elif a.retry_after is None or not a.retry_after.isdigit():
            yield f"{a.kind}: 503 without Retry-After"
        elif a.kind == "page":
            if not a.content_type.startswith("text/html"):
                yield f"page: 503 as {a.content_type}"
        elif a.content_type != PROBLEM_JSON or a.problem_type != UNAVAILABLE:
            yield f"{a.kind}: 503 as {a.content_type} {a.problem_type}"
