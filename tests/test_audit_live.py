"""The audit trail under concurrent load from two server processes.

``carework serve --workers 2`` on a database of its own takes ~200 concurrent requests over
two dozen connections: many reads of one plan (all contending for that plan's chain head),
reads and writes across other plans, a race of PATCHes with one ETag (one wins, the rest are
412), and denied requests. Afterwards every request has exactly one event, every chain is
gap-free, and verification passes, also while the load is running.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from carework.db.session import make_engine
from tests.factories import TokenMaker, make_nid, make_world
from tests.live import LiveServer, child_env, run_cli
from tests.test_live_server import clients_across_workers, create_world_plan

CONNECTIONS = 24

pytestmark = pytest.mark.live
DPS = "/api/v1/dps/plans"
NAV = "/api/v1/nav/plans"


@pytest.fixture(scope="module")
def live_database(embedded_pg: EmbeddedPostgres) -> str:
    url = embedded_pg.create_database("cw_audit_live")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def server(
    live_database: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = child_env(
        DATABASE_URL=live_database, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir)
    )
    live = LiveServer(["--workers", "2"], env, tmp_path_factory.mktemp("audit") / "serve.log")
    try:
        live.wait_ready()
        yield live
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()


@dataclass
class Call:
    kind: str
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
    plan: str | None  # the plan an allowed answer is chained to


async def rows(url: str, statement: str) -> list[dict[str, Any]]:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(statement))).mappings().all()]
    finally:
        await engine.dispose()


async def test_concurrent_requests_across_processes_leave_one_event_each_in_intact_chains(
    server: LiveServer, live_database: str, tokens: TokenMaker
) -> None:
    world = make_world(tokens)
    clinician, advisor = world.clinician.headers, world.advisor.headers
    responses: list[httpx.Response] = []

    async def remember(response: httpx.Response) -> None:
        if response.request.url.path.startswith("/api/"):
            responses.append(response)

    async with clients_across_workers(server, CONNECTIONS) as clients:
        for client in clients:
            client.event_hooks = {"request": [], "response": [remember]}
        setup = clients[0]

        # The hot plan with a goal to fight over, and four quieter plans.
        hot = (await create_world_plan(setup, world))["id"]
        goal = await setup.post(
            f"{DPS}/{hot}/goals",
            json={"domain": "treatment", "title": "Sove bedre"},
            headers=clinician,
        )
        assert goal.status_code == 201, goal.text
        goal_url = f"{DPS}/{hot}/goals/{goal.json()['id']}"
        etag = (await setup.get(goal_url, headers=clinician)).headers["etag"]
        others = []
        for _ in range(4):
            body = {"patient": {"nid": make_nid(), "name": "Kari"},
                    "nav_office": world.nav_office, "title": "Plan"}  # fmt: skip
            created = await setup.post(DPS, json=body, headers=clinician)
            assert created.status_code == 201, created.text
            others.append(created.json()["id"])
        setup_requests = len(responses)

        def get(url: str, headers: dict[str, str]) -> Callable[[httpx.AsyncClient], Any]:
            return lambda c: c.get(url, headers=headers)

        def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
            return lambda c: c.post(url, json=body, headers=headers)

        calls: list[Call] = []
        calls += [Call("hot read", get(f"{DPS}/{hot}", clinician), hot) for _ in range(50)]
        calls += [Call("hot read", get(f"{NAV}/{hot}", advisor), hot) for _ in range(30)]
        calls += [
            Call("read", get(f"{DPS}/{plan}", clinician), plan)
            for plan in others
            for _ in range(10)
        ]
        calls += [
            Call("patch", lambda c, i=i: c.patch(goal_url, json={"title": f"Tittel {i}"},
                                                 headers={**clinician, "If-Match": etag}), hot)
            for i in range(30)
        ]  # fmt: skip
        calls += [
            Call("note", post(f"{goal_url}/notes", {"text": f"Notat {i}", "visibility": "shared"},
                              clinician), hot)
            for i in range(18)
        ]  # fmt: skip
        calls += [
            Call("goal", post(f"{NAV}/{plan}/goals", {"domain": "work", "title": "Jobb"}, advisor),
                 plan)
            for plan in others for _ in range(3)
        ]  # fmt: skip
        calls += [Call("no token", get(f"{DPS}/{hot}", {}), None) for _ in range(10)]
        calls += [
            Call("out of scope", get(f"{DPS}/{hot}", world.other_clinician.headers), None)
            for _ in range(10)
        ]
        assert len(calls) == 200
        # Verification while the load runs: it must not mistake an append in flight for a break.
        verifies = [
            Call("verify", get("/api/v1/audit/verify", world.auditor.headers), None)
            for _ in range(6)
        ]
        random.Random(7).shuffle(calls)
        for i, check in enumerate(verifies):
            calls.insert(20 + i * 35, check)

        queues = [calls[i :: len(clients)] for i in range(len(clients))]

        async def work(client: httpx.AsyncClient, queue: list[Call]) -> list[tuple[Call, Any]]:
            return [(call, await call.send(client)) for call in queue]

        started = time.monotonic()
        done = await asyncio.gather(*(work(c, q) for c, q in zip(clients, queues, strict=True)))
        elapsed = time.monotonic() - started
        results = [pair for queue in done for pair in queue]
        assert len(results) == len(calls)

        statuses: dict[str, Counter[int]] = {}
        for call, response in results:
            statuses.setdefault(call.kind, Counter())[response.status_code] += 1
        assert statuses == {
            "hot read": Counter({200: 80}),
            "read": Counter({200: 40}),
            "patch": Counter({200: 1, 412: 29}),
            "note": Counter({201: 18}),
            "goal": Counter({201: 12}),
            "no token": Counter({401: 10}),
            "out of scope": Counter({404: 10}),
            "verify": Counter({200: 6}),
        }, statuses
        for call, response in results:
            if call.kind == "verify":
                assert response.json()["ok"] is True, response.json()

        made = len(responses)
        assert made == setup_requests + len(calls)
        final = await setup.get("/api/v1/audit/verify", headers=world.auditor.headers)
        assert final.status_code == 200, final.text
        assert final.json()["ok"] is True, final.json()
        assert final.json()["events"] == made, (final.json(), made)

    # Exactly one event per request, found by the request id each response carried.
    events = await rows(live_database, "SELECT request_id, chain, seq FROM audit_event")
    assert len(events) == len(responses) == made + 1
    assert Counter(e["request_id"] for e in events) == Counter(
        r.headers["x-request-id"] for r in responses
    )

    # Every chain is 1..n without gaps or repeats, ends at its head, and runs forward in time.
    chains = await rows(
        live_database,
        """
        SELECT e.chain, count(*) AS n, min(e.seq) AS first, max(e.seq) AS last,
               count(DISTINCT e.seq) AS distinct_seqs, h.seq AS head
        FROM audit_event e JOIN audit_chain_head h USING (chain)
        GROUP BY e.chain, h.seq
        """,
    )
    for chain in chains:
        assert chain["first"] == 1, chain
        assert chain["last"] == chain["n"] == chain["distinct_seqs"] == chain["head"], chain
    backwards = await rows(
        live_database,
        """
        SELECT count(*) AS n FROM (
            SELECT occurred_at < lag(occurred_at) OVER (PARTITION BY chain ORDER BY seq) AS back
            FROM audit_event) t
        WHERE back
        """,
    )
    assert backwards == [{"n": 0}]

    # Allowed requests on a plan are that plan's chain; everything else is in the shared ones.
    per_plan = Counter(call.plan for call, response in results if call.plan and response.is_success)
    per_plan[hot] += 3  # created, its goal created, the goal read for its ETag
    for plan in others:
        per_plan[plan] += 1  # created
    counts = {c["chain"]: c["n"] for c in chains}
    assert {plan: counts[plan] for plan in per_plan} == dict(per_plan)
    assert counts[hot] == 80 + 1 + 18 + 3
    shared = sum(n for chain, n in counts.items() if chain.startswith("shared-"))
    assert shared == 29 + 10 + 10 + 6 + 1
    assert set(counts) == set(per_plan) | {c for c in counts if c.startswith("shared-")}

    # The operator's command agrees.
    result = await asyncio.to_thread(
        run_cli, "audit", "verify", env=child_env(DATABASE_URL=live_database)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["events"] == made + 1
    assert report["chains"] == len(chains)
    assert elapsed < 30, f"{len(calls)} requests took {elapsed:.1f} s"
