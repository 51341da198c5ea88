"""Repeated refusals counted, not written one by one.

A refusal is audited like any request (``http.route``), in a transaction of its own. A flood of
them — 4,416 bad-token requests in 10 s, once — would write one row each, every one a hash
chain append: the trail itself becomes what the attacker fills. So anonymous refusals (401)
and rate-limit refusals (429) are tallied per client and window instead:

- the first one of a client in a window is written as it is (what was asked, its request id);
- the rest in that window are counted in memory, and written as ONE event when the window is
  over: action ``refused_unauthenticated`` or ``rate_limited``, ``occurrences`` = the count,
  the client's address, the last request id, and for a 429 the caller it refused;
- that summary is written by the first refusal after the window, by the periodic flush
  (``flush``, a housekeeping job) or at shutdown (``flush(everything=True)``), whichever
  comes first; a summary that cannot be written stays counted for the next try.

So a client's flood costs at most two rows per window and kind, and ``sum(coalesce(occurrences,
1))`` over them is the number of requests refused. Each server process keeps its own tally.
A refusal of a caller with a valid token (403, 404) is not tallied: it names who tried.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.audit import chain
from carework.audit.record import AuditRecord
from carework.auth.principal import Principal
from carework.db.session import unit_of_work

log = logging.getLogger("carework.audit.refusals")

#: The summary actions, by the status refused.
SUMMARY_ACTIONS = {401: "refused_unauthenticated", 429: "rate_limited"}
#: Clients tallied at once; past this every pending summary is written and the tally starts
#: afresh, so a flood from many addresses costs rows, never unbounded memory.
MAX_CLIENTS = 10_000

Writer = Callable[[AuditRecord], Awaitable[None]]


def client_group(address: str | None) -> str | None:
    """The unit a client is counted by: its IPv4 address, or its IPv6 /64 (one host's share
    of a network, which a single attacker can fill with addresses)."""
    if address is None:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class _Window:
    started: float
    first: AuditRecord
    counted: int = 0
    last_request_id: str = ""


def _key(record: AuditRecord) -> tuple[object, ...]:
    principal: Principal | None = record.principal
    who = (principal.role.value, principal.sub) if principal is not None else None
    return record.status, client_group(record.client_ip), who


class RefusalTally:
    """One process's tally. ``window`` 0 writes every refusal on its own."""

    def __init__(self, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._open: dict[tuple[object, ...], _Window] = {}

    @staticmethod
    def tallied(record: AuditRecord) -> bool:
        """Whether this refusal is counted here: a 429, or a 401 of nobody known."""
        return record.status == 429 or (record.status == 401 and record.principal is None)

    async def refused(self, write: Writer, record: AuditRecord) -> None:
        """Write the refusal, or count it in its client's open window."""
        if self.window <= 0:
            await write(record)
            return
        now = self._clock()
        key = _key(record)
        current = self._open.get(key)
        if current is not None and now - current.started < self.window:
            current.counted += 1
            current.last_request_id = record.request_id
            return
        # The bookkeeping is done before any await: a refusal that arrives while this one
        # writes sees the new window, never the old one twice.
        ended = self._open.pop(key, None)
        overflow: list[_Window] = []
        if len(self._open) >= MAX_CLIENTS:
            overflow, self._open = list(self._open.values()), {}
        opened = self._open[key] = _Window(now, record, last_request_id=record.request_id)
        for window in [w for w in (ended, *overflow) if w is not None]:
            try:
                await self._write_summary(write, window)
            except Exception:
                log.warning("a refusal summary could not be written; kept for later", exc_info=True)
        try:
            await write(record)
        except BaseException:
            # Not written (the database is down): no window opens on it, so the next refusal
            # tries to write too, and is answered 503 like this one, not counted unaudited.
            if self._open.get(key) is opened and opened.counted == 0:
                del self._open[key]
            raise

    async def flush(self, write: Writer, *, everything: bool = False) -> None:
        """Write the summaries of the windows that are over (all of them: ``everything``)."""
        now = self._clock()
        done = [
            key
            for key, window in self._open.items()
            if everything or now - window.started >= self.window
        ]
        for key in done:
            window = self._open.pop(key)
            await self._write_summary(write, window)

    def pending(self) -> int:
        """Refusals counted and not yet written."""
        return sum(window.counted for window in self._open.values())

    async def _write_summary(self, write: Writer, window: _Window) -> None:
        if window.counted == 0:
            return
        first = window.first
        summary = replace(
            first,
            action=SUMMARY_ACTIONS.get(first.status, "refused"),
            request_id=window.last_request_id,
            plan_id=None,
            resource_type=None,
            resource_id=None,
            outcome="denied",
            occurrences=window.counted,
        )
        try:
            await write(summary)
        except BaseException:
            # Not lost: counted again under the same client, written with the next try.
            again = self._open.setdefault(_key(first), window)
            if again is not window:
                again.counted += window.counted
            raise


def writer(sessionmaker: async_sessionmaker[AsyncSession]) -> Writer:
    """Append a record in a transaction of its own (what a refusal has: no work to keep)."""

    async def write(record: AuditRecord) -> None:
        async with unit_of_work(sessionmaker) as session:
            await chain.append(session, record)

    return write
