"""Rate limits and the tally of repeated refusals, on apps of their own over the real database.

1. A caller (role and ``sub`` of a valid token) over its rate gets 429 problem+json with
   ``Retry-After``, and the request does no work; other callers are not affected. Without a
   valid token the count is per client address. ``/healthz``, ``/readyz``, ``/metrics`` are
   never limited.
2. The token is verified once per request, whoever asks (the limiter, the route, the pages,
   an idempotent POST), a refused one too.
3. Anonymous refusals and 429s are written as one event per client and window with their
   count (``audit_event.occurrences``): 500 bad-token requests from one address → a bounded
   number of rows whose counts sum to 500; the periodic flush writes a window's summary
   without another request; the chains still verify, and changing a count breaks them.
4. The tally and the in-process counters on their own (a clock of the test's).

Each test uses client addresses of its own (``ASGITransport(client=...)``), so rows and
counts in the session's database are told apart by address.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from carework.app import create_app
from carework.audit.record import AuditRecord
from carework.audit.refusals import RefusalTally, client_group
from carework.auth.principal import Principal
from carework.auth.tokens import TokenVerifier
from carework.config import Settings
from carework.http.rate_limit import InProcessStorage, RateLimits
from carework.vocab import Role
from tests.domain_helpers import assert_problem
from tests.factories import TokenMaker, World, create_plan

DPS = "/api/v1/dps/plans"
_addresses = itertools.count(1)


def new_address() -> str:
    """A client address no other test of this session uses (TEST-NET-3 and onwards)."""
    n = next(_addresses) + uuid.uuid4().int % 1000 * 1000
    return f"203.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


@asynccontextmanager
async def app_with(settings: Settings, **changes: Any) -> AsyncIterator[FastAPI]:
    """An app of the test's own, on the session's database, with these settings changed."""
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_of(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40123))
    async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
        yield c


async def rows(app: FastAPI, statement: str, **params: Any) -> list[dict[str, Any]]:
    async with app.state.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return [dict(r) for r in result.mappings().all()]


async def events_from(app: FastAPI, address: str) -> list[dict[str, Any]]:
    return await rows(
        app,
        "SELECT action, outcome, status, occurrences, actor_sub, request_id FROM audit_event "
        "WHERE client_ip = :a ORDER BY occurred_at, id",
        a=address,
    )


async def rows_after_stop(settings: Settings, address: str) -> list[dict[str, Any]]:
    """What the trail holds for an address, read through an app of its own."""
    async with app_with(settings) as reader:
        return await events_from(reader, address)


def refused_count(events: list[dict[str, Any]]) -> int:
    return sum(e["occurrences"] or 1 for e in events)


# --------------------------------------------------------------------------------------------
# 1. The limits


async def test_a_caller_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    settings: Settings, tokens: TokenMaker, world: World
) -> None:
    async with (
        app_with(settings, rate_limit="5/minute") as app,
        client_of(app, new_address()) as client,
    ):
        plan = await create_plan(client, world)  # the first of the clinician's five
        url = f"{DPS}/{plan['id']}"
        for _ in range(4):
            assert (await client.get(url, headers=world.clinician.headers)).status_code == 200
        refused = await client.get(url, headers=world.clinician.headers)
        body = assert_problem(refused, 429)
        assert body["type"].endswith("/too-many-requests")
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert str(retry_after) in body["detail"]
        assert refused.headers["x-request-id"]
        # Someone else, from the same address, is counted apart.
        colleague = tokens.actor("clinician", org=world.dps_unit)
        other = await client.get(url, headers=colleague.headers)
        assert other.status_code == 200, other.text


async def test_a_refused_request_does_no_work(settings: Settings, world: World) -> None:
    address = new_address()
    async with app_with(settings, rate_limit="1/minute") as app:
        async with client_of(app, address) as client:
            first = await create_plan(client, world)
            body = {"domain": "treatment", "title": "Over grensen"}
            refused = await client.post(
                f"{DPS}/{first['id']}/goals", json=body, headers=world.clinician.headers
            )
            assert_problem(refused, 429)
        goals = await rows(app, "SELECT id FROM goal WHERE plan_id = :p", p=first["id"])
        assert goals == []
        events = await events_from(app, address)
        # The plan's creation, then the refusal as what it is: no route ran, nothing read.
        assert [(e["action"], e["status"]) for e in events] == [
            ("create_plan", 201),
            ("rate_limited", 429),
        ]
        assert events[1]["outcome"] == "denied"
        assert events[1]["actor_sub"] == world.clinician.sub
        assert events[1]["request_id"] == refused.headers["x-request-id"]


async def test_without_a_valid_token_the_count_is_per_address(settings: Settings) -> None:
    busy, other = new_address(), new_address()
    async with app_with(settings, anon_rate_limit="3/minute") as app:
        async with client_of(app, busy) as client:
            bad = {"Authorization": "Bearer not.a.jwt"}
            statuses = [
                (
                    await client.get(f"{DPS}/{uuid.uuid4()}", headers=bad if i % 2 else {})
                ).status_code
                for i in range(5)
            ]
            assert statuses == [401, 401, 401, 429, 429]
        async with client_of(app, other) as client:
            assert (await client.get(f"{DPS}/{uuid.uuid4()}")).status_code == 401


async def test_an_ipv6_client_is_counted_by_its_64_network(settings: Settings) -> None:
    prefix = f"2001:db8:{uuid.uuid4().int % 65536:x}:1"
    async with app_with(settings, anon_rate_limit="2/minute") as app:
        statuses = []
        for host in ("::1", "::2", "::3"):
            async with client_of(app, f"{prefix}{host}") as client:
                statuses.append((await client.get(DPS)).status_code)
        assert statuses == [401, 401, 429]
    assert client_group(f"{prefix}::3") == f"{prefix}::/64"
    assert client_group("::ffff:192.0.2.7") == "192.0.2.7"


async def test_health_readiness_and_metrics_are_never_limited(settings: Settings) -> None:
    async with (
        app_with(settings, anon_rate_limit="1/minute") as app,
        client_of(app, new_address()) as client,
    ):
        for _ in range(20):
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await client.get(path)).status_code == 200, path
        assert (await client.get(DPS)).status_code == 401
        assert (await client.get(DPS)).status_code == 429


async def test_the_pages_are_counted_by_their_session_cookie(
    settings: Settings, world: World
) -> None:
    async with (
        app_with(settings, rate_limit="3/minute", anon_rate_limit="1000/minute") as app,
        client_of(app, new_address()) as client,
    ):
        client.cookies.set("carework_ui", world.clinician.token)
        statuses = [(await client.get("/ui/plans")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        # The same person through the API is the same caller.
        assert (await client.get(DPS, headers=world.clinician.headers)).status_code == 429


# --------------------------------------------------------------------------------------------
# 2. One verification per request


class CountingVerifier(TokenVerifier):
    """The app's verifier, counting how often it is asked."""

    calls = 0

    async def verify(self, token: str) -> Principal:
        self.calls += 1
        return await super().verify(token)


@pytest.mark.parametrize(
    "kind", ["api read", "api bad token", "idempotent post", "page", "page bad cookie"]
)
async def test_a_token_is_verified_once_per_request(
    settings: Settings, world: World, kind: str
) -> None:
    async with (
        app_with(settings, rate_limit="100/minute", anon_rate_limit="100/minute") as app,
        client_of(app, new_address()) as client,
    ):
        plan = await create_plan(client, world)
        counting = CountingVerifier(settings)
        app.state.verifier = counting
        headers = world.clinician.headers
        if kind == "api read":
            response = await client.get(f"{DPS}/{plan['id']}", headers=headers)
            expected = 200
        elif kind == "api bad token":
            response = await client.get(DPS, headers={"Authorization": "Bearer x.y.z"})
            expected = 401
        elif kind == "idempotent post":
            response = await client.post(
                f"{DPS}/{plan['id']}/goals",
                json={"domain": "treatment", "title": "Én gang"},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            expected = 201
        else:
            token = world.clinician.token if kind == "page" else "x.y.z"
            client.cookies.set("carework_ui", token)
            response = await client.get("/ui/plans", follow_redirects=False)
            expected = 200 if kind == "page" else 303
        assert response.status_code == expected, response.text
        assert counting.calls == 1


# --------------------------------------------------------------------------------------------
# 3. Repeated refusals counted, not written one by one


async def test_500_bad_token_requests_from_one_address_are_a_few_rows_that_count_500(
    settings: Settings,
) -> None:
    address = new_address()
    async with app_with(settings, anon_rate_limit="60/minute", refusal_window_seconds=60) as app:
        async with client_of(app, address) as client:
            bad = {"Authorization": "Bearer not.a.jwt"}
            answers = await asyncio.gather(
                *(client.get(f"{DPS}/{uuid.uuid4()}", headers=bad) for _ in range(500))
            )
        statuses = [a.status_code for a in answers]
        assert statuses.count(401) == 60
        assert statuses.count(429) == 440
        # Within the window: the first of each kind is written, the rest are counted.
        before_shutdown = await events_from(app, address)
        assert sorted((e["status"], e["occurrences"]) for e in before_shutdown) == [
            (401, None),
            (429, None),
        ]
    # The app stopped: the windows' summaries were written on the way out.
    events = await rows_after_stop(settings, address)
    assert len(events) == 4, events
    assert refused_count(events) == 500
    summaries = {e["action"]: e for e in events if e["occurrences"] is not None}
    assert summaries["refused_unauthenticated"]["occurrences"] == 59
    assert summaries["rate_limited"]["occurrences"] == 439
    assert {e["outcome"] for e in events} == {"denied"}


async def test_the_periodic_flush_writes_a_window_without_another_request(
    settings: Settings,
) -> None:
    address = new_address()
    async with app_with(settings, refusal_window_seconds=1.5) as app:
        async with client_of(app, address) as client:
            for _ in range(25):
                assert (await client.get(DPS)).status_code == 401
            assert refused_count(await events_from(app, address)) == 1
            deadline = time.monotonic() + 5
            while refused_count(await events_from(app, address)) < 25:
                assert time.monotonic() < deadline, await events_from(app, address)
                await asyncio.sleep(0.05)
        events = await events_from(app, address)
        assert [(e["action"], e["occurrences"]) for e in events] == [
            ("list_plans", None),
            ("refused_unauthenticated", 24),
        ]


async def test_the_next_refusal_after_the_window_writes_its_summary(settings: Settings) -> None:
    address = new_address()
    async with app_with(settings, refusal_window_seconds=2) as app:
        async with client_of(app, address) as client:
            for _ in range(10):
                await client.get(DPS)
            await asyncio.sleep(2.1)
            await client.get(DPS)  # closes the first window, opens the next
        events = await events_from(app, address)
        assert [e["occurrences"] for e in events][:3] == [None, 9, None]


async def test_a_summary_is_on_its_chain_and_changing_its_count_breaks_it(
    settings: Settings, world: World
) -> None:
    address = new_address()
    async with (
        app_with(settings, refusal_window_seconds=60) as app,
        client_of(app, address) as client,
    ):
        for _ in range(3):
            await client.get(DPS)
    async with app_with(settings) as app, client_of(app, new_address()) as auditor:
        [summary] = await rows(
            app,
            "SELECT id, occurrences FROM audit_event WHERE client_ip = :a "
            "AND occurrences IS NOT NULL",
            a=address,
        )
        assert summary["occurrences"] == 2
        verify = await auditor.get("/api/v1/audit/verify", headers=world.auditor.headers)
        assert verify.json()["ok"] is True, verify.json()
        await rows(app, "UPDATE audit_event SET occurrences = 1 WHERE id = :i RETURNING id",
                   i=summary["id"])  # fmt: skip
        try:
            broken = await auditor.get("/api/v1/audit/verify", headers=world.auditor.headers)
            assert broken.json()["ok"] is False
            assert broken.json()["first_broken"]["reason"] == "the event was changed"
        finally:
            await rows(app, "UPDATE audit_event SET occurrences = 2 WHERE id = :i RETURNING id",
                       i=summary["id"])  # fmt: skip
        again = await auditor.get("/api/v1/audit/verify", headers=world.auditor.headers)
        assert again.json()["ok"] is True


async def test_an_auditor_reads_the_count(settings: Settings, world: World) -> None:
    address = new_address()
    async with app_with(settings, refusal_window_seconds=60) as app:
        [since] = await rows(app, "SELECT now() AS t")
        async with client_of(app, address) as client:
            for _ in range(4):
                await client.get(DPS)
    async with app_with(settings) as app, client_of(app, new_address()) as auditor:
        page = await auditor.get(
            "/api/v1/audit/events",
            params={"limit": 200, "from": since["t"].isoformat()},
            headers=world.auditor.headers,
        )
        assert page.status_code == 200, page.text
        found = [e for e in page.json()["items"] if e["client_ip"] == address]
        assert [(e["action"], e["occurrences"]) for e in found] == [
            ("list_plans", None),
            ("refused_unauthenticated", 3),
        ]


# --------------------------------------------------------------------------------------------
# 4. The parts on their own


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refusal(address: str, status: int = 401, principal: Principal | None = None) -> AuditRecord:
    return AuditRecord(
        action="read_plan", request_id=uuid.uuid4().hex, client_ip=address,
        principal=principal, outcome="denied", status=status,
    )  # fmt: skip


def collecting() -> tuple[list[AuditRecord], Callable[[AuditRecord], Awaitable[None]]]:
    written: list[AuditRecord] = []

    async def write(record: AuditRecord) -> None:
        written.append(record)

    return written, write


async def test_the_tally_writes_the_first_and_counts_the_rest_per_client_and_kind() -> None:
    clock = Clock()
    tally = RefusalTally(60, clock=clock)
    written, write = collecting()
    caller = Principal(sub="ehr-1", name="EHR", role=Role.clinician, org="dps-1", pid=None)
    for _ in range(5):
        await tally.refused(write, refusal("198.51.100.1"))
        await tally.refused(write, refusal("198.51.100.1", 429))
        await tally.refused(write, refusal("198.51.100.1", 429, caller))
        await tally.refused(write, refusal("198.51.100.2"))
    assert len(written) == 4
    assert tally.pending() == 16
    clock.now += 59
    await tally.flush(write)
    assert len(written) == 4  # not over yet
    clock.now += 1
    await tally.flush(write)
    summaries = written[4:]
    assert sorted((s.action, s.status, s.occurrences) for s in summaries) == [
        ("rate_limited", 429, 4),
        ("rate_limited", 429, 4),
        ("refused_unauthenticated", 401, 4),
        ("refused_unauthenticated", 401, 4),
    ]
    assert {s.principal for s in summaries if s.principal} == {caller}
    assert all(s.plan_id is None and s.outcome == "denied" for s in summaries)
    assert tally.pending() == 0


async def test_a_summary_that_cannot_be_written_is_kept_for_the_next_try() -> None:
    clock = Clock()
    tally = RefusalTally(60, clock=clock)
    written, write = collecting()
    for _ in range(10):
        await tally.refused(write, refusal("198.51.100.9"))

    async def down(record: AuditRecord) -> None:
        raise ConnectionError("the database is down")

    clock.now += 61
    with pytest.raises(ConnectionError):
        await tally.flush(down)
    assert tally.pending() == 9
    await tally.refused(write, refusal("198.51.100.9"))  # the next window opens
    await tally.flush(write, everything=True)
    assert sum(r.occurrences or 1 for r in written) == 11


async def test_a_window_of_0_writes_every_refusal() -> None:
    tally = RefusalTally(0)
    written, write = collecting()
    for _ in range(3):
        await tally.refused(write, refusal("198.51.100.3"))
    assert [r.occurrences for r in written] == [None, None, None]


async def test_the_in_process_counter_allows_the_rate_and_frees_with_time() -> None:
    limits = RateLimits("10/second", "1/second", InProcessStorage())
    caller = Principal(sub="s", name="n", role=Role.nav_advisor, org="nav-1", pid=None)
    answers = [await limits.retry_after(caller, "192.0.2.1") for _ in range(11)]
    assert answers[:10] == [None] * 10
    assert answers[10] == 1
    await asyncio.sleep(2.05)  # two windows on: the count has slid out
    assert await limits.retry_after(caller, "192.0.2.1") is None


async def test_a_hit_costs_microseconds_with_many_callers() -> None:
    """limits' own in-memory async storage: 1.6 ms a hit with 10,000 callers in the window."""
    limits = RateLimits("1000000/minute", "1000000/minute", InProcessStorage())
    for n in range(10_000):
        await limits.retry_after(None, f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    caller = Principal(sub="s", name="n", role=Role.clinician, org="dps-1", pid=None)
    rounds = 5_000
    started = time.perf_counter()
    for _ in range(rounds):
        assert await limits.retry_after(caller, "192.0.2.1") is None
        await asyncio.sleep(0)
    per_hit = (time.perf_counter() - started) / rounds
    print(f"rate limit hit: {per_hit * 1e6:.1f} µs with 10,000 callers")
    assert per_hit < 100e-6
