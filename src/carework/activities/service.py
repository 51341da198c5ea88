"""Activity use cases: each side runs its own kinds of activity and changes only its own."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.policy import ensure_may_run_activity, ensure_owns, kind_fits
from carework.activities.schemas import ActivityCreate, ActivityUpdate
from carework.agreements import service as agreements
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.bodies import sent_changes
from carework.config import PlanLimits
from carework.errors import NotFound, RuleViolation
from carework.feed import outbox as feed
from carework.lifecycle import ACTIVITY_TRANSITIONS, ensure_move
from carework.models.activity import Activity
from carework.models.goal import Goal
from carework.models.plan import Plan
from carework.plans import repository as plans
from carework.plans.service import ensure_open, plan_for_writing, take_back
from carework.plans.size import ensure_room
from carework.readmodel import PlanJson, read_activity
from carework.versions import Versions, ensure_version
from carework.vocab import IPS_KINDS, ActivityKind, ActivityStatus, EventType, JobOutcome, Side


def ensure_ips_fields(
    kind: ActivityKind, outcome: str | None, employer: str | None, end: date | None
) -> None:
    """Job-search outcomes and employers are IPS records; follow-along support goes on for
    as long as the person needs it, so it has no end date set in advance."""
    if kind not in IPS_KINDS and (outcome is not None or employer is not None):
        raise RuleViolation("outcome and employer are recorded on IPS activities only.")
    if kind is ActivityKind.ips_follow_along and end is not None:
        raise RuleViolation("IPS follow-along support has no end date.")


async def create_activity(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    body: ActivityCreate,
    limits: PlanLimits,
) -> PlanJson:
    """Add an activity the caller's side runs, if the plan has room for one more open one."""
    plan, _ = await plan_for_writing(session, principal, plan_id)
    side = ensure_may_run_activity(principal, body.kind)
    await ensure_room(session, plan.id, "activity", limits)
    activity = await add_activity(session, principal, plan, side, body)
    return await read_activity(session, principal, plan.id, activity.id)


async def add_activity(
    session: AsyncSession,
    principal: Principal,
    plan: Plan,
    side: Side,
    body: ActivityCreate,
    *,
    meeting_id: uuid.UUID | None = None,
) -> Activity:
    """Store an activity ``side`` runs, in a plan already open for writing and found to have
    room for it (``plans.size.ensure_room``): the caller's own (``create_activity``), or one a
    joint meeting agreed (``meetings.service``)."""
    if not kind_fits(side, body.kind):
        raise RuleViolation(f"Activities of kind {body.kind.value} are not run by {side.upper()}.")
    ensure_ips_fields(body.kind, body.outcome, body.employer, body.end)
    goal_domain = None
    if body.goal_id is not None:
        try:
            goal = await plans.find(session, principal, plan.id, Goal, body.goal_id)
        except NotFound:
            raise RuleViolation("goal_id names no goal of this plan.") from None
        goal_domain = goal.item.domain
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
        outcome=body.outcome.value if body.outcome else None,
        employer=body.employer,
        meeting_id=meeting_id,
        created_by_sub=principal.sub,
    )
    session.add(activity)
    touch(resource=("activity", activity.id))
    await session.flush()
    await _record(session, principal, EventType.activity_created, activity, [], goal_domain)
    return activity


async def update_activity(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    expected_version: Versions,
    body: ActivityUpdate,
) -> PlanJson:
    found = await plans.find(session, principal, plan_id, Activity, activity_id, lock=True)
    ensure_open(found.plan)
    activity = found.item
    ensure_owns(principal, activity.responsible_side, "activity")
    ensure_version(activity.version, expected_version)
    changes = sent_changes(body)
    if "status" in changes:
        ensure_move(
            ACTIVITY_TRANSITIONS,
            ActivityStatus(activity.status),
            ActivityStatus(changes["status"]),
            "An activity",
        )
        changes["status"] = ActivityStatus(changes["status"]).value
    await agreements.clear_on_substance(session, principal, activity, changes, found.goal_domain)
    start = changes.pop("start", activity.start_date)
    end = changes.pop("end", activity.end_date)
    if start and end and end < start:
        raise RuleViolation("end must not be before start.")
    if changes.get("outcome") is not None:
        changes["outcome"] = JobOutcome(changes["outcome"]).value
    ensure_ips_fields(
        ActivityKind(activity.kind), changes.get("outcome"), changes.get("employer"), end
    )
    activity.start_date, activity.end_date = start, end
    for field, value in changes.items():
        setattr(activity, field, value)
    activity.version += 1
    await session.flush()
    await _record(
        session, principal, EventType.activity_updated, activity, sorted(changes),
        found.goal_domain,
    )  # fmt: skip
    return await read_activity(session, principal, plan_id, activity_id)


async def _record(
    session: AsyncSession,
    principal: Principal,
    type: EventType,
    activity: Activity,
    changed: list[str],
    goal_domain: str | None,
) -> None:
    of = sensitivity.of_activity(activity.responsible_side, goal_domain)
    data: dict[str, object] = {"kind": activity.kind, "status": activity.status, "changed": changed}
    if "outcome" in changed or (
        type is EventType.activity_created and activity.outcome is not None
    ):
        data["outcome"] = activity.outcome  # IPS: where the job search got to (or null, cleared)
    if activity.meeting_id is not None and type is EventType.activity_created:
        data["meeting_id"] = str(activity.meeting_id)
    await feed.record(
        session, principal, type=type, plan_id=activity.plan_id,
        resource=("activity", activity.id), version=activity.version, of=of, data=data,
    )  # fmt: skip


async def mark_entered_in_error(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    expected_version: Versions,
    reason: str,
) -> PlanJson:
    """The responsible side takes back an activity recorded by mistake: it leaves the views
    and item reads, its row and events stay (history, audit). The reason stays out of the feed."""
    found = await plans.find(
        session, principal, plan_id, Activity, activity_id, lock=True, in_error_too=True
    )
    activity = found.item
    await take_back(
        session, principal, found, owner_side=activity.responsible_side,
        expected_version=expected_version, reason=reason,
        type=EventType.activity_entered_in_error,
        of=sensitivity.of_activity(activity.responsible_side, found.goal_domain),
    )  # fmt: skip
    return await read_activity(session, principal, plan_id, activity_id, in_error_too=True)
