"""Which consents are in force, as SQL: the rule every NAV read depends on.

Whether a consent is active is decided against the database clock at each request (``now()``
in the request's transaction), so a revocation or an expiry holds from the very next request,
on every replica alike.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    and_,
    any_,
    cast,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import LateralFromClause

from carework.models.consent import Consent
from carework.models.plan import Plan
from carework.vocab import ConsentScope


def is_active() -> ColumnElement[bool]:
    """Not revoked and not expired, by the database clock every replica shares."""
    return and_(
        Consent.revoked_at.is_(None),
        or_(Consent.valid_until.is_(None), Consent.valid_until > func.now()),
    )


def active_scopes_lateral() -> LateralFromClause:
    """The scopes of ``Plan``'s consents active at this request, as a LATERAL subquery with one
    sorted array column ``scopes``: join it to a query on plans and the consent is read in the
    same round trip, once per plan."""
    unnested = func.unnest(Consent.scopes).table_valued("scope").render_derived()
    scope = unnested.c.scope
    empty = cast(literal_column("'{}'"), ARRAY(String))
    return (
        select(
            func.coalesce(func.array_agg(aggregate_order_by(distinct(scope), scope)), empty).label(
                "scopes"
            )
        )
        .select_from(Consent)
        .join(unnested, true())
        .where(Consent.plan_id == Plan.id, is_active())
        .lateral("consent_now")
    )


def active_scopes_of(plan_id: SQLColumnExpression[uuid.UUID]) -> ColumnElement[list[str]]:
    """The same sorted array of active scopes, as a scalar subquery for one plan's id (where
    no ``Plan`` row is in the statement, as in an ``UPDATE`` of one of its items)."""
    unnested = func.unnest(Consent.scopes).table_valued("scope").render_derived()
    scope = unnested.c.scope
    found = (
        select(func.array_agg(aggregate_order_by(distinct(scope), scope)))
        .select_from(Consent)
        .join(unnested, true())
        .where(Consent.plan_id == plan_id, is_active())
        .scalar_subquery()
    )
    return func.coalesce(found, cast(literal_column("'{}'"), ARRAY(String)))


def scope_active(
    plan_id: InstrumentedAttribute[uuid.UUID], scope: ConsentScope
) -> ColumnElement[bool]:
    """The plan has an active consent covering ``scope`` (for set-based reads)."""
    return (
        select(Consent.id)
        .where(
            Consent.plan_id == plan_id, literal(scope.value) == any_(Consent.scopes), is_active()
        )
        .exists()
    )
