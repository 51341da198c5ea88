"""Security headers on every answer, chosen by path (DESIGN.md, "Operations and faults").

- ``X-Content-Type-Options: nosniff`` on every answer.
- ``Cache-Control: no-store`` on every answer that may carry patient data: everything except
  the pages' static assets (``/ui/static/``) and ``/healthz``. Errors included, and it replaces
  whatever a route set: no proxy, shared cache or browser disk may keep a plan.
- On ``/ui``: a ``Content-Security-Policy`` without inline script or style (the pages have
  none; htmx is told not to inject its indicator style), ``frame-ancestors`` from
  ``CAREWORK_FRAME_ANCESTORS`` (``'none'`` unless an EHR that embeds the pages is named), and
  ``Referrer-Policy: no-referrer`` (a plan's URL holds its id).

The headers are built once; per answer the middleware compares a path prefix and appends.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]

UI_PREFIX = "/ui"
#: Answers that carry no patient data and may be cached.
CACHEABLE_PREFIXES = ("/ui/static/",)
CACHEABLE_PATHS = frozenset({"/healthz"})

_CACHE_CONTROL = b"cache-control"
_NO_STORE = (_CACHE_CONTROL, b"no-store")
_NOSNIFF = (b"x-content-type-options", b"nosniff")


def content_security_policy(frame_ancestors: str) -> str:
    """The pages' policy: their own scripts, styles, images and forms, nothing inline, no
    plugins, no ``<base>``; framed only by ``frame_ancestors``."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        )
    )


@dataclass(frozen=True, slots=True)
class SecurityHeaders:
    """The headers each kind of answer gets, encoded once."""

    page: Headers
    asset: Headers
    cacheable: Headers
    other: Headers

    @classmethod
    def build(cls, frame_ancestors: str) -> SecurityHeaders:
        csp = content_security_policy(frame_ancestors).encode()
        policy = [(b"content-security-policy", csp), (b"referrer-policy", b"no-referrer")]
        return cls(
            page=[_NO_STORE, _NOSNIFF, *policy],
            asset=[_NOSNIFF, *policy],
            cacheable=[_NOSNIFF],
            other=[_NO_STORE, _NOSNIFF],
        )

    def for_path(self, path: str) -> Headers:
        if path == UI_PREFIX or path.startswith(UI_PREFIX + "/"):
            return self.asset if path.startswith(CACHEABLE_PREFIXES) else self.page
        return self.cacheable if path in CACHEABLE_PATHS else self.other


class SecurityHeadersMiddleware:
    """Adds ``SecurityHeaders.for_path`` to every HTTP answer; a ``Cache-Control`` a route set
    gives way to ``no-store`` where patient data may be."""

    def __init__(self, app: ASGIApp, headers: SecurityHeaders) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers.for_path(scope["path"])
        no_store = _NO_STORE in extra

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = message.get("headers", ())
                if no_store:
                    given = [h for h in given if h[0].lower() != _CACHE_CONTROL]
                message["headers"] = [*given, *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
