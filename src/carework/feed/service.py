"""Read the outbox back: the integration feed and a plan's history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.scope import params, readable_change_events, scoped
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.errors import NotFound
from carework.models.change_event import ChangeEvent
from carework.models.plan import Plan
from carework.paging import decode_key, encode_key, page


def _after(cursor: str) -> tuple[int, int]:
    tx_id, event_id = decode_key(cursor, int, int)
    return tx_id, event_id


def _key(event: ChangeEvent) -> tuple[int, int]:
    """The order every reader sees: by transaction id, then by event id within it."""
    return event.tx_id, event.id


async def read_feed(
    session: AsyncSession, principal: Principal, *, after: str | None, limit: int
) -> tuple[Sequence[ChangeEvent], str | None]:
    # Transaction ids below the oldest running one have all ended: nothing can appear under them.
    watermark = await session.scalar(
        text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    )
    readable = readable_change_events(principal.role)
    stmt = select(ChangeEvent).where(readable, ChangeEvent.tx_id < int(watermark))
    if after:
        stmt = stmt.where(tuple_(ChangeEvent.tx_id, ChangeEvent.id) > tuple_(*_after(after)))
    stmt = stmt.order_by(ChangeEvent.tx_id, ChangeEvent.id).limit(limit)
    events = (await session.scalars(stmt, params(principal))).all()
    # An empty page keeps the reader's cursor: there is nothing after it yet.
    next_cursor = encode_key(*_key(events[-1])) if events else after
    return events, next_cursor


async def plan_history(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    after: str | None,
    limit: int,
) -> tuple[Sequence[ChangeEvent], str | None]:
    values = params(principal, plan_id=plan_id)
    in_scope = scoped(principal.role).plan(Plan.id, with_consent=False)
    if await session.scalar(in_scope, values) is None:
        raise NotFound("No such plan.")
    touch(plan_id=plan_id)
    readable = readable_change_events(principal.role)
    stmt = select(ChangeEvent).where(ChangeEvent.plan_id == plan_id, readable)
    if after:
        stmt = stmt.where(tuple_(ChangeEvent.tx_id, ChangeEvent.id) > tuple_(*_after(after)))
    stmt = stmt.order_by(ChangeEvent.tx_id, ChangeEvent.id).limit(limit + 1)
    return page((await session.scalars(stmt, values)).all(), limit, _key)
