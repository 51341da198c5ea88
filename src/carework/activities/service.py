"""Activity use cases: each side runs its own kinds of activity and changes only its own."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.policy import (
    View,
    activity_sensitivity,
    ensure_may_run_activity,
    ensure_owns,
)
from carework.activities.models import Activity
from carework.activities.schemas import ActivityCreate, ActivityUpdate
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.concurrency import Versions, ensure_version
from carework.edits import ensure_move, sent_changes
from carework.errors import NotFound, RuleViolation
from carework.feed import outbox as feed
from carework.goals.models import Goal
from carework.plans.service import plan_for_reading, plan_for_writing
from carework.vocab import ActivityStatus

ACTIVITY_TRANSITIONS: dict[ActivityStatus, frozenset[ActivityStatus]] = {
    ActivityStatus.planned: frozenset(
        {ActivityStatus.in_progress, ActivityStatus.done, ActivityStatus.cancelled}
    ),
    ActivityStatus.in_progress: frozenset({ActivityStatus.done, ActivityStatus.cancelled}),
    ActivityStatus.done: frozenset(),
    ActivityStatus.cancelled: frozenset(),
}


def ensure_activity_move(current: ActivityStatus, new: ActivityStatus) -> None:
    ensure_move(ACTIVITY_TRANSITIONS, current, new, "An activity")


async def _goal_domain(session: AsyncSession, goal_id: uuid.UUID | None) -> str | None:
    if goal_id is None:
        return None
    return await session.scalar(select(Goal.domain).where(Goal.id == goal_id))


async def visible_activity(
    session: AsyncSession,
    view: View,
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Activity:
    stmt = select(Activity).where(Activity.id == activity_id, Activity.plan_id == plan_id)
    if lock:
        stmt = stmt.with_for_update()
    activity = (await session.execute(stmt)).scalar_one_or_none()
    if activity is None or not view.sees_activity(
        activity.responsible_side, await _goal_domain(session, activity.goal_id)
    ):
        raise NotFound("No such activity.")
    touch(resource=("activity", activity.id))
    return activity


async def create_activity(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: ActivityCreate
) -> Activity:
    plan, view = await plan_for_writing(session, principal, plan_id)
    side = ensure_may_run_activity(principal, body.kind)
    if body.goal_id is not None:
        goal = await session.scalar(
            select(Goal).where(Goal.id == body.goal_id, Goal.plan_id == plan.id)
        )
        if goal is None or not view.sees_goal(goal.domain):
            raise RuleViolation("goal_id names no goal of this plan.")
    activity = Activity(
        id=uuid.uuid4(),
        plan_id=plan.id,
        goal_id=body.goal_id,
        kind=body.kind.value,
        title=body.title,
        description=body.description,
        responsible_side=side.value,
        responsible_person=body.responsible_person,
        status=body.status.value,
        start_date=body.start,
        end_date=body.end,
        created_by_sub=principal.sub,
    )
    session.add(activity)
    touch(resource=("activity", activity.id))
    await session.flush()
    await _record(session, principal, "activity.created", activity, [])
    return activity


async def read_activity(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, activity_id: uuid.UUID
) -> Activity:
    _, view = await plan_for_reading(session, principal, plan_id)
    return await visible_activity(session, view, plan_id, activity_id)


async def update_activity(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    expected_version: Versions,
    body: ActivityUpdate,
) -> Activity:
    _, view = await plan_for_writing(session, principal, plan_id)
    activity = await visible_activity(session, view, plan_id, activity_id, lock=True)
    ensure_owns(principal, activity.responsible_side, "activity")
    ensure_version(activity.version, expected_version)
    changes = sent_changes(body)
    if "status" in changes:
        ensure_activity_move(ActivityStatus(activity.status), ActivityStatus(changes["status"]))
        changes["status"] = ActivityStatus(changes["status"]).value
    start = changes.pop("start", activity.start_date)
    end = changes.pop("end", activity.end_date)
    if start and end and end < start:
        raise RuleViolation("end must not be before start.")
    activity.start_date, activity.end_date = start, end
    for field, value in changes.items():
        setattr(activity, field, value)
    activity.version += 1
    await session.flush()
    await _record(session, principal, "activity.updated", activity, sorted(changes))
    return activity


async def _record(
    session: AsyncSession, principal: Principal, type: str, activity: Activity, changed: list[str]
) -> None:
    sensitivity = activity_sensitivity(
        activity.responsible_side, await _goal_domain(session, activity.goal_id)
    )
    await feed.record(
        session, principal, type=type, plan_id=activity.plan_id,
        resource=("activity", activity.id), version=activity.version, sensitivity=sensitivity,
        data={"kind": activity.kind, "status": activity.status, "changed": changed},
    )  # fmt: skip
