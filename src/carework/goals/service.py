"""Goal use cases. The owning side creates and changes a goal; the patient proposes."""

from __future__ import annotations

import functools
import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, String, Text, Uuid, bindparam, cast, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.policy import (
    View,
    anyone_with,
    ensure_may_create_goal,
    ensure_owns,
    may_propose_only,
    owner_of,
    side_of,
    sql_view_for,
    view_for,
)
from carework.agreements import service as agreements
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.concurrency import Versions, ensure_version
from carework.db import direct
from carework.edits import ensure_move, mark_in_error, sent_changes
from carework.errors import NotFound
from carework.feed import outbox as feed
from carework.goals.schemas import GoalCreate, GoalUpdate, PatientGoalProposal
from carework.models.goal import Goal
from carework.models.note import Note
from carework.plans import repository as plans
from carework.plans.service import GoalView, ensure_open, plan_for_reading, plan_for_writing
from carework.plans.view import PlanJson, goal_object
from carework.vocab import EventType, GoalDomain, GoalStatus, Role

#: Terminal states (achieved, not_achieved, cancelled) are final.
GOAL_TRANSITIONS: dict[GoalStatus, frozenset[GoalStatus]] = {
    GoalStatus.proposed: frozenset({GoalStatus.active, GoalStatus.cancelled}),
    GoalStatus.active: frozenset(
        {GoalStatus.achieved, GoalStatus.not_achieved, GoalStatus.on_hold, GoalStatus.cancelled}
    ),
    GoalStatus.on_hold: frozenset({GoalStatus.active, GoalStatus.cancelled}),
    GoalStatus.achieved: frozenset(),
    GoalStatus.not_achieved: frozenset(),
    GoalStatus.cancelled: frozenset(),
}


def ensure_goal_move(current: GoalStatus, new: GoalStatus) -> None:
    ensure_move(GOAL_TRANSITIONS, current, new, "A goal")


async def visible_goal(
    session: AsyncSession,
    view: View,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    lock: bool = False,
    entered_in_error_too: bool = False,
) -> Goal:
    """The goal, if the caller may see it and it was not entered in error (else 404);
    ``entered_in_error_too`` finds a marked one as well (to refuse marking it twice)."""
    stmt = select(Goal).where(Goal.id == goal_id, Goal.plan_id == plan_id)
    if not entered_in_error_too:
        stmt = stmt.where(Goal.entered_in_error_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    goal = (await session.execute(stmt)).scalar_one_or_none()
    if goal is None or not view.sees_goal(goal.domain):
        raise NotFound("No such goal.")
    touch(resource=("goal", goal.id))
    return goal


async def goal_view(session: AsyncSession, view: View, goal: Goal) -> GoalView:
    notes = (
        (
            await session.execute(
                select(Note)
                .where(Note.goal_id == goal.id, Note.entered_in_error_at.is_(None))
                .order_by(Note.created_at, Note.id)
            )
        )
        .scalars()
        .all()
    )
    visible = [n for n in notes if view.sees_note(n.visibility, n.author_side, goal.domain)]
    return GoalView(goal, visible)


async def _add_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    domain: GoalDomain,
    title: str,
    description: str | None,
    target_date: date | None = None,
) -> Goal:
    ensure_may_create_goal(principal, domain)
    proposed = may_propose_only(principal)
    goal = Goal(
        id=uuid.uuid4(),
        plan_id=plan_id,
        domain=domain.value,
        owner_side=owner_of(domain).value,
        title=title,
        description=description,
        target_date=target_date,
        status=(GoalStatus.proposed if proposed else GoalStatus.active).value,
        proposed_by_side=side_of(principal).value if proposed else None,
        created_by_sub=principal.sub,
    )
    session.add(goal)
    touch(plan_id=plan_id, resource=("goal", goal.id))
    await session.flush()
    await feed.record(
        session,
        principal,
        type=EventType.goal_created,
        plan_id=plan_id,
        resource=("goal", goal.id),
        version=goal.version,
        of=sensitivity.of_goal(goal.domain),
        data={"domain": goal.domain, "status": goal.status},
    )
    return goal


async def create_goal(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: GoalCreate
) -> GoalView:
    plan, _ = await plan_for_writing(session, principal, plan_id)
    goal = await _add_goal(
        session, principal, plan.id, body.domain, body.title, body.description, body.target_date
    )
    return GoalView(goal, [])


async def propose_goal(
    session: AsyncSession, principal: Principal, body: PatientGoalProposal
) -> GoalView:
    plan = await plans.own_plan(session, principal)
    plan, _ = await plan_for_writing(session, principal, plan.id)
    goal = await _add_goal(session, principal, plan.id, body.domain, body.title, body.description)
    return GoalView(goal, [])


async def read_goal(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, goal_id: uuid.UUID
) -> GoalView:
    _, view = await plan_for_reading(session, principal, plan_id)
    return await goal_view(session, view, await visible_goal(session, view, plan_id, goal_id))


async def update_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    expected_version: Versions,
    body: GoalUpdate,
) -> PlanJson:
    """Change a goal; the answer is the goal as the caller sees it, built by the same UPDATE
    that stores the change (``GoalRead`` with the notes the caller may see)."""
    locked = await plans.get_plan_consent_and_item(
        session, principal, plan_id, Goal, goal_id, "goal"
    )
    consent, goal = locked.consent, locked.item
    ensure_open(locked.plan)
    view = view_for(principal, consent)
    if goal.entered_in_error_at is not None or not view.sees_goal(goal.domain):
        raise NotFound("No such goal.")
    touch(resource=("goal", goal.id))
    ensure_owns(principal, goal.owner_side, "goal")
    ensure_version(goal.version, expected_version)
    changes = sent_changes(body)
    if "status" in changes:
        ensure_goal_move(GoalStatus(goal.status), GoalStatus(changes["status"]))
        changes["status"] = GoalStatus(changes["status"]).value
    if locked.agreed:  # no agreements, nothing to clear: no round trip
        await agreements.clear_on_substance(session, principal, goal, changes)
    stmt = _update_statement(principal.role, frozenset(changes))
    params = {f"new_{field}": value for field, value in changes.items()}
    params |= {"goal_id": goal.id, "consent_scopes": sorted(s.value for s in consent)}
    params |= feed.event_params(
        principal,
        type=EventType.goal_updated,
        plan_id=plan_id,
        resource=("goal", goal_id),
        of=sensitivity.of_goal(goal.domain),
        data={
            "domain": goal.domain,
            "status": changes.get("status", goal.status),
            "changed": sorted(changes),
        },
    )
    row = await direct.fetchrow(session, stmt, params)
    assert row is not None, "the goal is locked: the UPDATE finds it"
    version, answer = row
    return PlanJson(id=goal_id, version=version, body=answer)


async def mark_entered_in_error(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    expected_version: Versions,
    reason: str,
) -> GoalView:
    """The owning side takes back a goal recorded by mistake: it leaves the views, item reads
    and FHIR, its row and events stay (history, audit). The reason stays out of the feed."""
    _, view = await plan_for_writing(session, principal, plan_id)
    goal = await visible_goal(session, view, plan_id, goal_id, lock=True, entered_in_error_too=True)
    ensure_owns(principal, goal.owner_side, "goal")
    mark_in_error(goal, principal.sub, reason, "goal")  # 409 before 412, as ever
    ensure_version(goal.version, expected_version)
    goal.version += 1
    await session.flush()
    await feed.record(
        session,
        principal,
        type=EventType.goal_entered_in_error,
        plan_id=plan_id,
        resource=("goal", goal.id),
        version=goal.version,
        of=sensitivity.of_goal(goal.domain),
    )
    return await goal_view(session, view, goal)


@functools.cache
def _update_statement(role: Role, fields: frozenset[str]) -> Select[int, str]:
    """``UPDATE goal ... RETURNING`` the goal as the caller sees it, with its change event in
    the same statement; once per role and set of fields. The consent is the one read with the
    plan (``consent_scopes``), the event's parameters are ``feed.event_params``."""
    view = sql_view_for(anyone_with(role), bindparam("consent_scopes", type_=ARRAY(String)))
    table = Goal.__table__
    values: dict[str, Any] = {f: bindparam(f"new_{f}", type_=table.c[f].type) for f in fields}
    changed = (
        update(Goal)
        .where(Goal.id == bindparam("goal_id", type_=Uuid))
        .values(**values, version=Goal.version + 1)
        .returning(Goal.version.label("version"), cast(goal_object(view), Text).label("body"))
        .cte("changed")
    )
    logged = feed.logged_with(changed, changed.c.version).cte("logged")
    return select(changed.c.version, changed.c.body).add_cte(logged)
