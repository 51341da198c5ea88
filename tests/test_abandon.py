"""``AbandonMiddleware`` on its own, with a client played by the test (uvicorn's receive
semantics: the body, then ``http.disconnect`` when the client leaves or the answer is done).
Against a real server, with a PATCH waiting on a row lock: ``tests/test_limits_live.py``."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from carework.http.abandon import AbandonMiddleware, client_left


class Client:
    """One request's client: its body in pieces, then leaving when told (or when answered)."""

    def __init__(self, body: list[bytes] | None = None) -> None:
        self.pieces = list(body or [])
        self.has_body = body is not None
        self.gone = asyncio.Event()
        self.sent: list[Message] = []
        self.scope: dict[str, Any] = {
            "type": "http",
            "method": "POST" if self.has_body else "GET",
            "path": "/",
            "headers": [(b"content-length", b"9")] if self.has_body else [],
        }

    async def receive(self) -> Message:
        if self.pieces:
            piece = self.pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(self.pieces)}
        if not self.has_body:
            self.has_body = True  # the one empty message, then wait
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.gone.set()  # uvicorn: receive() says disconnect once the answer is done


async def answer(send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def test_work_whose_client_left_is_cancelled() -> None:
    seen: list[str] = []

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        await answer(send)

    client = Client()
    running = asyncio.create_task(AbandonMiddleware(slow, 0.01)(client.scope, client.receive,
                                                                client.send))  # fmt: skip
    await asyncio.sleep(0.1)
    client.gone.set()
    await asyncio.wait_for(running, 5)  # returns: the cancellation was taken back
    assert seen == ["cancelled"]
    assert client.sent == []
    assert client_left(client.scope)
    assert not running.cancelled()


async def test_a_finished_answer_is_not_cancelled_and_quick_work_is_not_watched() -> None:
    async def quick(scope: Scope, receive: Receive, send: Send) -> None:
        await answer(send)
        await asyncio.sleep(0.05)  # the answer is done; uvicorn now says "disconnect"

    client = Client()
    await AbandonMiddleware(quick, 0.01)(client.scope, client.receive, client.send)
    assert [m["type"] for m in client.sent] == ["http.response.start", "http.response.body"]
    assert not client_left(client.scope)


async def test_the_body_is_the_apps_and_waiting_for_the_client_still_works() -> None:
    got: list[bytes] = []
    after: list[str] = []

    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            got.append(message["body"])
            if not message["more_body"]:
                break
        await asyncio.sleep(0.05)  # the listener has started meanwhile
        waiter = asyncio.create_task(receive())  # what StreamingResponse does
        await answer(send)
        after.append((await waiter)["type"])

    client = Client([b"abc", b"def", b"ghi"])
    await AbandonMiddleware(reader, 0.01)(client.scope, client.receive, client.send)
    assert got == [b"abc", b"def", b"ghi"]
    assert after == ["http.disconnect"]
    assert not client_left(client.scope)


async def test_a_client_gone_before_the_app_starts_runs_nothing() -> None:
    ran: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ran.append(True)

    client = Client()
    client.has_body = True  # no body message left: the first thing it says is goodbye
    client.gone.set()
    await AbandonMiddleware(app)(client.scope, client.receive, client.send)
    assert ran == []
    assert client_left(client.scope)


async def test_an_empty_body_sent_in_two_pieces_is_read_to_its_end() -> None:
    """httpx's ASGITransport sends "no body" as an empty piece with more to come, then the end:
    the app must get both, not be left waiting for the client to leave."""
    got: list[Message] = []

    async def form(scope: Scope, receive: Receive, send: Send) -> None:
        while not got or got[-1]["more_body"]:
            got.append(await receive())
        await answer(send)

    client = Client([b"", b""])
    client.scope["headers"] = [(b"content-length", b"0")]
    await asyncio.wait_for(
        AbandonMiddleware(form, 0.01)(client.scope, client.receive, client.send), 5
    )
    assert [m["more_body"] for m in got] == [True, False]
