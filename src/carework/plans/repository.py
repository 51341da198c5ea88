"""A plan and its items for the services that change them, read through ``access.scope``.

Every function takes the caller and runs a statement ``access.scope`` built for the caller's
role: a plan out of scope, or an item the caller does not see, is not found (404), whatever id
is named in which slot.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    Text,
    bindparam,
    case,
    cast,
    func,
    inspect,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import UserDefinedType

from carework.access.scope import params, readable_change_events, scoped
from carework.access.visibility import View, view_for
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.db import direct
from carework.errors import NotFound
from carework.models.activity import Activity
from carework.models.agreement import Agreement
from carework.models.base import Base
from carework.models.change_event import ChangeEvent
from carework.models.consent import Consent
from carework.models.goal import Goal
from carework.models.meeting import Meeting
from carework.models.note import Note
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.receipt import PlanSeen
from carework.vocab import ConsentScope, PlanStatus, Role

T = TypeVar("T", bound=Base)


def _view(principal: Principal, scopes: Sequence[str]) -> View:
    return view_for(principal, frozenset(ConsentScope(s) for s in scopes))


# --- plans ------------------------------------------------------------------------------------


@functools.cache
def _plan(role: Role, lock: bool) -> Select[Any]:
    reads = scoped(role)
    stmt = reads.plan(Plan, reads.scopes)
    return stmt.with_for_update(of=Plan) if lock else stmt


async def get_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, *, lock: bool = False
) -> tuple[Plan, View]:
    """A plan in scope and what the caller sees of it (the consent active now), in one round
    trip; ``lock`` for a change to the plan itself."""
    row = (
        await session.execute(_plan(principal.role, lock), params(principal, plan_id=plan_id))
    ).one_or_none()
    if row is None:
        raise NotFound("No such plan.")
    touch(plan_id=plan_id)
    return row[0], _view(principal, row[1])


@functools.cache
def _own_plan(role: Role) -> Select[Any]:
    return scoped(role).own_plan(Plan.id, with_consent=False)


async def own_plan_id(session: AsyncSession, principal: Principal) -> uuid.UUID:
    """The patient's open plan, or else their most recent one."""
    plan_id: uuid.UUID | None = await session.scalar(_own_plan(principal.role), params(principal))
    if plan_id is None:
        raise NotFound("You have no plan yet.")
    touch(plan_id=plan_id)
    return plan_id


# --- one item of a plan -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InPlan(Generic[T]):
    """An item of a plan in scope that the caller sees, with the plan and the caller's view."""

    plan: Plan
    view: View
    item: T
    #: The domain of the goal the item belongs to (a note's, an activity's if tied to one).
    goal_domain: str | None


#: What each item is called, for the 404, the trail and the statement's id parameter.
_NAMES: dict[type[Any], str] = {
    Goal: "goal", Activity: "activity", Note: "note", Meeting: "meeting", Consent: "consent",
}  # fmt: skip


@functools.cache
def _item(role: Role, model: type[Any], lock: bool, in_error_too: bool) -> Select[Any]:
    reads = scoped(role)
    stmt: Select[Any]
    if model is Goal:
        stmt = reads.goal(Plan, reads.scopes, Goal, Goal.domain, in_error_too=in_error_too)
    elif model is Activity:
        domain = reads.activity_goal.domain
        stmt = reads.activity(Plan, reads.scopes, Activity, domain, in_error_too=in_error_too)
    elif model is Note:
        stmt = reads.note(Plan, reads.scopes, Note, Goal.domain, in_error_too=in_error_too)
    elif model is Meeting:
        stmt = reads.meeting(Plan, reads.scopes, Meeting, null())
    elif model is Consent:
        stmt = reads.consent_record(Plan, reads.scopes, Consent, null())
    else:
        raise TypeError(model)
    return stmt.with_for_update(of=model) if lock else stmt


class _PgType(UserDefinedType[Any]):
    """A PostgreSQL type named as is, to cast to (``xid8``, ``pg_snapshot``)."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


async def find(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    model: type[T],
    item_id: uuid.UUID,
    *,
    goal_id: uuid.UUID | None = None,
    lock: bool = False,
    in_error_too: bool = False,
) -> InPlan[T]:
    """One item of a plan in scope that the caller sees: a goal, an activity, a note (of
    ``goal_id``), a meeting or a consent record; ``lock`` for a change to it, ``in_error_too``
    to find one entered in error as well (to refuse marking it twice)."""
    name = _NAMES[model]
    ids = {"plan_id": plan_id, f"{name}_id": item_id}
    if goal_id is not None:
        ids["goal_id"] = goal_id
    stmt = _item(principal.role, model, lock, in_error_too)
    row = (await session.execute(stmt, params(principal, **ids))).one_or_none()
    if row is None:
        await get_plan(session, principal, plan_id)  # the plan missing is "No such plan."
        raise NotFound(f"No such {name}.")
    plan, scopes, item, goal_domain = row
    touch(plan_id=plan_id, resource=(name, item_id))
    return InPlan(plan=plan, view=_view(principal, scopes), item=item, goal_domain=goal_domain)


@dataclass(frozen=True, slots=True)
class PlanState:
    """As much of a plan as a change to one of its items needs."""

    id: uuid.UUID
    status: str


@dataclass(frozen=True, slots=True)
class LockedItem(Generic[T]):
    plan: PlanState
    view: View
    #: A detached copy of the row for the rules to read; changes go through SQL, not through it.
    item: T
    goal_domain: str | None
    agreed: bool


_LOCKED_EXTRAS = frozenset({"plan_status", "consent_scopes", "goal_domain", "agreed"})


@functools.cache
def _locked(role: Role, model: type[Any]) -> Select[Any]:
    reads = scoped(role)
    agreed = select(Agreement.id).where(Agreement.item_id == model.id).exists()
    goal_domain = Goal.domain if model is Goal else reads.activity_goal.domain
    columns = [
        Plan.status.label("plan_status"),
        reads.scopes.label("consent_scopes"),
        goal_domain.label("goal_domain"),
        agreed.label("agreed"),
        *(attr.expression.label(attr.key) for attr in inspect(model).column_attrs),
    ]
    stmt = reads.goal(*columns) if model is Goal else reads.activity(*columns)
    return stmt.with_for_update(of=model.__table__)


async def lock_item(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    model: type[T],
    item_id: uuid.UUID,
) -> LockedItem[T]:
    """For a change to one goal or activity the caller sees (in use): the plan's state, the
    caller's view, the item, locked, and whether anyone has agreed to it — in one round trip,
    precompiled and without ORM hydration (``db.direct.fetchrow_through_sqlalchemy``)."""
    name = _NAMES[model]
    values = params(principal, plan_id=plan_id, **{f"{name}_id": item_id})
    row = await direct.fetchrow_through_sqlalchemy(session, _locked(principal.role, model), values)
    if row is None:
        await get_plan(session, principal, plan_id)
        raise NotFound(f"No such {name}.")
    touch(plan_id=plan_id, resource=(name, item_id))
    item = model(**{key: value for key, value in row.items() if key not in _LOCKED_EXTRAS})
    return LockedItem(
        plan=PlanState(plan_id, row["plan_status"]),
        view=_view(principal, row["consent_scopes"]),
        item=item,
        goal_domain=row["goal_domain"],
        agreed=row["agreed"],
    )


# --- plan summaries ---------------------------------------------------------------------------


def _not_visible_in(snapshot: ColumnElement[str | None]) -> ColumnElement[bool]:
    """The change event's transaction (``tx_id`` is the bigint of its ``xid8``) was not
    committed in ``snapshot`` (the text of a ``pg_snapshot``)."""
    tx = cast(cast(ChangeEvent.tx_id, Text), _PgType("xid8"))
    return ~func.pg_visible_in_snapshot(tx, cast(snapshot, _PgType("pg_snapshot")))


#: A plan summary row: the plan, the patient's name, ``last_seen_at``, ``changed_since_seen``.
SummaryRow = Row[Plan, str, datetime | None, int]


@functools.cache
def _summaries(role: Role) -> Select[Plan, str, datetime | None, int]:
    """Plan summaries in scope, each with when the caller last looked and how many changes
    they may see others made since (one statement: correlated subqueries per plan)."""
    sub = bindparam("scope_sub", "", type_=String)  # the caller, as in the scope
    seen = select(PlanSeen).where(PlanSeen.plan_id == Plan.id, PlanSeen.sub == sub)
    last_seen = seen.with_only_columns(PlanSeen.seen_at).correlate(Plan).scalar_subquery()
    snapshot = seen.with_only_columns(PlanSeen.seen_snapshot).correlate(Plan).scalar_subquery()
    # New to the caller: not visible in the snapshot of their last look (a look recorded
    # before snapshots were kept falls back to comparing times).
    unseen = case(
        (snapshot.is_not(None), _not_visible_in(snapshot)),
        else_=ChangeEvent.occurred_at > last_seen,
    )
    changed = (
        select(func.count())
        .select_from(ChangeEvent)
        .where(
            ChangeEvent.plan_id == Plan.id,
            readable_change_events(role),
            ChangeEvent.actor_sub != sub,
            or_(last_seen.is_(None), unseen),
        )
        .correlate(Plan)
        .scalar_subquery()
    )
    return (
        scoped(role)
        .plans(
            Plan,
            Patient.name.label("patient_name"),
            last_seen.label("last_seen_at"),
            changed.label("changed_since_seen"),
        )
        .join(Patient, Patient.id == Plan.patient_id)
    )


async def list_summaries(
    session: AsyncSession,
    principal: Principal,
    *,
    status: PlanStatus | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[SummaryRow]:
    stmt = _summaries(principal.role)
    if status is not None:
        stmt = stmt.where(Plan.status == status.value)
    if after is not None:
        stmt = stmt.where(tuple_(Plan.created_at, Plan.id) > tuple_(*after))
    stmt = stmt.order_by(Plan.created_at, Plan.id).limit(limit)
    return (await session.execute(stmt, params(principal))).all()


async def summaries_for_nid(
    session: AsyncSession, principal: Principal, nid: str
) -> Sequence[SummaryRow]:
    stmt = _summaries(principal.role).where(Patient.nid == nid).order_by(Plan.created_at.desc())
    return (await session.execute(stmt, params(principal))).all()
