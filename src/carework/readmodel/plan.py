"""The caller's view of a plan, or of one goal or activity of it, as JSON built by PostgreSQL
in one statement.

Reading a plan is the call carework serves most (every EHR screen, every advisor's page, every
integration poll). Through the ORM it took seven round trips and three passes of hydration and
validation per item; here the scope and the consent active at this request come from
``access.scope`` and what each side may see from ``access.visibility``, applied in one query
that returns the answer as the JSON text the client gets. The API sends that text as is; the
pages and FHIR validate it into the same schemas (``validated``), so every surface shows the
same plan.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Text,
    cast,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from carework.access.scope import Scoped, params, scoped
from carework.access.visibility import SqlView, in_use
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.db import direct
from carework.errors import NotFound
from carework.models.activity import Activity
from carework.models.goal import Goal
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.team import CareTeamMember
from carework.readmodel.items import activity_object, goal_object
from carework.readmodel.json import EMPTY_LIST, columns, json_list, json_object, list_schema
from carework.readmodel.schemas import (
    DpsPlanRead,
    NavPlanRead,
    PatientPlanRead,
    PatientRef,
    PlanRead,
)
from carework.vocab import ActivityKind, Role

#: Each audience's view of a plan.
SCHEMA_OF_ROLE: dict[Role, type[PlanRead]] = {
    Role.clinician: DpsPlanRead,
    Role.nav_advisor: NavPlanRead,
    Role.patient: PatientPlanRead,
}


@dataclass(frozen=True, slots=True)
class PlanJson:
    """A plan view (or one item of it), ready to send."""

    id: uuid.UUID
    version: int
    body: str


def _goals(view: SqlView) -> ColumnElement[Any]:
    return (
        select(json_list(goal_object(view), Goal.created_at, Goal.id))
        .where(Goal.plan_id == Plan.id, in_use(Goal), view.sees_goal(Goal.domain))
        .correlate_except(Goal)
        .scalar_subquery()
    )


def _activities(view: SqlView) -> ColumnElement[Any]:
    goal = aliased(Goal)
    return (
        select(json_list(activity_object(), Activity.created_at, Activity.id))
        .select_from(Activity)
        .outerjoin(goal, goal.id == Activity.goal_id)
        .where(
            Activity.plan_id == Plan.id,
            in_use(Activity),
            view.sees_activity(Activity.responsible_side, goal.domain),
        )
        .correlate_except(Activity, goal)
        .scalar_subquery()
    )


def _team(schema: type[BaseModel]) -> ColumnElement[Any]:
    coordinator = CareTeamMember.sub.is_not_distinct_from(Plan.coordinator_sub)
    member = json_object(schema, columns(CareTeamMember) | {"coordinator": coordinator})
    return (
        select(json_list(member, CareTeamMember.created_at, CareTeamMember.id))
        .where(CareTeamMember.plan_id == Plan.id)
        .correlate_except(CareTeamMember)
        .scalar_subquery()
    )


def _first_employer_contact() -> ColumnElement[Any]:
    """IPS: the day of the first contact with an employer the activities record."""
    contact = or_(
        Activity.kind == ActivityKind.ips_employer_contact.value, Activity.outcome.is_not(None)
    )
    return (
        select(func.min(func.coalesce(Activity.start_date, cast(Activity.created_at, Date))))
        .where(Activity.plan_id == Plan.id, in_use(Activity), contact)
        .correlate_except(Activity)
        .scalar_subquery()
    )


def _patient() -> ColumnElement[Any]:
    return (
        select(json_object(PatientRef, columns(Patient)))
        .where(Patient.id == Plan.patient_id)
        .correlate_except(Patient)
        .scalar_subquery()
    )


def _plan_body(reads: Scoped, schema: type[BaseModel]) -> ColumnElement[str]:
    """``Plan`` (in ``reads``'s scope, with its consent) as ``schema``."""
    view = reads.view
    parts: dict[str, ColumnElement[Any]] = columns(Plan) | {
        "goals": func.coalesce(_goals(view), EMPTY_LIST),
        "activities": func.coalesce(_activities(view), EMPTY_LIST),
        "team": func.coalesce(_team(list_schema(schema, "team")), EMPTY_LIST),
        "consent": func.to_json(reads.scopes),
        # The database's date, like every other date rule: one "today" on every replica.
        "review_overdue": func.coalesce(Plan.next_review_date < func.current_date(), false()),
        "first_employer_contact": _first_employer_contact(),
    }
    if "patient" in schema.model_fields:
        parts["patient"] = _patient()
    return cast(json_object(schema, parts), Text)


@functools.cache
def _plan(role: Role) -> Select[Any]:
    reads = scoped(role)
    return reads.plan(Plan.id, Plan.version, _plan_body(reads, SCHEMA_OF_ROLE[role]))


@functools.cache
def _own_plan(role: Role) -> Select[Any]:
    reads = scoped(role)
    return reads.own_plan(Plan.id, Plan.version, _plan_body(reads, SCHEMA_OF_ROLE[role]))


@functools.cache
def _goal(role: Role, in_error_too: bool) -> Select[Any]:
    reads = scoped(role)
    body = cast(goal_object(reads.view), Text)
    return reads.goal(Goal.id, Goal.version, body, in_error_too=in_error_too)


@functools.cache
def _activity(role: Role, in_error_too: bool) -> Select[Any]:
    reads = scoped(role)
    body = cast(activity_object(), Text)
    return reads.activity(Activity.id, Activity.version, body, in_error_too=in_error_too)


async def _one(
    session: AsyncSession, stmt: Select[Any], values: dict[str, Any], missing: str
) -> PlanJson:
    # Straight to the driver: the statement is built and compiled once, no ORM state involved.
    row = await direct.fetchrow(session, stmt, values)
    if row is None:
        raise NotFound(missing)
    return PlanJson(id=row[0], version=row[1], body=row[2])


async def read_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> PlanJson:
    """The caller's view of a plan in their scope (404 otherwise)."""
    values = params(principal, plan_id=plan_id)
    found = await _one(session, _plan(principal.role), values, "No such plan.")
    touch(plan_id=found.id)
    return found


async def read_own_plan(session: AsyncSession, principal: Principal) -> PlanJson:
    """The patient's open plan, or else their most recent one."""
    found = await _one(
        session, _own_plan(principal.role), params(principal), "You have no plan yet."
    )
    touch(plan_id=found.id)
    return found


async def read_goal(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    in_error_too: bool = False,
) -> PlanJson:
    """One goal, with the notes the caller may see, if the caller sees it in a plan in their
    scope (404 otherwise); ``in_error_too`` for the answer to marking it entered in error."""
    stmt = _goal(principal.role, in_error_too)
    values = params(principal, plan_id=plan_id, goal_id=goal_id)
    found = await _one(session, stmt, values, "No such goal.")
    touch(plan_id=plan_id, resource=("goal", goal_id))
    return found


async def read_activity(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    *,
    in_error_too: bool = False,
) -> PlanJson:
    """One activity, if the caller sees it in a plan in their scope (404 otherwise)."""
    stmt = _activity(principal.role, in_error_too)
    values = params(principal, plan_id=plan_id, activity_id=activity_id)
    found = await _one(session, stmt, values, "No such activity.")
    touch(plan_id=plan_id, resource=("activity", activity_id))
    return found


def validated(found: PlanJson, role: Role) -> PlanRead:
    """The view as objects of the audience's schema, for the pages and FHIR."""
    return SCHEMA_OF_ROLE[role].model_validate_json(found.body)
