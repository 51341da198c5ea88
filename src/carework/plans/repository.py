"""Plan queries, always narrowed to what the caller may know exists."""

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
    Text,
    Uuid,
    bindparam,
    case,
    cast,
    func,
    inspect,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import UserDefinedType

from carework.access.policy import anyone_with, change_visible, plan_scope, scope_params
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.consent.repository import active_scopes_lateral
from carework.db import direct
from carework.errors import NotFound
from carework.models.agreement import Agreement
from carework.models.base import Base
from carework.models.change_event import ChangeEvent
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.receipt import PlanSeen
from carework.vocab import OPEN_PLAN_STATUSES, ConsentScope, PlanStatus, Role

T = TypeVar("T", bound=Base)


def readable_plans(principal: Principal) -> Select[Plan]:
    return select(Plan).where(plan_scope(principal))


async def get_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, *, lock: bool = False
) -> Plan:
    stmt = readable_plans(principal).where(Plan.id == plan_id)
    if lock:
        stmt = stmt.with_for_update(of=Plan)
    plan = (await session.execute(stmt)).scalar_one_or_none()
    if plan is None:
        raise NotFound("No such plan.")
    touch(plan_id=plan.id)
    return plan


@functools.cache
def _plan_and_consent(role: Role) -> Select[Plan, list[str]]:
    consent = active_scopes_lateral()
    return (
        readable_plans(anyone_with(role))
        .add_columns(consent.c.scopes)
        .join(consent, true())
        .where(Plan.id == bindparam("plan_id", type_=Uuid))
    )


async def get_plan_and_consent(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> tuple[Plan, frozenset[ConsentScope]]:
    """A plan in scope and the consent scopes active on it, in one round trip (every write
    and item read starts here; the statement is built once per role)."""
    params = scope_params(principal) | {"plan_id": plan_id}
    row = (await session.execute(_plan_and_consent(principal.role), params)).one_or_none()
    if row is None:
        raise NotFound("No such plan.")
    touch(plan_id=plan_id)
    return row[0], frozenset(ConsentScope(s) for s in row[1])


@dataclass(frozen=True, slots=True)
class PlanState:
    """As much of a plan as a change to one of its items needs."""

    id: uuid.UUID
    status: str


@dataclass(frozen=True, slots=True)
class LockedItem(Generic[T]):
    plan: PlanState
    consent: frozenset[ConsentScope]
    #: A detached copy of the row for the rules to read; changes go through SQL, not through it.
    item: T
    agreed: bool


@functools.cache
def _plan_consent_and_item(role: Role, model: type[Any]) -> Select[Any]:
    consent = active_scopes_lateral()
    agreed = select(Agreement.id).where(Agreement.item_id == model.id).exists()
    item_columns = [attr.expression.label(attr.key) for attr in inspect(model).column_attrs]
    return (
        select(
            Plan.status.label("plan_status"),
            consent.c.scopes.label("consent_scopes"),
            agreed.label("agreed"),
            *item_columns,
        )
        .select_from(Plan)
        .join(consent, true())
        .join(model, model.plan_id == Plan.id)
        .where(
            plan_scope(anyone_with(role)),
            Plan.id == bindparam("plan_id", type_=Uuid),
            model.id == bindparam("item_id", type_=Uuid),
        )
        .with_for_update(of=model.__table__)
    )


_LOCKED_EXTRAS = frozenset({"plan_status", "consent_scopes", "agreed"})


async def get_plan_consent_and_item(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    model: type[T],
    item_id: uuid.UUID,
    what: str,
) -> LockedItem[T]:
    """For a change to one item: the plan in scope, its active consent scopes, the item,
    locked, and whether anyone has agreed to it — in one round trip, without ORM hydration
    (``db.direct``). Whether the caller may see the item is the service's to ask (``View``);
    a missing plan and a missing item are 404."""
    params = scope_params(principal) | {"plan_id": plan_id, "item_id": item_id}
    row = await direct.fetchrow(session, _plan_consent_and_item(principal.role, model), params)
    if row is None:
        # Which one is missing decides the message (and whether the trail names the plan).
        await get_plan(session, principal, plan_id)
        raise NotFound(f"No such {what}.")
    touch(plan_id=plan_id)
    item = model(**{key: value for key, value in row.items() if key not in _LOCKED_EXTRAS})
    return LockedItem(
        plan=PlanState(plan_id, row["plan_status"]),
        consent=frozenset(ConsentScope(s) for s in row["consent_scopes"]),
        item=item,
        agreed=row["agreed"],
    )


async def get_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    return (await session.execute(select(Patient).where(Patient.id == patient_id))).scalar_one()


class _PgType(UserDefinedType[Any]):
    """A PostgreSQL type named as is, to cast to (``xid8``, ``pg_snapshot``)."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


def _not_visible_in(snapshot: ColumnElement[str | None]) -> ColumnElement[bool]:
    """The change event's transaction (``tx_id`` is the bigint of its ``xid8``) was not
    committed in ``snapshot`` (the text of a ``pg_snapshot``)."""
    tx = cast(cast(ChangeEvent.tx_id, Text), _PgType("xid8"))
    return ~func.pg_visible_in_snapshot(tx, cast(snapshot, _PgType("pg_snapshot")))


#: A plan summary row: the plan, the patient's name, ``last_seen_at``, ``changed_since_seen``.
SummaryRow = Row[Plan, str, datetime | None, int]


def _summaries(principal: Principal) -> Select[Plan, str, datetime | None, int]:
    """Plan summaries in scope, each with when the caller last looked and how many changes
    they may see others made since (one statement: correlated subqueries per plan)."""
    seen = select(PlanSeen).where(PlanSeen.plan_id == Plan.id, PlanSeen.sub == principal.sub)
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
            change_visible(principal),
            ChangeEvent.actor_sub != principal.sub,
            or_(last_seen.is_(None), unseen),
        )
        .correlate(Plan)
        .scalar_subquery()
    )
    return (
        select(
            Plan,
            Patient.name.label("patient_name"),
            last_seen.label("last_seen_at"),
            changed.label("changed_since_seen"),
        )
        .join(Patient, Patient.id == Plan.patient_id)
        .where(plan_scope(principal))
    )


async def list_summaries(
    session: AsyncSession,
    principal: Principal,
    *,
    status: PlanStatus | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[SummaryRow]:
    stmt = _summaries(principal)
    if status is not None:
        stmt = stmt.where(Plan.status == status.value)
    if after is not None:
        stmt = stmt.where(tuple_(Plan.created_at, Plan.id) > tuple_(*after))
    stmt = stmt.order_by(Plan.created_at, Plan.id).limit(limit)
    return (await session.execute(stmt)).all()


async def summaries_for_nid(
    session: AsyncSession, principal: Principal, nid: str
) -> Sequence[SummaryRow]:
    stmt = _summaries(principal).where(Patient.nid == nid).order_by(Plan.created_at.desc())
    return (await session.execute(stmt)).all()


async def own_plan(session: AsyncSession, principal: Principal) -> Plan:
    """The patient's open plan, or else their most recent one."""
    is_open = Plan.status.in_([s.value for s in OPEN_PLAN_STATUSES])
    stmt = readable_plans(principal).order_by(is_open.desc(), Plan.created_at.desc()).limit(1)
    plan = (await session.execute(stmt)).scalar_one_or_none()
    if plan is None:
        raise NotFound("You have no plan yet.")
    touch(plan_id=plan.id)
    return plan
