"""A plan's size is bounded: at most so many open goals and open activities
(``config.PlanLimits``, ``CAREWORK_MAX_OPEN_GOALS`` and ``CAREWORK_MAX_OPEN_ACTIVITIES``).

Open means in use (not entered in error) and not in a final status (``lifecycle``): finished
items stay in the plan without counting, and no status move reopens one, so only adding an item
can reach the limit. Every way of adding one asks ``ensure_room`` first.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any, Literal

from sqlalchemy import Select, Uuid, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.visibility import in_use
from carework.config import PlanLimits
from carework.errors import RuleViolation
from carework.lifecycle import FINAL_ACTIVITY_STATUSES, FINAL_GOAL_STATUSES
from carework.models.activity import Activity
from carework.models.goal import Goal
from carework.models.plan import Plan

Kind = Literal["goal", "activity"]


class PlanFull(RuleViolation):
    """The plan holds as many open goals (or activities) as it may: 422, nothing changed."""

    slug = "plan-full"


_PLAN_ID = bindparam("plan_id", type_=Uuid)


@functools.cache
def _lock() -> Select[Any]:
    # FOR NO KEY UPDATE: two additions to one plan queue here, while the plan's other writers
    # that only reference it (a note's foreign key takes FOR KEY SHARE) pass by.
    return select(Plan.id).where(Plan.id == _PLAN_ID).with_for_update(key_share=True)


@functools.cache
def _open_count(kind: Kind) -> Select[Any]:
    model: type[Goal] | type[Activity] = Goal if kind == "goal" else Activity
    final = FINAL_GOAL_STATUSES if kind == "goal" else FINAL_ACTIVITY_STATUSES
    return (
        select(func.count())
        .select_from(model)
        .where(
            model.plan_id == _PLAN_ID,
            in_use(model),
            model.status.not_in(sorted(status.value for status in final)),
        )
    )


async def ensure_room(
    session: AsyncSession,
    plan_id: uuid.UUID,
    kind: Kind,
    limits: PlanLimits,
    *,
    adding: int = 1,
) -> None:
    """Refuse (``PlanFull``) unless the plan — already found in the caller's scope — has room
    for ``adding`` more open items of ``kind``; on success the plan stays locked against other
    additions until the transaction ends, so two concurrent additions cannot both take the
    last place.

    Two statements, on purpose: the count runs after the lock is granted, so under READ
    COMMITTED it sees what a concurrent addition that held the lock committed. Counted in one
    statement with the lock, it would see the snapshot taken before waiting, and both would
    pass."""
    limit = limits.open_goals if kind == "goal" else limits.open_activities
    values = {"plan_id": plan_id}
    await session.execute(_lock(), values)
    count = await session.scalar(_open_count(kind), values) or 0
    if count + adding > limit:
        what = "goals" if kind == "goal" else "activities"
        raise PlanFull(
            f"A plan holds at most {limit} open {what}. Finish, cancel or take back one before "
            "adding another.",
            limit=limit,
        )
