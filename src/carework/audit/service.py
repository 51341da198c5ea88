"""Reading the trail: the patient's access log, a plan's access log for its clinic, and the
auditor's queries — each through ``access.scope.readable_audit_events`` for the caller."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.policy import ensure_may_read_access_log
from carework.access.roles import ensure_role
from carework.access.scope import params, readable_audit_events, scoped
from carework.audit.record import touch
from carework.audit.verification import Run, Verifier
from carework.auth.principal import Principal
from carework.errors import NotFound
from carework.models.audit import AuditEvent
from carework.models.plan import Plan
from carework.paging import decode_key, page
from carework.vocab import Role


def _page(events: Sequence[AuditEvent], limit: int) -> tuple[Sequence[AuditEvent], str | None]:
    return page(events, limit, lambda event: (event.occurred_at, event.id))


def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
    at, event_id = decode_key(cursor, datetime, uuid.UUID)
    return at, event_id


async def access_log(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[Sequence[AuditEvent], str | None]:
    """Who else read or changed the patient's own plan (the open one, else the latest),
    newest first."""
    own = scoped(principal.role).own_plan(Plan.id, with_consent=False)
    plan_id = await _in_scope(session, own, params(principal), "You have no plan yet.")
    return await _plan_log(session, principal, plan_id, limit, cursor)


async def plan_access_log(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[AuditEvent], str | None]:
    """Who read or changed a plan, newest first: the DPS side's record of its plans."""
    ensure_may_read_access_log(principal)
    one = scoped(principal.role).plan(Plan.id, with_consent=False)
    await _in_scope(session, one, params(principal, plan_id=plan_id), "No such plan.")
    return await _plan_log(session, principal, plan_id, limit, cursor)


async def _in_scope(
    session: AsyncSession, stmt: Select[Any], values: dict[str, Any], missing: str
) -> uuid.UUID:
    """The plan a scoped statement finds, named in the trail of this request; else 404."""
    plan_id: uuid.UUID | None = await session.scalar(stmt, values)
    if plan_id is None:
        raise NotFound(missing)
    touch(plan_id=plan_id)
    return plan_id


async def _plan_log(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[AuditEvent], str | None]:
    stmt = select(AuditEvent).where(
        readable_audit_events(principal.role), AuditEvent.plan_id == plan_id
    )
    if cursor:
        stmt = stmt.where(tuple_(AuditEvent.occurred_at, AuditEvent.id) < tuple_(*_after(cursor)))
    stmt = stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    return _page((await session.scalars(stmt, params(principal))).all(), limit)


async def search_events(
    session: AsyncSession,
    principal: Principal,
    *,
    plan_id: uuid.UUID | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[AuditEvent], str | None]:
    """Oldest first, so an auditor can page through a window without missing late pages."""
    stmt = select(AuditEvent).where(readable_audit_events(principal.role))
    if plan_id is not None:
        stmt = stmt.where(AuditEvent.plan_id == plan_id)
    if actor is not None:
        stmt = stmt.where(AuditEvent.actor_sub == actor)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    if cursor:
        stmt = stmt.where(tuple_(AuditEvent.occurred_at, AuditEvent.id) > tuple_(*_after(cursor)))
    stmt = stmt.order_by(AuditEvent.occurred_at, AuditEvent.id).limit(limit + 1)
    return _page((await session.scalars(stmt, params(principal))).all(), limit)


#: How long ``verify`` waits for the run it started: a small trail gets a fresh answer.
VERIFY_WAIT = 2.0


async def verify(principal: Principal, runs: Verifier) -> tuple[Run, Run | None]:
    """Start a verification run (or join the one going), wait up to ``VERIFY_WAIT`` for it;
    return it and the newest finished run (itself if it finished in time), if any.

    The auditor's check; the CLI runs ``chain.verify`` itself, in the foreground."""
    ensure_role(principal, Role.auditor)
    run = await runs.start()
    run = await runs.wait(run.id, VERIFY_WAIT) or run
    return run, run if run.state == "done" else await runs.latest_done()


async def start_verification(principal: Principal, runs: Verifier) -> Run:
    ensure_role(principal, Role.auditor)
    return await runs.start()


async def read_verification(principal: Principal, runs: Verifier, run_id: uuid.UUID) -> Run:
    ensure_role(principal, Role.auditor)
    run = await runs.get(run_id)
    if run is None:
        raise NotFound("No such verification run.")
    return run
