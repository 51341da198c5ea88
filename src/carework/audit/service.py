"""Reading the trail: the patient's access log and the auditor's queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from carework.audit import chain
from carework.auth.principal import Principal
from carework.models.audit import AuditEvent
from carework.pagination import decode_cursor, encode_cursor
from carework.plans import repository as plans


def _page(events: Sequence[AuditEvent], limit: int) -> tuple[Sequence[AuditEvent], str | None]:
    if len(events) <= limit:
        return events, None
    events = events[:limit]
    return events, encode_cursor(events[-1].occurred_at, events[-1].id)


async def access_log(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> tuple[Sequence[AuditEvent], str | None]:
    """Who else read or changed the patient's plan, newest first."""
    plan = await plans.own_plan(session, principal)
    return await plan_access_log(
        session, plan.id, limit=limit, cursor=cursor, except_sub=principal.sub
    )


async def plan_access_log(
    session: AsyncSession,
    plan_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
    except_sub: str | None = None,
) -> tuple[Sequence[AuditEvent], str | None]:
    """Who read or changed a plan, newest first (the caller has been scoped to it already)."""
    stmt = select(AuditEvent).where(
        AuditEvent.plan_id == plan_id,
        AuditEvent.outcome == "allowed",
        AuditEvent.actor_sub.is_distinct_from(except_sub),
    )
    if cursor:
        stmt = stmt.where(
            tuple_(AuditEvent.occurred_at, AuditEvent.id) < tuple_(*decode_cursor(cursor))
        )
    stmt = stmt.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    return _page((await session.scalars(stmt)).all(), limit)


async def search_events(
    session: AsyncSession,
    *,
    plan_id: uuid.UUID | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[AuditEvent], str | None]:
    """Oldest first, so an auditor can page through a window without missing late pages."""
    stmt = select(AuditEvent)
    if plan_id is not None:
        stmt = stmt.where(AuditEvent.plan_id == plan_id)
    if actor is not None:
        stmt = stmt.where(AuditEvent.actor_sub == actor)
    if since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    if cursor:
        stmt = stmt.where(
            tuple_(AuditEvent.occurred_at, AuditEvent.id) > tuple_(*decode_cursor(cursor))
        )
    stmt = stmt.order_by(AuditEvent.occurred_at, AuditEvent.id).limit(limit + 1)
    return _page((await session.scalars(stmt)).all(), limit)


async def verify(session: AsyncSession) -> chain.Verification:
    return await chain.verify(session)
