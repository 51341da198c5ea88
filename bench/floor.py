# ruff: noqa: S608  (the SQL is assembled from constant parts in this file, no input)
"""The floor: what the plan read (and a goal write, and the feed) cost with nothing in the way.

A bare Starlette + asyncpg app. Each request verifies the bearer token (ES256, the dev key, as
the service does), runs ONE SQL statement that applies the scope and consent rules and builds
the JSON in PostgreSQL, and appends the same hash-chained audit event as the service
(chain-head ``UPDATE ... RETURNING``, ``INSERT`` into ``audit_event``, head ``UPDATE``) in the
same transaction. Run with ``uvicorn bench.floor:app --workers 2``; configured by
``BENCH_FLOOR_DSN`` and ``BENCH_FLOOR_KEY`` (the dev signing key's PEM file).

It is a yardstick, not a second implementation: no denial auditing, no idempotency, and only
the routes the benchmark drives.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from carework.audit.chain import SHARED_CHAINS, event_hash, genesis

SIDE_OF_ROLE = {"clinician": "dps", "nav_advisor": "nav"}


def _agreed(item: str) -> str:
    return f"""coalesce((SELECT json_agg(json_build_object('party', ag2.party,
      'name', ag2.agreed_by_name, 'version', ag2.item_version, 'at', ag2.agreed_at)
      ORDER BY ag2.agreed_at, ag2.party) FROM agreement ag2 WHERE ag2.item_id = {item}),
      '[]'::json)"""


def _seen(item: str) -> str:
    return f"""coalesce((SELECT json_agg(json_build_object('party', s.party,
      'version', s.version, 'at', s.seen_at) ORDER BY s.seen_at, s.party)
      FROM item_seen s WHERE s.item_id = {item}), '[]'::json)"""


def _waiting(item: str) -> str:
    return f"""to_json(coalesce((SELECT array_agg(w.party ORDER BY w.n)
      FROM unnest(ARRAY['patient', 'dps', 'nav']) WITH ORDINALITY AS w(party, n)
      WHERE NOT EXISTS (SELECT 1 FROM agreement ag3
                        WHERE ag3.item_id = {item} AND ag3.party = w.party)), '{{}}'))"""


_PARTS = {
    "AGREED_G": _agreed("g.id"), "SEEN_G": _seen("g.id"), "WAITING_G": _waiting("g.id"),
    "AGREED_A": _agreed("a.id"), "SEEN_A": _seen("a.id"), "WAITING_A": _waiting("a.id"),
}  # fmt: skip


# $1 plan id, $2 side, $3 org, $4 sub. Same shape as DpsPlanRead / NavPlanRead.
PLAN_VIEW_SQL = """
WITH p AS (
  SELECT p.* FROM plan p
  WHERE p.id = $1
    AND ((CASE WHEN $2 = 'dps' THEN p.dps_unit ELSE p.nav_office END) = $3
         OR EXISTS (SELECT 1 FROM care_team_member m
                    WHERE m.plan_id = p.id AND m.side = $2 AND m.sub = $4))
), c AS (
  SELECT coalesce(array_agg(DISTINCT s ORDER BY s), '{}') AS scopes
  FROM consent, unnest(consent.scopes) s
  WHERE consent.plan_id = $1 AND revoked_at IS NULL
    AND (valid_until IS NULL OR valid_until > now())
), v AS (
  SELECT c.scopes,
         $2 = 'dps' OR 'treatment_goals' = ANY(c.scopes) AS goals_ok,
         $2 = 'dps' OR 'treatment_notes' = ANY(c.scopes) AS notes_ok
  FROM c
)
SELECT json_build_object(
  'id', p.id, 'dps_unit', p.dps_unit, 'nav_office', p.nav_office, 'title', p.title,
  'main_goal', p.main_goal, 'status', p.status, 'coordinator_sub', p.coordinator_sub,
  'next_review_date', p.next_review_date, 'period_start', p.period_start,
  'period_end', p.period_end, 'review_interval_days', p.review_interval_days,
  'last_reviewed_on', p.last_reviewed_on,
  'review_overdue', coalesce(p.next_review_date < current_date, false),
  'first_employer_contact', (SELECT min(coalesce(fa.start_date, fa.created_at::date))
    FROM activity fa WHERE fa.plan_id = p.id AND fa.entered_in_error_at IS NULL
      AND (fa.kind = 'ips_employer_contact' OR fa.outcome IS NOT NULL)),
  'version', p.version, 'created_at', p.created_at, 'updated_at', p.updated_at,
  'goals', coalesce((
    SELECT json_agg(json_build_object(
      'id', g.id, 'plan_id', g.plan_id, 'domain', g.domain, 'owner_side', g.owner_side,
      'title', g.title, 'description', g.description, 'status', g.status,
      'target_date', g.target_date, 'proposed_by_side', g.proposed_by_side,
      'version', g.version, 'created_at', g.created_at, 'updated_at', g.updated_at,
      'achievement_status', g.achievement_status,
      'agreed_by', {AGREED_G}, 'seen_by', {SEEN_G},
      'waiting_for', CASE WHEN g.status = 'proposed' THEN to_json(ARRAY[g.owner_side])
                     ELSE {WAITING_G} END,
      'notes', coalesce((
        SELECT json_agg(json_build_object(
          'id', n.id, 'goal_id', n.goal_id, 'author_name', n.author_name,
          'author_role', n.author_role, 'author_side', n.author_side, 'text', n.text,
          'visibility', n.visibility, 'created_at', n.created_at) ORDER BY n.created_at, n.id)
        FROM (SELECT * FROM note n
              WHERE n.goal_id = g.id AND n.entered_in_error_at IS NULL
                AND (n.visibility = 'shared' OR n.author_side = $2)
                AND (g.domain <> 'treatment' OR v.notes_ok)
              ORDER BY n.created_at DESC, n.id DESC LIMIT 20) n), '[]'::json),
      'notes_total', (SELECT count(*) FROM note n
        WHERE n.goal_id = g.id AND n.entered_in_error_at IS NULL
          AND (n.visibility = 'shared' OR n.author_side = $2)
          AND (g.domain <> 'treatment' OR v.notes_ok))
    ) ORDER BY g.created_at, g.id)
    FROM goal g WHERE g.plan_id = p.id AND g.entered_in_error_at IS NULL
      AND (g.domain <> 'treatment' OR v.goals_ok)
  ), '[]'::json),
  'activities', coalesce((
    SELECT json_agg(json_build_object(
      'id', a.id, 'plan_id', a.plan_id, 'goal_id', a.goal_id, 'kind', a.kind,
      'title', a.title, 'description', a.description, 'responsible_side', a.responsible_side,
      'responsible_person', a.responsible_person, 'status', a.status, 'start', a.start_date,
      'end', a.end_date, 'version', a.version, 'created_at', a.created_at,
      'updated_at', a.updated_at, 'outcome', a.outcome, 'employer', a.employer,
      'meeting_id', a.meeting_id, 'agreed_by', {AGREED_A}, 'seen_by', {SEEN_A},
      'waiting_for', {WAITING_A}) ORDER BY a.created_at, a.id)
    FROM activity a LEFT JOIN goal ag ON ag.id = a.goal_id
    WHERE a.plan_id = p.id AND a.entered_in_error_at IS NULL
      AND (ag.domain IS NULL OR ag.domain <> 'treatment' OR v.goals_ok)
      AND (a.responsible_side <> 'dps' OR v.goals_ok)
  ), '[]'::json),
  'consent', to_json(v.scopes),
  'patient', (SELECT json_build_object('nid', pt.nid, 'name', pt.name)
              FROM patient pt WHERE pt.id = p.patient_id),
  'team', coalesce((
    SELECT json_agg(json_build_object(
      'id', m.id, 'sub', m.sub, 'name', m.name, 'role', m.role, 'org', m.org, 'side', m.side,
      'coordinator', m.sub IS NOT DISTINCT FROM p.coordinator_sub, 'created_at', m.created_at
    ) ORDER BY m.created_at, m.id)
    FROM care_team_member m WHERE m.plan_id = p.id), '[]'::json)
)::text, p.version
FROM p, v
"""


def _fill(sql: str) -> str:
    """The item parts the plan view and the goal answer share (agreements, receipts, whose move)."""
    for name, part in _PARTS.items():
        sql = sql.replace("{" + name + "}", part)
    return sql


PLAN_VIEW_SQL = _fill(PLAN_VIEW_SQL)

# $1 goal, $2 plan, $3 side, $4 org, $5 sub, $6 new title, $7 accepted versions.
GOAL_PATCH_SQL = """
WITH target AS (
  SELECT g.id FROM goal g JOIN plan p ON p.id = g.plan_id
  WHERE g.id = $1 AND g.plan_id = $2 AND p.status IN ('draft', 'active')
    AND ((CASE WHEN $3 = 'dps' THEN p.dps_unit ELSE p.nav_office END) = $4
         OR EXISTS (SELECT 1 FROM care_team_member m
                    WHERE m.plan_id = p.id AND m.side = $3 AND m.sub = $5))
  FOR UPDATE OF g
), cleared AS (  -- a new title is a change of substance: agreements go, as in the service
  DELETE FROM agreement WHERE item_id IN (SELECT id FROM target)
)
UPDATE goal g SET title = $6, version = g.version + 1, updated_at = now()
FROM target
WHERE g.id = target.id AND g.owner_side = $3 AND g.version = ANY($7::int[])
RETURNING json_build_object(
  'id', g.id, 'plan_id', g.plan_id, 'domain', g.domain, 'owner_side', g.owner_side,
  'title', g.title, 'description', g.description, 'status', g.status,
  'target_date', g.target_date, 'proposed_by_side', g.proposed_by_side,
  'version', g.version, 'created_at', g.created_at, 'updated_at', g.updated_at,
  'achievement_status', g.achievement_status,
  'agreed_by', {AGREED_G}, 'seen_by', {SEEN_G},
  'waiting_for', CASE WHEN g.status = 'proposed' THEN to_json(ARRAY[g.owner_side])
                 ELSE {WAITING_G} END,
  'notes', coalesce((
    SELECT json_agg(json_build_object(
      'id', n.id, 'goal_id', n.goal_id, 'author_name', n.author_name,
      'author_role', n.author_role, 'author_side', n.author_side, 'text', n.text,
      'visibility', n.visibility, 'created_at', n.created_at) ORDER BY n.created_at, n.id)
    FROM (SELECT * FROM note n WHERE n.goal_id = g.id AND n.entered_in_error_at IS NULL
            AND (n.visibility = 'shared' OR n.author_side = $3)
          ORDER BY n.created_at DESC, n.id DESC LIMIT 20) n
  ), '[]'::json),
  'notes_total', (SELECT count(*) FROM note n WHERE n.goal_id = g.id
    AND n.entered_in_error_at IS NULL AND (n.visibility = 'shared' OR n.author_side = $3))
  )::text, g.version, g.domain, g.status
"""
GOAL_PATCH_SQL = _fill(GOAL_PATCH_SQL)

CHANGE_SQL = """
INSERT INTO change_event (plan_id, type, resource_type, resource_id, version, actor_sub,
                          actor_name, actor_role, sensitivity, internal_to, data)
VALUES ($1, 'goal.updated', 'goal', $2, $3, $4, $5, $6, $7, NULL,
        json_build_object('domain', $8::text, 'status', $9::text,
                          'changed', json_build_array('title'))::jsonb)
"""

# $1 side, $2 org, $3 sub, $4 limit (DPS side: scope and internal_to; no consent rules).
FEED_SQL = """
SELECT json_build_object('items', coalesce(json_agg(json_build_object(
  'cursor', rtrim(translate(encode(convert_to(e.tx_id || ':' || e.id, 'UTF8'), 'base64'),
                            '+/', '-_'), '='),
  'type', e.type, 'plan_id', e.plan_id, 'resource_type', e.resource_type,
  'resource_id', e.resource_id, 'version', e.version, 'at', e.occurred_at,
  'actor', json_build_object('name', e.actor_name, 'role', e.actor_role), 'data', e.data
) ORDER BY e.tx_id, e.id), '[]'::json),
  'next_cursor', (array_agg(rtrim(translate(encode(convert_to(e.tx_id || ':' || e.id, 'UTF8'),
                  'base64'), '+/', '-_'), '=') ORDER BY e.tx_id DESC, e.id DESC))[1])::text
FROM (
  SELECT * FROM change_event e
  WHERE e.plan_id IN (
      SELECT p.id FROM plan p
      WHERE (CASE WHEN $1 = 'dps' THEN p.dps_unit ELSE p.nav_office END) = $2
         OR EXISTS (SELECT 1 FROM care_team_member m
                    WHERE m.plan_id = p.id AND m.side = $1 AND m.sub = $3))
    AND (e.internal_to IS NULL OR e.internal_to = $1)
    AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
  ORDER BY e.tx_id, e.id LIMIT $4
) e
"""

ADVANCE_SQL = (
    "UPDATE audit_chain_head SET seq = seq + 1 WHERE chain = $1 "
    "RETURNING seq, hash, clock_timestamp()"
)
AUDIT_INSERT_SQL = """
INSERT INTO audit_event (occurred_at, id, chain, seq, prev_hash, hash, actor_sub, actor_name,
  actor_role, actor_org, action, outcome, status, plan_id, resource_type, resource_id,
  request_id, client_ip)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'allowed', $12, $13, $14, $15, $16, $17)
"""


class Denied(Exception):
    def __init__(self, status: int, title: str) -> None:
        self.status, self.title = status, title


def _public_key() -> Any:
    pem = Path(os.environ["BENCH_FLOOR_KEY"]).read_bytes()
    return serialization.load_pem_private_key(pem, password=None).public_key()


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.key = _public_key()
    app.state.pool = await asyncpg.create_pool(
        os.environ["BENCH_FLOOR_DSN"], min_size=2, max_size=10
    )
    try:
        yield
    finally:
        await app.state.pool.close()


def principal(request: Request, side: str) -> dict[str, Any]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise Denied(401, "No bearer token.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, request.app.state.key, algorithms=["ES256"], audience="carework",
            issuer="carework-dev", options={"require": ["exp", "nbf", "sub"]},
        )  # fmt: skip
    except jwt.PyJWTError:
        raise Denied(401, "Invalid token.") from None
    if SIDE_OF_ROLE.get(claims.get("role", "")) != side:
        raise Denied(403, "Wrong role.")
    return claims


async def audit(
    conn: asyncpg.Connection,
    request: Request,
    claims: dict[str, Any],
    action: str,
    status: int,
    plan_id: uuid.UUID | None,
    resource: tuple[str, str] | None,
) -> None:
    """The service's ``chain.append``, statement for statement."""
    request_id = uuid.uuid4().hex
    if plan_id is not None:
        chain = str(plan_id)
    else:
        chain = f"shared-{hashlib.sha256(request_id.encode()).digest()[0] % SHARED_CHAINS}"
    row = await conn.fetchrow(ADVANCE_SQL, chain)
    if row is None:
        await conn.execute(
            "INSERT INTO audit_chain_head (chain, seq, hash) VALUES ($1, 0, $2) "
            "ON CONFLICT DO NOTHING",
            chain,
            genesis(chain),
        )
        row = await conn.fetchrow(ADVANCE_SQL, chain)
    seq, prev, now = row[0], row[1], row[2]
    fields = {
        "occurred_at": now, "id": uuid.uuid4(), "chain": chain, "seq": seq,
        "actor_sub": claims["sub"], "actor_name": claims.get("name"),
        "actor_role": claims["role"], "actor_org": claims.get("org"), "action": action,
        "outcome": "allowed", "status": status, "plan_id": plan_id,
        "resource_type": resource[0] if resource else None,
        "resource_id": resource[1] if resource else None, "request_id": request_id,
        "client_ip": request.client.host if request.client else None,
    }  # fmt: skip
    digest = event_hash(prev, fields)
    await conn.execute(
        AUDIT_INSERT_SQL, now, fields["id"], chain, seq, prev, digest, fields["actor_sub"],
        fields["actor_name"], fields["actor_role"], fields["actor_org"], action, status,
        plan_id, fields["resource_type"], fields["resource_id"], request_id, fields["client_ip"],
    )  # fmt: skip
    await conn.execute("UPDATE audit_chain_head SET hash = $2 WHERE chain = $1", chain, digest)


def problem(exc: Denied) -> Response:
    return JSONResponse(
        {"type": "about:blank", "title": exc.title, "status": exc.status},
        status_code=exc.status,
        media_type="application/problem+json",
    )


async def read_plan(request: Request) -> Response:
    side = request.url.path.split("/")[3]
    try:
        claims = principal(request, side)
        plan_id = uuid.UUID(request.path_params["plan_id"])
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                PLAN_VIEW_SQL, plan_id, side, claims.get("org"), claims["sub"]
            )
            if row is None:
                raise Denied(404, "No such plan.")
            await audit(conn, request, claims, "read_plan", 200, plan_id, ("plan", str(plan_id)))
    except Denied as exc:
        return problem(exc)
    return Response(row[0], media_type="application/json", headers={"ETag": f'"{row[1]}"'})


def _versions(header: str | None) -> list[int]:
    if not header:
        raise Denied(428, "If-Match is required.")
    tags = [t.strip() for t in header.split(",")]
    return [int(t[1:-1]) for t in tags if t[:1] == '"' and t[-1:] == '"' and t[1:-1].isdigit()]


async def patch_goal(request: Request) -> Response:
    side = request.url.path.split("/")[3]
    try:
        claims = principal(request, side)
        plan_id = uuid.UUID(request.path_params["plan_id"])
        goal_id = uuid.UUID(request.path_params["goal_id"])
        versions = _versions(request.headers.get("if-match"))
        body = await request.json()
        title = body.get("title") if isinstance(body, dict) else None
        if not isinstance(title, str) or not 1 <= len(title) <= 200 or set(body) != {"title"}:
            raise Denied(422, "Only a title of 1..200 characters is accepted here.")
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                GOAL_PATCH_SQL, goal_id, plan_id, side, claims.get("org"), claims["sub"],
                title, versions,
            )  # fmt: skip
            if row is None:  # the slow path only on failure: which of 404/403/412
                raise Denied(412, "Stale or missing goal.")
            await conn.execute(
                CHANGE_SQL, plan_id, goal_id, row[1], claims["sub"], claims.get("name", ""),
                claims["role"], "treatment" if row[2] == "treatment" else "general",
                row[2], row[3],
            )  # fmt: skip
            await audit(conn, request, claims, "update_goal", 200, plan_id, ("goal", str(goal_id)))
    except Denied as exc:
        return problem(exc)
    return Response(row[0], media_type="application/json", headers={"ETag": f'"{row[1]}"'})


async def read_feed(request: Request) -> Response:
    side = request.url.path.split("/")[3]
    try:
        claims = principal(request, side)
        limit = min(200, max(1, int(request.query_params.get("limit", "100"))))
        async with request.app.state.pool.acquire() as conn, conn.transaction():
            body = await conn.fetchval(FEED_SQL, side, claims.get("org"), claims["sub"], limit)
            await audit(conn, request, claims, "read_change_feed", 200, None, None)
    except Denied as exc:
        return problem(exc)
    return Response(body, media_type="application/json")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/api/v1/{side:str}/plans/{plan_id:str}", read_plan, methods=["GET"]),
        Route(
            "/api/v1/{side:str}/plans/{plan_id:str}/goals/{goal_id:str}",
            patch_goal,
            methods=["PATCH"],
        ),
        Route("/api/v1/{side:str}/events", read_feed, methods=["GET"]),
    ],
    lifespan=lifespan,
)
