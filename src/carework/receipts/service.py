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
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from carework.access.policy import anyone_with, side_of, sql_view_for
from carework.auth.principal import Principal
from carework.models.activity import Activity
from carework.models.goal import Goal
from carework.models.receipt import ItemSeen, PlanSeen
from carework.plans import repository as plans
from carework.plans.view import in_use
from carework.vocab import Role

_PLAN = bindparam("plan_id", type_=Uuid)


@functools.cache
def _items_seen(role: Role) -> Insert:
    """Upsert a receipt for every goal and activity of the plan that a caller of ``role``
    sees (``SqlView``, the same rules as the plan view), at its current version."""
    view = sql_view_for(anyone_with(role), bindparam("consent_scopes", type_=ARRAY(String)))
    goal = aliased(Goal)
    goals = select(Goal.id, literal("goal", String).label("item_type"), Goal.version).where(
        Goal.plan_id == _PLAN, in_use(Goal), view.sees_goal(Goal.domain)
    )
    activities = (
        select(Activity.id, literal("activity", String), Activity.version)
        .outerjoin(goal, goal.id == Activity.goal_id)
        .where(
            Activity.plan_id == _PLAN,
            in_use(Activity),
            view.sees_activity(Activity.responsible_side, goal.domain),
        )
    )
    items = union_all(goals, activities).subquery()
    rows = select(
        items.c.id,
        bindparam("party", type_=String),
        _PLAN,
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
        plan_id=_PLAN,
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
    plan, consent = await plans.get_plan_and_consent(session, principal, plan_id)
    params = {
        "plan_id": plan.id,
        "party": side_of(principal).value,
        "sub": principal.sub,
        "consent_scopes": sorted(s.value for s in consent),
    }
    conn = await session.connection()
    await conn.execute(_PLAN_SEEN, params)
    await conn.execute(_items_seen(principal.role), params)


async def mark_own_plan_seen(session: AsyncSession, principal: Principal) -> None:
    """The patient has looked at their plan."""
    plan = await plans.own_plan(session, principal)
    await mark_seen(session, principal, plan.id)
