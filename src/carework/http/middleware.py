"""Pure ASGI middleware: a request id on every request (and every log line it causes), one
access log line per request, a hard limit on body size, and a deadline for the body."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carework.http.abandon import client_left, may_have_body
from carework.http.problem import problem_response
from carework.logs import remember_request_id

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Accept a caller's X-Request-ID if it is harmless, else mint one; echo it back.

    The id is bound in structlog's context for the request, so every line logged while it runs,
    by structlog or the standard library, carries ``request_id``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((REQUEST_ID_HEADER, request_id))
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id.decode()):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                remember_request_id(exc, request_id.decode())
                raise


_access_log = structlog.stdlib.get_logger("carework.access")
# Whatever of the path is not a route template is what the caller typed: no long digit runs.
_DIGIT_RUN = re.compile(r"\d{6,}")


def route_template(scope: Scope) -> str | None:
    """The matched route's template (``/api/v1/dps/plans/{plan_id}``), never the values in it;
    None when no route matched (known once the app has handled the request)."""
    path = str(scope["path"])
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    pattern = getattr(route, "path_regex", None)
    if not isinstance(template, str) or not isinstance(pattern, re.Pattern):
        return None
    # A route in an included router (or under a mount) knows only its own part of the path;
    # the part of the request path before it is the router's literal prefix.
    own_part = re.search(pattern.pattern.removeprefix("^"), path)
    prefix = path[: own_part.start()] if own_part else ""
    return _DIGIT_RUN.sub("{digits}", prefix)[:200] + template


def _route_path(scope: Scope) -> str:
    """For the access log: the route template, else the path with long digit runs masked."""
    template = route_template(scope)
    return (
        template if template is not None else _DIGIT_RUN.sub("{digits}", str(scope["path"]))[:200]
    )


class AccessLogMiddleware:
    """One ``carework.access`` line per request: method, route template, status, duration, client.

    No headers, no body, no query string. Runs inside ``RequestIdMiddleware`` so the line
    carries the request id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception:
            if status is None:
                status = 500  # ServerErrorMiddleware, outside all middleware, answers it
            raise
        finally:
            client = scope.get("client")
            if status is None and client_left(scope):
                status = 499
            _access_log.info(
                "request",
                method=scope["method"],
                path=_route_path(scope),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client_ip=client[0] if client else None,
            )


class _Started:
    """``send``, noting whether the answer has begun: an error found after that cannot be
    answered any more (the middleware below that answer their own errors ask it)."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


def _too_large_detail(max_bytes: int) -> str:
    return f"The request body is larger than {max_bytes} bytes."


class _TooLarge(HTTPException):
    """An HTTPException, so FastAPI passes it on instead of turning it into a 400 (it wraps any
    other error raised while it reads the body); the problem handlers render it as 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _too_large_detail(max_bytes))


class BodyLimitMiddleware:
    """413 for a body over the limit, whether it says so in Content-Length or streams it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        received = 0
        sent = _Started(send)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, limited_receive, sent)
        except _TooLarge:
            if not sent.started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, _too_large_detail(self.max_bytes), slug="payload-too-large"
        )
        await response(scope, receive, send)


#: How soon a request cut off by a stopping server may be tried again (on another replica).
CUT_OFF_RETRY_AFTER_SECONDS = 1


class CutOffAtShutdownMiddleware:
    """503 with ``Retry-After`` for a request the server cancels as it stops, not uvicorn's 500.

    On SIGTERM uvicorn waits for the requests in flight, and after
    ``CAREWORK_SHUTDOWN_TIMEOUT_SECONDS`` cancels those still running (``carework.serving``);
    ``http.abandon`` cancels a request whose client left (who hears nothing of this). Its
    transaction is rolled back on the way out (unless the cancellation came mid-commit), so the
    caller should send it again: a repeat is safe with ``If-Match`` or ``Idempotency-Key``.
    The cancellation is passed on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = _Started(send)

        try:
            await self.app(scope, receive, sent)
        except asyncio.CancelledError:
            if not sent.started:
                response = problem_response(
                    503,
                    "The server stopped before this request finished. Send it again: "
                    "If-Match and Idempotency-Key keep a repeat safe.",
                    slug="unavailable",
                    title="Service Unavailable",
                    headers={"Retry-After": str(CUT_OFF_RETRY_AFTER_SECONDS)},
                )
                await response(scope, receive, send)
            raise


def _timed_out_detail(seconds: float) -> str:
    return f"The request body did not arrive within {seconds:g} s."


class _TimedOut(HTTPException):
    """Like ``_TooLarge``: an HTTPException, which FastAPI passes on; rendered as 408, and the
    connection closed after it (what is left of the body would be read as the next request)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(408, _timed_out_detail(seconds), headers={"Connection": "close"})


class BodyDeadlineMiddleware:
    """408 for a body that has not arrived in full ``seconds`` after its headers.

    Without it a client that sends headers and then a trickle, or nothing, holds a request,
    and its database session if the route opened one, for as long as it likes. A deadline for
    the whole body, not for each piece: one byte every few seconds would pass any per-read
    timeout. (The headers have their own deadline in the server: ``http.server``.)"""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not may_have_body(scope):
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        complete = False
        sent = _Started(send)

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _TimedOut(self.seconds) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        try:
            await self.app(scope, timed_receive, sent)
        except _TimedOut:
            if not sent.started:
                response = problem_response(
                    408, _timed_out_detail(self.seconds), headers={"Connection": "close"}
                )
                await response(scope, receive, send)
