"""Seed the bench database with set-based SQL, not through the API.

Ids are derived from the row number (``md5('plan' || i)::uuid``), so plans, goals and their
children link up without joins or round trips. Audit events are generated in Python in
batches (the hash is ``sha256`` over Python's canonical JSON, which SQL cannot reproduce
byte for byte) and loaded with COPY, appended to each plan's chain from its current head, so
``carework audit verify`` passes over the whole table.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from carework.audit.chain import genesis

DPS_UNITS = 4
NAV_OFFICES = 8
GROWTH_GOALS = (5, 50, 500)
AUDIT_BATCH = 50_000


def dps_unit(index: int) -> str:
    return f"dps-bench-{index}"


def nav_office(index: int) -> str:
    return f"nav-{1000 + index}"


@dataclass(frozen=True)
class Seeded:
    plans: int  # the regular plans, 1..plans
    growth_plans: dict[int, list[int]]  # goals per plan -> plan numbers (plans+1 ...)


_PLANS_SQL = """
INSERT INTO bench_plan_goals (i, ngoals)
SELECT i, 6 FROM generate_series(1, $1::int) i;

INSERT INTO patient (id, nid, name, created_at)
SELECT md5('patient' || i)::uuid, '9' || lpad(i::text, 10, '0'), 'Bench Patient ' || i,
       now() - interval '400 days'
FROM bench_plan_goals;

INSERT INTO plan (id, patient_id, dps_unit, nav_office, title, main_goal, status,
                  coordinator_sub, next_review_date, version, created_by_sub, created_at,
                  updated_at)
SELECT md5('plan' || i)::uuid, md5('patient' || i)::uuid,
       'dps-bench-' || (i % {units}), 'nav-' || (1000 + i % {offices}),
       'Plan for patient ' || i, 'Back to work part time within a year, in my own words.',
       'active', 'clin-' || (i % {units}), current_date + (i % 90), 1, 'clin-' || (i % {units}),
       now() - interval '1 minute' * i, now() - interval '1 minute' * i
FROM bench_plan_goals;

INSERT INTO care_team_member (id, plan_id, sub, name, role, org, side, added_by_sub, created_at)
SELECT md5('team-dps' || i)::uuid, md5('plan' || i)::uuid, 'clin-' || (i % {units}),
       'Clinician ' || (i % {units}), 'clinician', 'dps-bench-' || (i % {units}), 'dps',
       'clin-' || (i % {units}), now() - interval '1 minute' * i
FROM bench_plan_goals
UNION ALL
SELECT md5('team-nav' || i)::uuid, md5('plan' || i)::uuid, 'nav-' || (i % {offices}),
       'Advisor ' || (i % {offices}), 'nav_advisor', 'nav-' || (1000 + i % {offices}), 'nav',
       'clin-' || (i % {units}), now() - interval '1 minute' * i + interval '1 second'
FROM bench_plan_goals;

INSERT INTO goal (id, plan_id, domain, owner_side, title, description, status, target_date,
                  proposed_by_side, created_by_sub, version, created_at, updated_at)
SELECT md5('goal' || i || ':' || g)::uuid, md5('plan' || i)::uuid,
       (ARRAY['treatment', 'work', 'education'])[1 + g % 3],
       CASE WHEN g % 3 = 0 THEN 'dps' ELSE 'nav' END,
       'Goal ' || g || ' of plan ' || i,
       'A realistic goal description that says what success looks like for the patient.',
       'active', current_date + g, NULL,
       CASE WHEN g % 3 = 0 THEN 'clin-' ELSE 'nav-' END || (i % {units}), 1,
       now() - interval '1 minute' * i + interval '1 second' * g,
       now() - interval '1 minute' * i + interval '1 second' * g
FROM bench_plan_goals, generate_series(1, ngoals) g;

INSERT INTO activity (id, plan_id, goal_id, kind, title, description, responsible_side,
                      responsible_person, status, start_date, end_date, created_by_sub, version,
                      created_at, updated_at)
SELECT md5('act' || i || ':' || g || ':' || a)::uuid, md5('plan' || i)::uuid,
       md5('goal' || i || ':' || g)::uuid,
       (ARRAY[ARRAY['therapy', 'medication_review'], ARRAY['work_training', 'ips_job_search'],
              ARRAY['course', 'benefit_follow_up']])[1 + g % 3][a],
       'Activity ' || a || ' for goal ' || g, NULL,
       CASE WHEN g % 3 = 0 THEN 'dps' ELSE 'nav' END, 'Someone Responsible', 'planned',
       current_date, current_date + 30, 'bench', 1,
       now() - interval '1 minute' * i + interval '1 second' * g + interval '1 ms' * a,
       now() - interval '1 minute' * i + interval '1 second' * g + interval '1 ms' * a
FROM bench_plan_goals, generate_series(1, ngoals) g, generate_series(1, 2) a;

INSERT INTO note (id, plan_id, goal_id, author_sub, author_name, author_role, author_side, text,
                  visibility, created_at)
SELECT md5('note' || i || ':' || g || ':' || k)::uuid, md5('plan' || i)::uuid,
       md5('goal' || i || ':' || g)::uuid,
       CASE WHEN g % 3 = 0 THEN 'clin-' ELSE 'nav-' END || (i % {units}),
       'Author ' || (i % {units}),
       CASE WHEN g % 3 = 0 THEN 'clinician' ELSE 'nav_advisor' END,
       CASE WHEN g % 3 = 0 THEN 'dps' ELSE 'nav' END,
       'Progress note ' || k || ': met this week, small steps, follow up at next meeting.',
       CASE WHEN k = 1 THEN 'shared' ELSE 'internal' END,
       now() - interval '1 minute' * i + interval '1 second' * g + interval '1 ms' * k
FROM bench_plan_goals, generate_series(1, ngoals) g, generate_series(1, 2) k;

-- Consent: 30 % full, 10 % goals only, 10 % revoked, 10 % expired, 40 % none.
INSERT INTO consent (id, plan_id, scopes, evidence, granted_by_sub, granted_by_name,
                     granted_by_role, granted_at, valid_until, revoked_at, revoked_by_sub,
                     revoked_by_role)
SELECT md5('consent' || i)::uuid, md5('plan' || i)::uuid,
       CASE WHEN i % 10 = 3 THEN ARRAY['treatment_goals']
            ELSE ARRAY['treatment_goals', 'treatment_notes'] END::varchar[],
       'verbal', 'clin-' || (i % {units}), 'Clinician', 'clinician', now() - interval '30 days',
       CASE WHEN i % 10 = 5 THEN now() - interval '1 day' END,
       CASE WHEN i % 10 = 4 THEN now() - interval '2 days' END,
       CASE WHEN i % 10 = 4 THEN 'clin-' || (i % {units}) END,
       CASE WHEN i % 10 = 4 THEN 'clinician' END
FROM bench_plan_goals WHERE i % 10 < 6;

INSERT INTO change_event (occurred_at, plan_id, type, resource_type, resource_id, version,
                          actor_sub, actor_name, actor_role, sensitivity, internal_to, data)
SELECT now() - interval '1 minute' * i, md5('plan' || i)::uuid, 'plan.created', 'plan',
       md5('plan' || i)::uuid, 1, 'clin-' || (i % {units}), 'Clinician', 'clinician',
       'general', NULL, '{{"status": "active"}}'::jsonb
FROM bench_plan_goals
UNION ALL
SELECT now() - interval '1 minute' * i + interval '1 second' * g, md5('plan' || i)::uuid,
       'goal.created', 'goal', md5('goal' || i || ':' || g)::uuid, 1, 'bench', 'Bench',
       CASE WHEN g % 3 = 0 THEN 'clinician' ELSE 'nav_advisor' END,
       CASE WHEN g % 3 = 0 THEN 'treatment' ELSE 'general' END, NULL,
       json_build_object('domain', (ARRAY['treatment', 'work', 'education'])[1 + g % 3])::jsonb
FROM bench_plan_goals, generate_series(1, least(ngoals, 6)) g;
"""


async def seed_domain(conn: asyncpg.Connection, plans: int, growth_each: int) -> Seeded:
    """Patients, plans, team, goals, activities, notes, consents and change events.

    Besides the regular plans (6 goals each), ``growth_each`` plans per size in
    ``GROWTH_GOALS``: several, so concurrent reads do not all queue on one audit chain head.
    """
    growth: dict[int, list[int]] = {}
    number = plans
    for goals in GROWTH_GOALS:
        growth[goals] = list(range(number + 1, number + 1 + growth_each))
        number += growth_each
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE bench_plan_goals (i int, ngoals int)")
        sql = _PLANS_SQL.format(units=DPS_UNITS, offices=NAV_OFFICES)
        first, rest = sql.split(";", 1)
        await conn.execute(first.replace("$1::int", str(int(plans))))
        for goals, numbers in growth.items():
            await conn.executemany(
                "INSERT INTO bench_plan_goals VALUES ($1, $2)", [(n, goals) for n in numbers]
            )
        await conn.execute(rest)
        await conn.execute("DROP TABLE bench_plan_goals")
    await conn.execute("ANALYZE")
    return Seeded(plans=plans, growth_plans=growth)


def plan_uuid(number: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"plan{number}".encode()).hexdigest())  # noqa: S324 (ids)


_AUDIT_COLUMNS = (
    "occurred_at", "id", "chain", "seq", "prev_hash", "hash", "actor_sub", "actor_name",
    "actor_role", "actor_org", "action", "outcome", "status", "plan_id", "resource_type",
    "resource_id", "request_id", "client_ip",
)  # fmt: skip


def _audit_rows(
    chains: list[tuple[int, str, int, str]], per_chain: list[int], base: datetime
) -> list[tuple[object, ...]]:
    """Rows for ``per_chain[k]`` new events on chain k, hashed exactly as ``chain.append``.

    ``chains`` holds (plan number, chain id, head seq, head hash)."""
    rows: list[tuple[object, ...]] = []
    dumps = json.dumps
    sha = hashlib.sha256
    for (number, chain, seq, prev), count in zip(chains, per_chain, strict=True):
        unit = number % DPS_UNITS
        sub, name, org = f"clin-{unit}", f"Clinician {unit}", dps_unit(unit)
        for _ in range(count):
            seq += 1
            at = base + timedelta(seconds=seq * 37, microseconds=number)
            event_id = uuid.uuid4()
            request_id = event_id.hex
            body = dumps(
                [at.isoformat(timespec="microseconds"), str(event_id), chain, seq, sub, name,
                 "clinician", org, "read_plan", "allowed", 200, chain, "plan", chain,
                 request_id, "127.0.0.1"],
                separators=(",", ":"), ensure_ascii=False,
            )  # fmt: skip
            digest = sha((prev + body).encode()).hexdigest()
            rows.append(
                (at, event_id, chain, seq, prev, digest, sub, name, "clinician", org,
                 "read_plan", "allowed", 200, uuid.UUID(chain), "plan", chain, request_id,
                 "127.0.0.1")
            )  # fmt: skip
            prev = digest
    return rows


async def grow_audit(
    conn: asyncpg.Connection, plans: int, target: int, progress: bool = True
) -> dict[str, float]:
    """Append events to the plans' chains until the table holds about ``target`` events.

    Continues each chain from its current head (the servers have extended some), in one
    transaction that holds the heads table locked.
    """
    started = time.monotonic()
    async with conn.transaction():
        # Blocks appenders (and waits for any still committing), so the heads read here are
        # the last ones and no server request forks a chain while the table grows.
        await conn.execute("LOCK TABLE audit_chain_head IN SHARE ROW EXCLUSIVE MODE")
        have = int(await conn.fetchval("SELECT count(*) FROM audit_event"))
        missing = target - have
        if missing <= 0:
            return {"added": 0, "seconds": 0.0, "total": have}
        heads = {
            r["chain"]: (int(r["seq"]), r["hash"])
            for r in await conn.fetch("SELECT chain, seq, hash FROM audit_chain_head")
        }
        chains: list[tuple[int, str, int, str]] = []
        for number in range(1, plans + 1):
            chain = str(plan_uuid(number))
            seq, head = heads.get(chain, (0, genesis(chain)))
            chains.append((number, chain, seq, head))
        base = datetime(2024, 1, 1, tzinfo=UTC)
        added = 0
        # Spread evenly over the chains; one slice of chains per COPY.
        per_chain = [missing // plans + (1 if k < missing % plans else 0) for k in range(plans)]
        per_batch = max(1, AUDIT_BATCH // max(1, missing // plans))
        for start in range(0, plans, per_batch):
            rows = _audit_rows(
                chains[start : start + per_batch], per_chain[start : start + per_batch], base
            )
            if not rows:
                continue
            await conn.copy_records_to_table(
                "audit_event", records=rows, columns=list(_AUDIT_COLUMNS)
            )
            last: dict[str, tuple[int, str]] = {}
            for row in rows:
                last[row[2]] = (row[3], row[5])  # type: ignore[index,assignment]
            await conn.executemany(
                "INSERT INTO audit_chain_head (chain, seq, hash) VALUES ($1, $2, $3) "
                "ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                [(c, s, h) for c, (s, h) in last.items()],
            )
            added += len(rows)
            if progress:
                print(f"  audit: {have + added:,}/{target:,} events", end="\r", flush=True)
    if progress:
        print()
    await conn.execute("ANALYZE audit_event")
    await conn.execute("ANALYZE audit_chain_head")
    return {"added": added, "seconds": round(time.monotonic() - started, 1), "total": have + added}
