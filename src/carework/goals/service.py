"""Goal use cases. The owning side creates and changes a goal; the patient proposes.

Each answers with the goal as the caller sees it, from the read model.
"""

from __future__ import annotations

import functools
import uuid
from datetime import date
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    Text,
    Update,
    Uuid,
    any_,
    bindparam,
    cast,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.consent import active_scopes_of
from carework.access.policy import (
    ensure_may_create_goal,
    ensure_owns,
    may_propose_only,
    owner_of,
)
from carework.access.roles import SIDE_OF_ROLE, side_of
from carework.access.scope import params, scoped
from carework.access.visibility import SqlView, in_use
from carework.agreements import service as agreements
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.bodies import sent_changes
from carework.config import PlanLimits
from carework.db import direct
from carework.errors import RuleViolation
from carework.feed import outbox as feed
from carework.goals.schemas import GoalCreate, GoalUpdate, PatientGoalProposal
from carework.lifecycle import GOAL_TRANSITIONS, ensure_move
from carework.models.agreement import Agreement
from carework.models.goal import Goal
from carework.models.plan import Plan
from carework.plans import repository as plans
from carework.plans.service import ensure_open, plan_for_writing, take_back
from carework.plans.size import ensure_room
from carework.readmodel import PlanJson, goal_object, read_goal
from carework.versions import Versions, ensure_version
from carework.vocab import OPEN_PLAN_STATUSES, EventType, GoalDomain, GoalStatus, Role


async def _add_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    domain: GoalDomain,
    title: str,
    description: str | None,
    limits: PlanLimits,
    target_date: date | None = None,
) -> PlanJson:
    ensure_may_create_goal(principal, domain)
    await ensure_room(session, plan_id, "goal", limits)
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
        session, principal, type=EventType.goal_created, plan_id=plan_id,
        resource=("goal", goal.id), of=sensitivity.of_goal(goal.domain), version=goal.version,
        data={"domain": goal.domain, "status": goal.status},
    )  # fmt: skip
    return await read_goal(session, principal, plan_id, goal.id)


async def create_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    body: GoalCreate,
    limits: PlanLimits,
) -> PlanJson:
    """Add a goal the caller's side owns, if the plan has room for one more open goal."""
    plan, _ = await plan_for_writing(session, principal, plan_id)
    return await _add_goal(
        session, principal, plan.id, body.domain, body.title, body.description, limits,
        body.target_date,
    )  # fmt: skip


async def propose_goal(
    session: AsyncSession, principal: Principal, body: PatientGoalProposal, limits: PlanLimits
) -> PlanJson:
    """The patient proposes a goal in their own (open) plan; a proposal is an open goal."""
    plan_id = await plans.own_plan_id(session, principal)
    plan, _ = await plan_for_writing(session, principal, plan_id)
    return await _add_goal(
        session, principal, plan.id, body.domain, body.title, body.description, limits
    )


async def update_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    expected_version: Versions,
    body: GoalUpdate,
) -> PlanJson:
    """Change a goal; the answer is the goal as the caller sees it, built by the same UPDATE
    that stores the change (``GoalRead`` with the notes the caller may see).

    Most changes pass every rule: they are made in one statement whose WHERE holds the rules
    (``_changed_at_once``). Where it changes nothing, the goal is read and locked, and the
    rules are asked one by one, in their order, to refuse it with the right answer — or to
    make a change that must also clear agreements."""
    try:
        changes = sent_changes(body)
    except RuleViolation:
        changes = None  # refused below, after the rules that come first
    if changes is not None:
        done = await _change_at_once(
            session, principal, plan_id, goal_id, expected_version, changes
        )
        if done is not None:
            return done
    locked = await plans.lock_item(session, principal, plan_id, Goal, goal_id)
    goal = locked.item
    ensure_open(locked.plan)
    ensure_owns(principal, goal.owner_side, "goal")
    ensure_version(goal.version, expected_version)
    changes = sent_changes(body)
    if "status" in changes:
        ensure_move(
            GOAL_TRANSITIONS, GoalStatus(goal.status), GoalStatus(changes["status"]), "A goal"
        )
        changes["status"] = GoalStatus(changes["status"]).value
    if locked.agreed:  # no agreements, nothing to clear: no round trip
        await agreements.clear_on_substance(session, principal, goal, changes, goal.domain)
    stmt = _update_statement(principal.role, frozenset(changes))
    values = {f"new_{field}": value for field, value in changes.items()}
    values |= {"goal_id": goal.id, "consent_scopes": sorted(s.value for s in locked.view.consent)}
    values |= feed.event_params(
        principal, type=EventType.goal_updated, plan_id=plan_id, resource=("goal", goal_id),
        of=sensitivity.of_goal(goal.domain),
        data={"domain": goal.domain, "status": changes.get("status", goal.status),
              "changed": sorted(changes)},
    )  # fmt: skip
    row = await direct.fetchrow_through_sqlalchemy(session, stmt, values)
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
) -> PlanJson:
    """The owning side takes back a goal recorded by mistake: it leaves the views, item reads
    and FHIR, its row and events stay (history, audit). The reason stays out of the feed."""
    found = await plans.find(
        session, principal, plan_id, Goal, goal_id, lock=True, in_error_too=True
    )
    await take_back(
        session, principal, found, owner_side=found.item.owner_side,
        expected_version=expected_version, reason=reason, type=EventType.goal_entered_in_error,
        of=sensitivity.of_goal(found.item.domain),
    )  # fmt: skip
    return await read_goal(session, principal, plan_id, goal_id, in_error_too=True)


async def _change_at_once(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    expected_version: Versions,
    changes: dict[str, Any],
) -> PlanJson | None:
    status = GoalStatus(changes["status"]) if changes.get("status") is not None else None
    sent = {field: value.value if field == "status" else value for field, value in changes.items()}
    values = {f"new_{field}": value for field, value in sent.items()}
    values |= params(principal, plan_id=plan_id, goal_id=goal_id)
    values["expected"] = sorted(expected_version)
    if status is not None:  # the states it may be reached from (staying put is no move)
        values["from_statuses"] = [
            s.value for s in GoalStatus if s is status or status in GOAL_TRANSITIONS[s]
        ]
    stmt = _changed_at_once(principal.role, frozenset(sent))
    row = await direct.fetchrow_through_sqlalchemy(session, stmt, values)
    if row is None:
        return None
    version, domain, now, answer = row
    touch(plan_id=plan_id, resource=("goal", goal_id))
    await feed.record(
        session, principal, type=EventType.goal_updated, plan_id=plan_id,
        resource=("goal", goal_id), of=sensitivity.of_goal(domain), version=version,
        data={"domain": domain, "status": now, "changed": sorted(sent)},
    )  # fmt: skip
    return PlanJson(id=goal_id, version=version, body=answer)


@functools.cache
def _changed_at_once(role: Role, fields: frozenset[str]) -> Update:
    """``UPDATE goal ... RETURNING`` the goal as the caller sees it, where every rule of a
    change holds as the row stands: in scope and seen by the caller (``access.scope``), in use,
    in an open plan, owned by the caller's side, at a version If-Match names, an allowed status
    move, and nobody has agreed to it (a change of substance would clear that). The version is
    checked on the row being updated, so two changes at one version cannot both pass: the
    second waits for the first, then finds the version moved."""
    side = SIDE_OF_ROLE[role]
    reads = scoped(role)
    # Equalities, not IN: a constant IN list needs its own rendering step UPDATEs cannot take.
    open_plan = or_(*(Plan.status == s.value for s in OPEN_PLAN_STATUSES))
    in_scope = reads.plan(Plan.id).where(open_plan, reads.view.sees_goal(Goal.domain))
    rules = [
        Goal.id == bindparam("goal_id", type_=Uuid),
        Goal.plan_id.in_(in_scope),
        in_use(Goal),
        Goal.owner_side == side.value,
        Goal.version == any_(bindparam("expected", type_=ARRAY(Integer))),
        ~select(Agreement.id).where(Agreement.item_id == Goal.id).exists(),
    ]
    if "status" in fields:
        rules.append(Goal.status == any_(bindparam("from_statuses", type_=ARRAY(String))))
    view = SqlView(side, active_scopes_of(Goal.plan_id))
    table = Goal.__table__
    values: dict[str, Any] = {f: bindparam(f"new_{f}", type_=table.c[f].type) for f in fields}
    return (
        update(Goal)
        .where(*rules)
        .values(**values, version=Goal.version + 1)
        .returning(Goal.version, Goal.domain, Goal.status, cast(goal_object(view), Text))
    )


@functools.cache
def _update_statement(role: Role, fields: frozenset[str]) -> Select[int, str]:
    """``UPDATE goal ... RETURNING`` the goal as the caller sees it, with its change event in
    the same statement; once per role and set of fields. The goal was found in scope and
    locked just before (``plans.lock_item``), with the consent read then
    (``consent_scopes``); the event's parameters are ``feed.event_params``."""
    view = SqlView(SIDE_OF_ROLE[role], bindparam("consent_scopes", type_=ARRAY(String)))
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
