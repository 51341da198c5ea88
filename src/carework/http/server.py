"""uvicorn's HTTP/1.1 protocols with a deadline for a request's headers.

uvicorn (0.54) times out only an idle keep-alive connection, and only once a first response
has been sent and no byte has come since. A connection that opens and says nothing, or sends
half a request head and stalls, is held for ever: 2,000 such connections, once, were all held.
Here every connection must complete a request head within ``header_timeout`` seconds of
opening, or of its previous response; bytes that trickle in do not move the deadline. When it
passes the connection is closed, after a ``408`` problem if part of a head had arrived.

``carework serve`` passes ``protocol_class(header_timeout)`` to uvicorn as its ``http``
protocol: httptools' (uvicorn's own choice when it is installed, as with ``uvicorn[standard]``),
else h11's. The body has its own deadline, in the app (``http.middleware.BodyDeadlineMiddleware``).
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any, cast

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover (httptools comes with uvicorn[standard])
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

_BODY = json.dumps(
    {
        "type": "https://carework.example/problems/request-timeout",
        "title": "Request Timeout",
        "status": 408,
        "detail": "The request head did not arrive in time.",
    }
).encode()
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/problem+json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


class _HeaderDeadline:
    """The timer both protocols share: armed while a connection owes a request head."""

    header_timeout: float
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_begun(self) -> bool:
        raise NotImplementedError

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._head_begun():
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


if HttpToolsProtocol is not None:

    class HttpToolsWithDeadline(_HeaderDeadline, HttpToolsProtocol):
        def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_timeout = header_timeout
            self._begun = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._begun = True

        def on_headers_complete(self) -> None:
            self._disarm()
            self._begun = False
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Owed a new head, unless a pipelined request (head complete) has just started.
            if not self.transport.is_closing() and self.cycle.response_complete:
                self._arm()

        def _head_begun(self) -> bool:
            return self._begun


class H11WithDeadline(_HeaderDeadline, H11Protocol):
    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _serving(self) -> bool:
        """A request's head is complete and its response is not (h11 makes the cycle then)."""
        return self.cycle is not None and not self.cycle.response_complete

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._serving():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._serving():
            self._arm()

    def _head_begun(self) -> bool:
        return bool(self.conn.trailing_data[0])


def protocol_class(header_timeout: float) -> type[asyncio.Protocol]:
    """The protocol for uvicorn's ``http=``: a partial uvicorn calls like a class (and can
    pickle for ``--workers``)."""
    cls: Any = HttpToolsWithDeadline if HttpToolsProtocol is not None else H11WithDeadline
    return cast("type[asyncio.Protocol]", functools.partial(cls, header_timeout=header_timeout))
