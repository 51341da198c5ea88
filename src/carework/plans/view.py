"""The caller's view of a plan as JSON, built by PostgreSQL in one statement.

Reading a plan is the call carework serves most (every EHR screen, every advisor's page, every
integration poll). Through the ORM it took seven round trips and three passes of hydration and
validation per item; here the plan scope (``plan_scope``), the consents active at this request
and what each side may see (``SqlView``, the SQL twin of ``View``) are applied in one query
that returns the answer as the JSON text the client gets. The keys come from the response
schema itself, so the schema, the OpenAPI document and this query cannot drift apart.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    SQLColumnExpression,
    String,
    Text,
    Uuid,
    bindparam,
    case,
    cast,
    false,
    func,
    inspect,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from carework.access.policy import SqlView, anyone_with, plan_scope, scope_params, sql_view_for
from carework.activities.schemas import ActivityRead
from carework.agreements.schemas import AgreementRead
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.consent.repository import active_scopes_lateral
from carework.db import direct
from carework.errors import NotFound
from carework.goals.schemas import GoalRead
from carework.models.activity import Activity
from carework.models.agreement import Agreement
from carework.models.goal import Goal
from carework.models.note import Note
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.receipt import ItemSeen
from carework.models.team import CareTeamMember
from carework.notes.schemas import NoteRead
from carework.plans.schemas import PatientRef
from carework.receipts.schemas import SeenRead
from carework.vocab import OPEN_PLAN_STATUSES, ActivityKind, GoalStatus, Role

EMPTY_LIST: ColumnElement[Any] = literal_column("'[]'::json")


@dataclass(frozen=True, slots=True)
class PlanJson:
    """A plan view (or one item of it), ready to send."""

    id: uuid.UUID
    version: int
    body: str


def _columns(model: type[Any]) -> dict[str, ColumnElement[Any]]:
    return {attr.key: attr.expression for attr in inspect(model).column_attrs}


def json_object(schema: type[BaseModel], columns: Mapping[str, Any]) -> ColumnElement[Any]:
    """``json_build_object`` with the schema's keys, in its order (a field's validation alias
    names the column when the two differ)."""
    args: list[ColumnElement[Any]] = []
    for name, field in schema.model_fields.items():
        source = field.validation_alias if isinstance(field.validation_alias, str) else name
        args += [literal_column(f"'{name}'"), columns[source]]
    return func.json_build_object(*args)


def json_list(item: ColumnElement[Any], *order_by: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    return func.json_agg(aggregate_order_by(item, *order_by))


PARTIES: ColumnElement[Any] = literal_column("ARRAY['patient', 'dps', 'nav']::varchar[]")


def _agreed_by(item_id: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    agreement = json_object(
        AgreementRead,
        {"party": Agreement.party, "name": Agreement.agreed_by_name,
         "version": Agreement.item_version, "at": Agreement.agreed_at},
    )  # fmt: skip
    found = (
        select(json_list(agreement, Agreement.agreed_at, Agreement.party))
        .where(Agreement.item_id == item_id)
        .correlate_except(Agreement)
        .scalar_subquery()
    )
    return func.coalesce(found, EMPTY_LIST)


def _seen_by(item_id: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    seen = json_object(
        SeenRead, {"party": ItemSeen.party, "version": ItemSeen.version, "at": ItemSeen.seen_at}
    )
    found = (
        select(json_list(seen, ItemSeen.seen_at, ItemSeen.party))
        .where(ItemSeen.item_id == item_id)
        .correlate_except(ItemSeen)
        .scalar_subquery()
    )
    return func.coalesce(found, EMPTY_LIST)


def _not_agreed(item_id: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """The parties that have not agreed to the item, in the order patient, DPS, NAV.
    (Correlated explicitly: inside ``UPDATE ... RETURNING`` auto-correlation would not reach
    the updated row, and ``array_agg`` keeps no order unless told.)"""
    party = func.unnest(PARTIES).table_valued("party", with_ordinality="n").render_derived()
    agreed = (
        select(Agreement.id)
        .where(Agreement.item_id == item_id, Agreement.party == party.c.party)
        .correlate_except(Agreement)
        .exists()
    )
    missing = (
        select(func.array_agg(aggregate_order_by(party.c.party, party.c.n)))
        .select_from(party)
        .where(~agreed)
        .correlate_except(Agreement)
        .scalar_subquery()
    )
    return func.coalesce(missing, cast(literal_column("'{}'"), ARRAY(String)))


def _waiting_for_goal() -> ColumnElement[Any]:
    """A proposal waits for the owning side; anything else for the parties yet to agree."""
    owner_only = func.array(select(Goal.owner_side).correlate(Goal).scalar_subquery())
    return func.to_json(
        case((Goal.status == GoalStatus.proposed.value, owner_only), else_=_not_agreed(Goal.id))
    )


def item_extras(item_id: SQLColumnExpression[Any]) -> dict[str, ColumnElement[Any]]:
    """What goals and activities show beyond their columns (agreements and receipts)."""
    return {"agreed_by": _agreed_by(item_id), "seen_by": _seen_by(item_id)}


def in_use(model: type[Any]) -> ColumnElement[bool]:
    """Not marked entered in error: such items leave the views (history keeps them)."""
    return model.entered_in_error_at.is_(None)  # type: ignore[no-any-return]


def goal_object(view: SqlView) -> ColumnElement[Any]:
    """One goal (``Goal``, correlated) as ``GoalRead``, with the notes ``view`` may see."""
    note = json_object(NoteRead, _columns(Note))
    notes = (
        select(json_list(note, Note.created_at, Note.id))
        .where(
            Note.goal_id == Goal.id,
            in_use(Note),
            view.sees_note(Note.visibility, Note.author_side, Goal.domain),
        )
        .correlate_except(Note)
        .scalar_subquery()
    )
    extras = item_extras(Goal.id) | {
        "notes": func.coalesce(notes, EMPTY_LIST),
        "waiting_for": _waiting_for_goal(),
    }
    return json_object(GoalRead, _columns(Goal) | extras)


def _goals(view: SqlView) -> ColumnElement[Any]:
    return (
        select(json_list(goal_object(view), Goal.created_at, Goal.id))
        .where(Goal.plan_id == Plan.id, in_use(Goal), view.sees_goal(Goal.domain))
        .correlate_except(Goal)
        .scalar_subquery()
    )


def activity_object() -> ColumnElement[Any]:
    """One activity (``Activity``, correlated) as ``ActivityRead``."""
    extras = item_extras(Activity.id) | {"waiting_for": func.to_json(_not_agreed(Activity.id))}
    return json_object(ActivityRead, _columns(Activity) | extras)


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
    member = json_object(schema, _columns(CareTeamMember) | {"coordinator": coordinator})
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
        select(json_object(PatientRef, _columns(Patient)))
        .where(Patient.id == Plan.patient_id)
        .correlate_except(Patient)
        .scalar_subquery()
    )


def _item_schema(schema: type[BaseModel], field: str) -> type[BaseModel]:
    """``list[TeamMemberRead]`` → ``TeamMemberRead``."""
    annotation = schema.model_fields[field].annotation
    (item,) = getattr(annotation, "__args__", (None,))
    if not (isinstance(item, type) and issubclass(item, BaseModel)):
        raise TypeError(f"{schema.__name__}.{field} is not a list of models")
    return item


def statement(role: Role, schema: type[BaseModel]) -> Select[uuid.UUID, int, str]:
    """The plans in scope of a caller with this role, each as that caller's view in
    ``schema``'s shape. The caller's identifiers are bind parameters (``scope_params``)."""
    prototype = anyone_with(role)
    consent = active_scopes_lateral()
    view = sql_view_for(prototype, consent.c.scopes)
    parts: dict[str, ColumnElement[Any]] = _columns(Plan) | {
        "goals": func.coalesce(_goals(view), EMPTY_LIST),
        "activities": func.coalesce(_activities(view), EMPTY_LIST),
        "team": func.coalesce(_team(_item_schema(schema, "team")), EMPTY_LIST),
        "consent": func.to_json(consent.c.scopes),
        "review_overdue": func.coalesce(Plan.next_review_date < func.current_date(), false()),
        "first_employer_contact": _first_employer_contact(),
    }
    if "patient" in schema.model_fields:
        parts["patient"] = _patient()
    body = cast(json_object(schema, parts), Text)
    return (
        select(Plan.id, Plan.version, body)
        .select_from(Plan)
        .join(consent, true())
        .where(plan_scope(prototype))
    )


@functools.cache
def _by_id(role: Role, schema: type[BaseModel]) -> Select[uuid.UUID, int, str]:
    return statement(role, schema).where(Plan.id == bindparam("plan_id", type_=Uuid))


@functools.cache
def _own(role: Role, schema: type[BaseModel]) -> Select[uuid.UUID, int, str]:
    """The patient's open plan, or else their most recent one."""
    is_open = Plan.status.in_([s.value for s in OPEN_PLAN_STATUSES])
    return statement(role, schema).order_by(is_open.desc(), Plan.created_at.desc()).limit(1)


@functools.cache
def _item(role: Role, item_type: str) -> Select[int, str]:
    """One goal or activity as a caller of ``role`` sees it, its plan's consent read in the same
    statement (the agreements, receipts and whose move that the ORM objects do not carry)."""
    consent = active_scopes_lateral()
    view = sql_view_for(anyone_with(role), consent.c.scopes)
    model: type[Any] = Goal if item_type == "goal" else Activity
    body = goal_object(view) if item_type == "goal" else activity_object()
    return (
        select(model.version, cast(body, Text))
        .select_from(model)
        .join(Plan, Plan.id == model.plan_id)
        .join(consent, true())
        .where(model.id == bindparam("item_id", type_=Uuid))
    )


async def read_item(
    session: AsyncSession,
    principal: Principal,
    item_type: Literal["goal", "activity"],
    item_id: uuid.UUID,
) -> PlanJson:
    """The answer for an item the service has just read or written for this caller — it has
    checked scope and visibility already; this only renders what the caller may see."""
    row = await direct.fetchrow(session, _item(principal.role, item_type), {"item_id": item_id})
    assert row is not None, "read_item is for an item the caller has just read or written"
    return PlanJson(id=item_id, version=row[0], body=row[1])


async def _one(
    session: AsyncSession, stmt: Select[uuid.UUID, int, str], params: dict[str, Any], missing: str
) -> PlanJson:
    # Straight to asyncpg: the statement is built and compiled once, no ORM state is involved.
    row = await direct.fetchrow(session, stmt, params)
    if row is None:
        raise NotFound(missing)
    touch(plan_id=row[0])
    return PlanJson(id=row[0], version=row[1], body=row[2])


async def read_plan(
    session: AsyncSession, principal: Principal, schema: type[BaseModel], plan_id: uuid.UUID
) -> PlanJson:
    params = scope_params(principal) | {"plan_id": plan_id}
    return await _one(session, _by_id(principal.role, schema), params, "No such plan.")


async def read_own_plan(
    session: AsyncSession, principal: Principal, schema: type[BaseModel]
) -> PlanJson:
    stmt = _own(principal.role, schema)
    return await _one(session, stmt, scope_params(principal), "You have no plan yet.")
