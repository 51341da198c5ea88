"""The header deadline in both of uvicorn's HTTP/1.1 protocols (``http.server``), on a uvicorn
server in this process serving a tiny app: a silent connection is closed, half a head gets a
408 and is closed, a head completed in time is answered, and after an answer the next head has
a deadline of its own. (``carework serve`` with httptools, 300 connections at once:
``tests/test_limits_live.py``.)"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from carework.http.server import H11WithDeadline, HttpToolsWithDeadline
from tests.live import free_port

DEADLINE = 0.5


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] == "http"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(params=[HttpToolsWithDeadline, H11WithDeadline], ids=["httptools", "h11"])
async def port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    protocol: Any = functools.partial(request.param, header_timeout=DEADLINE)
    config = uvicorn.Config(
        hello, host="127.0.0.1", port=free_port(), http=protocol, lifespan="off",
        timeout_keep_alive=30,
        log_config=None,  # uvicorn's own would take over the process's loggers for good
    )  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn has a flag for it, no event)
        await asyncio.sleep(0.01)
    try:
        yield config.port
    finally:
        server.should_exit = True
        await serving


async def until_closed(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    started = time.monotonic()
    data = b""
    async with asyncio.timeout(10):
        while chunk := await reader.read(4096):
            data += chunk
    return data, time.monotonic() - started


async def test_a_silent_connection_is_closed_at_the_deadline(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data, waited = await until_closed(reader)
    writer.close()
    assert data == b""
    assert DEADLINE - 0.05 <= waited <= DEADLINE + 1


async def test_half_a_head_gets_408_and_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    data, waited = await until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"application/problem+json" in data
    assert DEADLINE - 0.05 <= waited <= DEADLINE + 1


async def test_a_head_in_time_is_answered_and_the_next_has_its_own_deadline(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(3):  # each answer starts a fresh deadline: 3 x 0.3 s > one deadline
        await asyncio.sleep(DEADLINE * 0.6)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await reader.readuntil(b"ok")
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    writer.write(b"GET / HTTP/1.1\r\nHo")
    data, waited = await until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert DEADLINE - 0.05 <= waited <= DEADLINE + 1


async def test_bytes_that_trickle_in_do_not_move_the_deadline(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def drip() -> None:
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.02)

    dripping = asyncio.create_task(drip())
    try:
        data, waited = await until_closed(reader)
    finally:
        dripping.cancel()
        writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert waited <= DEADLINE + 1
