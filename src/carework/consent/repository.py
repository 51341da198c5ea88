"""Which consents are active: the one query every NAV read path depends on."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, any_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from carework.consent.models import Consent
from carework.vocab import ConsentScope


def is_active() -> ColumnElement[bool]:
    """Active at this transaction's time, by the database clock every replica shares."""
    return and_(
        Consent.revoked_at.is_(None),
        or_(Consent.valid_until.is_(None), Consent.valid_until > func.now()),
    )


async def active_scopes(session: AsyncSession, plan_id: uuid.UUID) -> frozenset[ConsentScope]:
    rows = await session.scalars(
        select(func.unnest(Consent.scopes)).where(Consent.plan_id == plan_id, is_active())
    )
    return frozenset(ConsentScope(s) for s in rows)


def scope_active(
    plan_id: InstrumentedAttribute[uuid.UUID], scope: ConsentScope
) -> ColumnElement[bool]:
    """SQL: the plan has an active consent covering ``scope`` (for set-based reads)."""
    return (
        select(Consent.id)
        .where(
            Consent.plan_id == plan_id, literal(scope.value) == any_(Consent.scopes), is_active()
        )
        .exists()
    )
