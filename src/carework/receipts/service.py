"""Read receipts: a person says they have looked at a plan.

That stores, for the caller's side, the version of every goal and activity they could see
(``seen_by`` in the plan view: who has seen which version), and for the person, when they
looked (``changed_since_seen`` in the plan list counts what others changed after that). Seeing
is not a change: no change event, only the audit event every request writes.
"""

from __future__ import annotations

import functools
import uuid

from sqlalchemy import Insert, String, Text, Uuid, bindparam, cast, func, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.roles import side_of
from carework.access.scope import params, scoped
from carework.auth.principal import Principal
from carework.models.activity import Activity
from carework.models.goal import Goal
from carework.models.receipt import ItemSeen, PlanSeen
from carework.plans import repository as plans
from carework.vocab import Role


@functools.cache
def _items_seen(role: Role) -> Insert:
    """Upsert a receipt for every goal and activity of the plan that a caller of ``role``
    sees (``access.scope``, the same rules as the plan view), at its current version."""
    reads = scoped(role)
    goals = reads.goals(Goal.id, literal("goal", String).label("item_type"), Goal.version)
    activities = reads.activities(Activity.id, literal("activity", String), Activity.version)
    items = union_all(goals, activities).subquery()
    rows = select(
        items.c.id,
        bindparam("party", type_=String),
        bindparam("plan_id", type_=Uuid),
        items.c.item_type,
        items.c.version,
        bindparam("sub", type_=String),
    )
    stmt = insert(ItemSeen).from_select(
        ["item_id", "party", "plan_id", "item_type", "version", "seen_by_sub"], rows
    )
    return stmt.on_conflict_do_update(
        index_elements=[ItemSeen.item_id, ItemSeen.party],
        set_={
            "version": stmt.excluded.version,
            "seen_by_sub": stmt.excluded.seen_by_sub,
            "seen_at": func.now(),
        },
    )


def _plan_seen() -> Insert:
    stmt = insert(PlanSeen).values(
        plan_id=bindparam("plan_id", type_=Uuid),
        sub=bindparam("sub", type_=String),
        party=bindparam("party", type_=String),
        seen_snapshot=cast(func.pg_current_snapshot(), Text),
    )
    return stmt.on_conflict_do_update(
        index_elements=[PlanSeen.plan_id, PlanSeen.sub],
        set_={
            "party": stmt.excluded.party,
            "seen_at": func.now(),
            "seen_snapshot": stmt.excluded.seen_snapshot,
        },
    )


_PLAN_SEEN = _plan_seen()


async def mark_seen(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> None:
    """The caller has looked at this plan (in scope, open or not: reading is no change)."""
    plan, _ = await plans.get_plan(session, principal, plan_id)
    values = {"plan_id": plan.id, "party": side_of(principal).value, "sub": principal.sub}
    conn = await session.connection()  # Core upserts, not ORM bulk inserts
    await conn.execute(_PLAN_SEEN, values)
    await conn.execute(_items_seen(principal.role), params(principal, **values))


async def mark_own_plan_seen(session: AsyncSession, principal: Principal) -> None:
    """The patient has looked at their plan."""
    await mark_seen(session, principal, await plans.own_plan_id(session, principal))
