"""Plan use cases: open a plan, list and find plans, change one, the EHR's status check, and
taking an item of a plan back (entered in error). Reading a plan is the read model's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.policy import ensure_owns, units_for_new_plan
from carework.access.roles import side_of
from carework.access.scope import params, readable_change_events, scoped
from carework.access.sensitivity import GENERAL, EventClass
from carework.access.visibility import View
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.bodies import sent_changes
from carework.errors import Conflict, RuleViolation
from carework.feed import outbox as feed
from carework.lifecycle import PLAN_TRANSITIONS, ensure_move
from carework.models.change_event import ChangeEvent
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.team import CareTeamMember
from carework.paging import decode_key, page
from carework.plans import repository
from carework.plans.schemas import PlanCreate, PlanStatusRead, PlanUpdate
from carework.readmodel import PlanJson, read_plan
from carework.versions import Versions, ensure_version
from carework.vocab import OPEN_PLAN_STATUSES, EventType, PlanStatus


async def plan_for_reading(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> tuple[Plan, View]:
    """A plan in the caller's scope (404 otherwise) and what the caller sees of it."""
    return await repository.get_plan(session, principal, plan_id)


async def plan_for_writing(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID
) -> tuple[Plan, View]:
    """A plan in scope that is still open; completed and closed plans are read-only."""
    plan, view = await plan_for_reading(session, principal, plan_id)
    ensure_open(plan)
    return plan, view


class _HasStatus(Protocol):
    @property
    def status(self) -> str: ...


def ensure_open(plan: _HasStatus) -> None:
    if PlanStatus(plan.status) not in OPEN_PLAN_STATUSES:
        raise Conflict(f"The plan is {plan.status}; it can no longer be changed.")


async def take_back(
    session: AsyncSession,
    principal: Principal,
    found: repository.InPlan[Any],
    *,
    owner_side: str,
    expected_version: Versions | None,
    reason: str,
    type: EventType,
    of: EventClass,
) -> None:
    """Mark an item of the plan entered in error: by its owning side, once (409 after that),
    at the version the caller saw (412; notes have none). It leaves every view; its row and
    its events stay in history and the trail, and the reason stays out of the feed."""
    ensure_open(found.plan)
    item, what = found.item, type.value.partition(".")[0]
    ensure_owns(principal, owner_side, what)
    item.mark_in_error(principal.sub, reason, what)  # 409 before 412, as ever
    if expected_version is not None:
        ensure_version(item.version, expected_version)
        item.version += 1
    await session.flush()
    await feed.record(
        session, principal, type=type, plan_id=found.plan.id, resource=(what, item.id), of=of,
        version=item.version if expected_version is not None else None,
    )  # fmt: skip


async def _upsert_patient(session: AsyncSession, nid: str, name: str) -> uuid.UUID:
    stmt = (
        insert(Patient)
        .values(id=uuid.uuid4(), nid=nid, name=name)
        .on_conflict_do_update(index_elements=[Patient.nid], set_={"name": name})
        .returning(Patient.id)
    )
    return (await session.execute(stmt)).scalar_one()


def first_review(
    last_reviewed_on: date | None, period_start: date | None, interval_days: int | None
) -> date | None:
    """When a cadence starts and no review is scheduled, the first one: an interval after the
    last review, or else after the period starts (after today, if that has passed)."""
    if interval_days is None:
        return None
    today = date.today()
    base = last_reviewed_on or max(period_start or today, today)
    return base + timedelta(days=interval_days)


async def create_plan(session: AsyncSession, principal: Principal, body: PlanCreate) -> PlanJson:
    """Open a plan in the caller's unit; the answer is the caller's view of it."""
    side = side_of(principal)
    dps_unit, nav_office = units_for_new_plan(principal, body.dps_unit, body.nav_office)
    if dps_unit is None or nav_office is None:
        raise RuleViolation(f"Name the plan's {'dps_unit' if dps_unit is None else 'nav_office'}.")
    patient_id = await _upsert_patient(session, body.patient.nid, body.patient.name)
    plan = Plan(
        id=uuid.uuid4(),
        patient_id=patient_id,
        dps_unit=dps_unit,
        nav_office=nav_office,
        title=body.title,
        main_goal=body.main_goal,
        status=body.status,
        period_start=body.period_start,
        period_end=body.period_end,
        review_interval_days=body.review_interval_days,
        next_review_date=first_review(None, body.period_start, body.review_interval_days),
        coordinator_sub=principal.sub,
        created_by_sub=principal.sub,
    )
    session.add(plan)
    try:
        await session.flush()
    except IntegrityError as exc:
        if "uq_plan_one_open_per_patient" in str(exc.orig):
            raise Conflict("This patient already has an open plan.") from None
        raise
    # Only once the plan exists: a refused creation must not name a plan that never was.
    touch(plan_id=plan.id, resource=("plan", plan.id))
    # The creator joins the team and coordinates until someone else is named.
    session.add(
        CareTeamMember(
            plan_id=plan.id,
            sub=principal.sub,
            name=principal.name,
            role=principal.role.value,
            org=principal.org or "",
            side=side.value,
            added_by_sub=principal.sub,
        )
    )
    await session.flush()
    await feed.record(
        session, principal, type=EventType.plan_created, of=GENERAL, plan_id=plan.id,
        resource=("plan", plan.id), version=plan.version, data={"status": plan.status},
    )  # fmt: skip
    return await read_plan(session, principal, plan.id)


async def update_plan(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    expected_version: Versions,
    body: PlanUpdate,
) -> PlanJson:
    plan, _ = await repository.get_plan(session, principal, plan_id, lock=True)
    ensure_version(plan.version, expected_version)
    changes = sent_changes(body)
    new_status = changes.get("status")
    if new_status is not None and new_status != plan.status:
        ensure_move(PLAN_TRANSITIONS, PlanStatus(plan.status), PlanStatus(new_status), "A plan")
    elif PlanStatus(plan.status) not in OPEN_PLAN_STATUSES:
        raise Conflict(f"The plan is {plan.status}; it can no longer be changed.")
    coordinator = changes.get("coordinator_sub")
    if coordinator is not None:
        on_team = await session.scalar(
            select(func.count())
            .select_from(CareTeamMember)
            .where(CareTeamMember.plan_id == plan.id, CareTeamMember.sub == coordinator)
        )
        if not on_team:
            raise RuleViolation("The coordinator must be a member of the care team.")
    start = changes.get("period_start", plan.period_start)
    end = changes.get("period_end", plan.period_end)
    if start is not None and end is not None and end < start:
        raise RuleViolation("period_end must not be before period_start.")
    for field, value in changes.items():
        setattr(plan, field, value.value if isinstance(value, PlanStatus) else value)
    if "review_interval_days" in changes and "next_review_date" not in changes:
        plan.next_review_date = plan.next_review_date or first_review(
            plan.last_reviewed_on, plan.period_start, plan.review_interval_days
        )
    plan.version += 1
    await session.flush()
    await feed.record(
        session, principal, type=EventType.plan_updated, of=GENERAL, plan_id=plan.id,
        resource=("plan", plan.id), version=plan.version,
        data={"changed": sorted(changes), "status": plan.status},
    )  # fmt: skip
    return await read_plan(session, principal, plan.id)


async def list_plans(
    session: AsyncSession,
    principal: Principal,
    *,
    status: PlanStatus | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[repository.SummaryRow], str | None]:
    after = decode_key(cursor, datetime, uuid.UUID) if cursor else None
    rows = await repository.list_summaries(
        session, principal, status=status, after=after, limit=limit + 1
    )
    return page(rows, limit, lambda row: (row[0].created_at, row[0].id))


async def search_plans(
    session: AsyncSession, principal: Principal, nid: str
) -> Sequence[repository.SummaryRow]:
    return await repository.summaries_for_nid(session, principal, nid)


async def plan_status(session: AsyncSession, principal: Principal, nid: str) -> PlanStatusRead:
    """Whether the patient has an open plan in the caller's scope, and when it last changed in
    a way the caller may see; nothing else about it."""
    found = (
        scoped(principal.role)
        .plans(Plan.id, Plan.updated_at)
        .join(Patient, Patient.id == Plan.patient_id)
        .where(Patient.nid == nid, Plan.status.in_([s.value for s in OPEN_PLAN_STATUSES]))
        .order_by(Plan.created_at.desc())
        .limit(1)
        .subquery("found")
    )
    # Over ``found``, not ``plan``: the feed's visibility rule holds its own plan subquery.
    last_event = (
        select(func.max(ChangeEvent.occurred_at))
        .where(ChangeEvent.plan_id == found.c.id, readable_change_events(principal.role))
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(found.c.id, func.coalesce(last_event, found.c.updated_at)), params(principal)
        )
    ).one_or_none()
    if row is None:
        return PlanStatusRead(active_plan=False, plan_id=None, last_changed=None)
    touch(plan_id=row[0])
    return PlanStatusRead(active_plan=True, plan_id=row[0], last_changed=row[1])
