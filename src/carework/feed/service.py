"""Read the outbox back: the integration feed and a plan's history."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence

from sqlalchemy import select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.scope import params, readable_change_events, scoped
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.errors import NotFound, RuleViolation
from carework.models.change_event import ChangeEvent
from carework.models.plan import Plan


def encode_cursor(tx_id: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{tx_id}:{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tx_id, event_id = (int(part) for part in raw.split(":"))
        if not (0 <= tx_id < 2**63 and 0 <= event_id < 2**63):  # bigint columns
            raise ValueError(raw)
        return tx_id, event_id
    except (ValueError, UnicodeDecodeError):
        raise RuleViolation("The cursor is not one this feed issued.") from None


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
        stmt = stmt.where(tuple_(ChangeEvent.tx_id, ChangeEvent.id) > tuple_(*decode_cursor(after)))
    stmt = stmt.order_by(ChangeEvent.tx_id, ChangeEvent.id).limit(limit)
    events = (await session.scalars(stmt, params(principal))).all()
    next_cursor = encode_cursor(events[-1].tx_id, events[-1].id) if events else after
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
        stmt = stmt.where(tuple_(ChangeEvent.tx_id, ChangeEvent.id) > tuple_(*decode_cursor(after)))
    stmt = stmt.order_by(ChangeEvent.tx_id, ChangeEvent.id).limit(limit + 1)
    events = (await session.scalars(stmt, values)).all()
    if len(events) <= limit:
        return events, None
    events = events[:limit]
    return events, encode_cursor(events[-1].tx_id, events[-1].id)
