"""Stop the work of a request whose client has left.

Without this a request runs to its end for nobody: a 785 KB plan view built and sent into a
closed socket, a write waiting on a row lock for a caller long gone. ``AbandonMiddleware``
listens for the client's ``http.disconnect`` once the request's body has been read, and then
cancels the request's task:

- a read stops where it is; asyncpg cancels the statement on the server (its cancel request),
  and SQLAlchemy invalidates the connection it was on rather than put it back mid-query;
- a write rolls back (``db.session.unit_of_work``): nothing half-written, and since no 2xx
  was sent, nothing acknowledged is lost;
- the request is audited as ``failed`` with status 499 (``http.audit``): it did reach patient
  data, or was about to, so it is on the trail like any other attempt; the access log and
  the metrics say 499 too.

Once the response is complete nothing is cancelled (uvicorn reports a finished request as a
disconnect too). The body is never taken from the app: listening starts only after the app
has received the last piece of it; a request without a body has its one empty message read
here and handed on. And only for work that lasts (``WATCH_AFTER_SECONDS``): most requests
are over before a listener would have started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("carework.http.abandon")

_GONE = "carework.client_left"


def may_have_body(scope: Scope) -> bool:
    """Whether the request says a body follows (HTTP/1.1: a length, or chunks)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def client_left(scope: Scope) -> bool:
    """Whether this request's client left before its answer was complete."""
    state: dict[str, Any] = scope.get("state", {})
    return bool(state.get(_GONE))


#: Work shorter than this is not watched: a listener is a task, ~20 µs a request; a timer that
#: is cancelled before it fires is ~2 µs. A request still running after it gets its listener,
#: which sees a client that left meanwhile at once (uvicorn remembers).
WATCH_AFTER_SECONDS = 0.05


class AbandonMiddleware:
    def __init__(self, app: ASGIApp, watch_after: float = WATCH_AFTER_SECONDS) -> None:
        self.app = app
        self.watch_after = watch_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        state: dict[str, Any] = scope.setdefault("state", {})
        answered = False
        listener: asyncio.Task[Message] | None = None
        timer: asyncio.TimerHandle | None = None

        def leave() -> None:
            if not answered and not state.get(_GONE):
                state[_GONE] = True
                task.cancel()

        async def listen() -> Message:
            """After the body: the next message is the client leaving, or the answer done."""
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    leave()
                    return message

        def start_listening() -> asyncio.Task[Message]:
            nonlocal listener, timer
            if timer is not None:
                timer.cancel()
                timer = None
            if listener is None:
                listener = loop.create_task(listen())
            return listener

        def watch() -> None:
            nonlocal timer
            timer = loop.call_later(self.watch_after, start_listening)

        held: Message | None = None
        body_read = False
        if not may_have_body(scope):
            held = await receive()  # the empty body, at once: uvicorn parsed it with the head
            if held["type"] == "http.disconnect":
                state[_GONE] = True
                return
            # uvicorn sends it as the last piece; a server that sends an empty piece first
            # (httpx's ASGITransport does) still has the rest of "no body" to send.
            if not held.get("more_body", False):
                body_read = True
                watch()

        async def app_receive() -> Message:
            nonlocal held, body_read
            if held is not None:
                message, held = held, None
                return message
            if body_read:
                # The body is all in; asking again is waiting for the client to leave.
                return await asyncio.shield(start_listening())
            message = await receive()
            if message["type"] == "http.disconnect":
                leave()
            elif not message.get("more_body", False):
                body_read = True
                watch()
            return message

        async def app_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True
            await send(message)

        try:
            await self.app(scope, app_receive, app_send)
        except asyncio.CancelledError:
            if not state.get(_GONE):
                raise  # not ours: the server is stopping
            task.uncancel()
            log.info("the client left; its request was cancelled")
        else:
            if state.get(_GONE) and task.cancelling():
                # It left just as the app finished: take the cancellation back here.
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(0)
                task.uncancel()
        finally:
            if timer is not None:
                timer.cancel()
            if listener is not None and not listener.done():
                listener.cancel()
