"""Rate limits: per caller (role and ``sub`` of a valid token), and per client address for
requests without one. Over the rate → ``429`` problem+json with ``Retry-After``, before any
work: no route runs, no body is read, no session opens.

Counted by the ``limits`` library's sliding window counter (two counters per caller, the
previous window's weighted by how much of it is still inside the last minute). In this
process's memory by default (``InProcessStorage``), so each server process counts on its own
and ``--workers N`` or N replicas let a caller through N times as often; a shared count needs
``CAREWORK_RATE_LIMIT_STORAGE`` (a ``limits`` storage URI, e.g. ``redis://host:6379``, with
``limits[async-redis]`` installed). If that storage fails, requests go through (logged): a
limit protects the service, it must not take it down.

The token is verified here, once for the request (``http.principal.verify_once``); the route's
own check then reuses the answer. A request refused here is audited as a ``rate_limited``
event, counted per caller and window (``audit.refusals``), never one row each.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from math import floor

from limits import RateLimitItem, parse
from limits.aio.storage import SlidingWindowCounterSupport, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from limits.storage.base import TimestampedSlidingWindow
from starlette.types import ASGIApp, Receive, Scope, Send

from carework.audit.record import AuditRecord
from carework.audit.refusals import RefusalTally, client_group, writer
from carework.auth.principal import Principal
from carework.errors import Unauthorized
from carework.http.principal import bearer_token, cookie_token, verify_once
from carework.http.problem import problem_response

log = logging.getLogger("carework.http.rate_limit")

#: Never limited: orchestrators and monitoring poll these, and they touch no patient data.
EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
#: Seconds between two warnings that the shared storage failed (not one per request).
_WARN_EVERY = 60.0
_SWEEP_EVERY = 10.0


class InProcessStorage(Storage, SlidingWindowCounterSupport, TimestampedSlidingWindow):
    """The sliding-window counters of one process, in a dict.

    ``limits``' own in-memory async storage re-scans every key on each event-loop turn that
    hits it: 12 µs a hit with one caller, 1.6 ms with 10,000 callers in the window (measured
    on this machine). Here a hit is a dict lookup or two, and expired counters are dropped
    at most once every ``_SWEEP_EVERY`` seconds, in one pass.
    """

    STORAGE_SCHEME = None

    def __init__(self) -> None:
        super().__init__()
        self._counts: dict[str, list[float]] = {}  # key → [count, expires at]
        self._next_sweep = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _count(self, key: str, now: float) -> int:
        entry = self._counts.get(key)
        return int(entry[0]) if entry is not None and entry[1] > now else 0

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_EVERY
        self._counts = {key: entry for key, entry in self._counts.items() if entry[1] > now}

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        self._sweep(now)
        entry = self._counts.get(key)
        if entry is None or entry[1] <= now:
            entry = self._counts[key] = [0, now + expiry]
        entry[0] += amount
        return int(entry[0])

    async def get(self, key: str) -> int:
        return self._count(key, time.time())

    async def get_expiry(self, key: str) -> float:
        entry = self._counts.get(key)
        return entry[1] if entry is not None else time.time()

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        cleared = len(self._counts)
        self._counts.clear()
        return cleared

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def _window(self, key: str, expiry: int, now: float) -> tuple[int, float, int, float]:
        previous_key, current_key = self.sliding_window_keys(key, expiry, now)
        previous, current = self._count(previous_key, now), self._count(current_key, now)
        previous_ttl = (1 - (((now - expiry) / expiry) % 1)) * expiry if previous else 0.0
        current_ttl = (1 - ((now / expiry) % 1)) * expiry + expiry
        return previous, previous_ttl, current, current_ttl

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        if amount > limit:
            return False
        now = time.time()
        previous, previous_ttl, current, _ = self._window(key, expiry, now)
        if floor(previous * previous_ttl / expiry + current) + amount > limit:
            return False
        # No await between the check and the count: one event loop, no race to undo.
        await self.incr(self.sliding_window_keys(key, expiry, now)[1], 2 * expiry, amount)
        return True

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return self._window(key, expiry, time.time())

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        for window_key in self.sliding_window_keys(key, expiry, time.time()):
            await self.clear(window_key)


def make_storage(uri: str | None) -> Storage:
    """This process's counters, or the shared storage a ``limits`` URI names (its async
    variant: ``redis://`` is read as ``async+redis://``)."""
    if not uri:
        return InProcessStorage()
    if not uri.startswith("async+"):
        uri = f"async+{uri}"
    storage = storage_from_string(uri)
    assert isinstance(storage, Storage)
    return storage


class RateLimits:
    """The two limits and the counter they are kept in."""

    def __init__(self, caller: str, anonymous: str, storage: Storage) -> None:
        self.caller: RateLimitItem = parse(caller)
        self.anonymous: RateLimitItem = parse(anonymous)
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self._warned_at = -math.inf

    async def retry_after(self, principal: Principal | None, client: str | None) -> int | None:
        """None when the request may go on; else whole seconds until its window frees."""
        item, key = self._item_and_key(principal, client)
        try:
            if await self.limiter.hit(item, key):
                return None
            stats = await self.limiter.get_window_stats(item, key)
        except Exception:
            self._warn()
            return None
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _item_and_key(
        self, principal: Principal | None, client: str | None
    ) -> tuple[RateLimitItem, str]:
        if principal is not None:
            return self.caller, f"caller/{principal.role.value}/{principal.sub}"
        return self.anonymous, f"client/{client_group(client)}"

    def _warn(self) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("the rate limit storage failed; requests go through", exc_info=True)


class RateLimitMiddleware:
    """Count every request but the operations endpoints; refuse those over the rate.

    The credential is the one the route will check: the pages' session cookie under
    ``ui_prefix``, the bearer token elsewhere."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RateLimits,
        tally: RefusalTally,
        ui_prefix: str,
        ui_cookie: str,
    ) -> None:
        self.app = app
        self.limits = limits
        self.tally = tally
        self.ui_prefix = ui_prefix
        self.ui_cookie = ui_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == self.ui_prefix or path.startswith(f"{self.ui_prefix}/"):
            token = cookie_token(scope, self.ui_cookie)
        else:
            token = bearer_token(scope)
        principal: Principal | None = None
        if token is not None:
            try:
                principal = await verify_once(scope, token)
            except Unauthorized:
                principal = None  # counted by its address; the route refuses it
        client = scope.get("client")
        address = client[0] if client else None
        retry_after = await self.limits.retry_after(principal, address)
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, receive, send, principal, address, retry_after)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        principal: Principal | None,
        address: str | None,
        retry_after: int,
    ) -> None:
        record = AuditRecord(
            action="rate_limited",
            request_id=scope.get("state", {}).get("request_id") or uuid.uuid4().hex,
            client_ip=address,
            principal=principal,
            outcome="denied",
            status=429,
        )
        try:
            await self.tally.refused(writer(scope["app"].state.sessionmaker), record)
        except Exception:  # the database is down: the refusal still stands
            log.warning("a rate-limit refusal could not be audited", exc_info=True)
        detail = (
            "Too many requests from this caller"
            if principal is not None
            else "Too many requests without a valid token from this address"
        )
        response = problem_response(
            429,
            f"{detail}; try again in {retry_after} s.",
            slug="too-many-requests",
            headers={"Retry-After": str(retry_after)},
        )
        await response(scope, receive, send)
