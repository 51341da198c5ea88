"""Reviews of a plan (evalueringer): record one — an ``Evaluation``, with a finding per goal and
the next review from the cadence —, read them and a goal's achievement history back, and find
the reviews that are overdue."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Row, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.policy import ensure_may_assess
from carework.access.roles import side_of
from carework.access.scope import params, scoped
from carework.access.sensitivity import GENERAL
from carework.access.visibility import View
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.errors import NotFound
from carework.feed import outbox as feed
from carework.models.goal import Goal
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.review import Evaluation, GoalEvaluation
from carework.paging import KeyPart, decode_key, page
from carework.plans import repository as plans
from carework.plans.service import ensure_open, plan_for_reading
from carework.reviews.schemas import (
    AchievementHistory,
    AchievementRead,
    EvaluationCreate,
    EvaluationList,
    EvaluationRead,
    GoalFindingRead,
)
from carework.vocab import OPEN_PLAN_STATUSES, EventType

_OPEN = [s.value for s in OPEN_PLAN_STATUSES]


async def _goals_to_assess(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: EvaluationCreate
) -> dict[uuid.UUID, Goal]:
    """The goals the body assesses, locked (in id order, so two reviews cannot deadlock):
    each must be in use and visible to the caller (404), and owned by the caller's side (403)."""
    ids = sorted({finding.goal_id for finding in body.goals})
    if not ids:
        return {}
    stmt = (
        scoped(principal.role)
        .goals(Goal)
        .where(Goal.id.in_(ids))
        .order_by(Goal.id)
        .with_for_update(of=Goal)
    )
    rows = await session.scalars(stmt, params(principal, plan_id=plan_id))
    found = {goal.id: goal for goal in rows.all()}
    for finding in body.goals:
        goal = found.get(finding.goal_id)
        if goal is None:
            raise NotFound("No such goal.")
        ensure_may_assess(principal, goal.owner_side)
    return found


def _advance_schedule(plan: Plan, held_on: date) -> None:
    """The review was held: the next one is due a cadence later. Without a cadence a due date
    the review has met is cleared (none is scheduled); a later one stands. A review recorded
    late, older than the last one, leaves the schedule where it is."""
    if plan.last_reviewed_on is not None and held_on < plan.last_reviewed_on:
        return
    plan.last_reviewed_on = held_on
    if plan.review_interval_days:
        plan.next_review_date = held_on + timedelta(days=plan.review_interval_days)
    elif plan.next_review_date is not None and plan.next_review_date <= held_on:
        plan.next_review_date = None


async def record_evaluation(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: EvaluationCreate
) -> EvaluationRead:
    # Locked: the review moves the plan's version and schedule, as a PATCH would.
    plan, view = await plans.get_plan(session, principal, plan_id, lock=True)
    ensure_open(plan)
    goals = await _goals_to_assess(session, principal, plan.id, body)

    evaluation = Evaluation(
        id=uuid.uuid4(),
        plan_id=plan.id,
        held_on=body.held_on,
        due_on=plan.next_review_date,
        summary=body.summary,
        recorded_by_sub=principal.sub,
        recorded_by_name=principal.name,
        recorded_by_side=side_of(principal).value,
    )
    session.add(evaluation)
    await session.flush()  # the findings point at it
    touch(plan_id=plan.id, resource=("evaluation", evaluation.id))
    findings = [
        GoalEvaluation(
            evaluation_id=evaluation.id,
            goal_id=f.goal_id,
            achievement=f.achievement.value,
            next_step=f.next_step,
        )
        for f in body.goals
    ]
    session.add_all(findings)
    for finding in body.goals:
        goal = goals[finding.goal_id]
        goal.achievement_status = finding.achievement.value
        goal.version += 1
    _advance_schedule(plan, body.held_on)
    plan.version += 1
    await session.flush()

    for finding in body.goals:
        goal = goals[finding.goal_id]
        await feed.record(
            session, principal, type=EventType.goal_updated, plan_id=plan.id,
            resource=("goal", goal.id), version=goal.version, of=sensitivity.of_goal(goal.domain),
            data={"domain": goal.domain, "status": goal.status, "changed": ["achievement_status"]},
        )  # fmt: skip
    next_review = plan.next_review_date.isoformat() if plan.next_review_date else None
    await feed.record(
        session, principal, type=EventType.plan_reviewed, of=GENERAL, plan_id=plan.id,
        resource=("plan", plan.id), version=plan.version,
        data={"evaluation_id": str(evaluation.id), "held_on": body.held_on.isoformat(),
              "next_review_date": next_review, "status": plan.status},
    )  # fmt: skip
    return _evaluation_read(evaluation, findings, view)


def _evaluation_read(
    evaluation: Evaluation, findings: Sequence[GoalEvaluation], view: View
) -> EvaluationRead:
    summary = evaluation.summary if view.sees_review_summary(evaluation.recorded_by_side) else None
    return EvaluationRead(
        id=evaluation.id,
        plan_id=evaluation.plan_id,
        held_on=evaluation.held_on,
        due_on=evaluation.due_on,
        summary=summary,
        recorded_by=evaluation.recorded_by_name,
        recorded_by_side=evaluation.recorded_by_side,
        created_at=evaluation.created_at,
        goals=[GoalFindingRead.model_validate(f) for f in findings],
    )


async def list_evaluations(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> EvaluationList:
    """The plan's evaluations, newest first, a page at a time, each with the findings on goals
    the caller may see (goals entered in error have left the views, and their findings too)."""
    plan, view = await plan_for_reading(session, principal, plan_id)
    reads, values = scoped(principal.role), params(principal, plan_id=plan.id)
    key = (Evaluation.held_on, Evaluation.created_at, Evaluation.id)
    stmt = reads.evaluations(Evaluation).order_by(*(column.desc() for column in key))
    if cursor is not None:
        stmt = stmt.where(tuple_(*key) < tuple_(*decode_key(cursor, date, datetime, uuid.UUID)))
    evaluations, next_cursor = page(
        (await session.scalars(stmt.limit(limit + 1), values)).all(),
        limit,
        lambda e: (e.held_on, e.created_at, e.id),
    )
    # The findings on the goals the caller sees (goals entered in error have left the views).
    seen_findings = (
        reads.goals(GoalEvaluation)
        .join(GoalEvaluation, GoalEvaluation.goal_id == Goal.id)
        .where(GoalEvaluation.evaluation_id.in_([e.id for e in evaluations]))
        .order_by(GoalEvaluation.created_at, GoalEvaluation.id)
    )
    findings: dict[uuid.UUID, list[GoalEvaluation]] = defaultdict(list)
    for finding in (await session.scalars(seen_findings, values)).all():
        findings[finding.evaluation_id].append(finding)
    items = [_evaluation_read(e, findings[e.id], view) for e in evaluations]
    return EvaluationList(items=items, next_cursor=next_cursor)


async def achievement_history(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> AchievementHistory:
    """What each evaluation found for one goal, oldest first, a page at a time."""
    goal = (await plans.find(session, principal, plan_id, Goal, goal_id)).item
    key = (Evaluation.held_on, GoalEvaluation.created_at, GoalEvaluation.id)
    stmt = (
        select(GoalEvaluation, Evaluation.held_on, Evaluation.recorded_by_name)
        .join(Evaluation, Evaluation.id == GoalEvaluation.evaluation_id)
        .where(GoalEvaluation.goal_id == goal.id)
        .order_by(*key)
        .limit(limit + 1)
    )
    if cursor is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*decode_key(cursor, date, datetime, uuid.UUID)))
    rows, next_cursor = page(
        (await session.execute(stmt)).all(), limit, lambda r: (r[1], r[0].created_at, r[0].id)
    )
    items = [
        AchievementRead(
            evaluation_id=finding.evaluation_id,
            held_on=held_on,
            achievement=finding.achievement,
            next_step=finding.next_step,
            recorded_by=name,
        )
        for finding, held_on, name in rows
    ]
    return AchievementHistory(items=items, next_cursor=next_cursor)


async def overdue_reviews(
    session: AsyncSession, principal: Principal, *, mine: bool, limit: int, cursor: str | None
) -> tuple[Sequence[Row[Plan, str]], str | None]:
    """Open plans in the caller's scope whose next review date has passed, most overdue first,
    a page at a time; ``mine`` keeps those the caller coordinates."""
    stmt = (
        scoped(principal.role)
        .plans(Plan, Patient.name.label("patient_name"))
        .join(Patient, Patient.id == Plan.patient_id)
        .where(Plan.next_review_date < func.current_date(), Plan.status.in_(_OPEN))
        .order_by(Plan.next_review_date, Plan.id)
        .limit(limit + 1)
    )
    if mine:
        stmt = stmt.where(Plan.coordinator_sub == principal.sub)
    if cursor is not None:
        after = decode_key(cursor, date, uuid.UUID)
        stmt = stmt.where(tuple_(Plan.next_review_date, Plan.id) > tuple_(*after))
    rows = (await session.execute(stmt, params(principal))).all()
    return page(rows, limit, _by_due_date)


def _by_due_date(row: Row[Plan, str]) -> tuple[KeyPart, ...]:
    due = row[0].next_review_date
    assert due is not None, "an overdue plan has a review date"
    return due, row[0].id
