"""Quality indicators for a unit and period, in one SQL statement.

The base is every plan of the unit that ran at some time in the period (not a draft; its
period, or else its creation up to when it ended, overlaps the period). Each figure reports how
many distinct patients it rests on; one resting on fewer than ``MIN_PATIENTS`` is suppressed,
value and count alike, so that no figure can point at a person. Items entered in error do not
count.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from carework.access.policy import ACTIVITY_KINDS
from carework.access.scope import audited_unit, own_unit
from carework.auth.principal import Principal
from carework.errors import RuleViolation
from carework.indicators.schemas import IndicatorRead, IndicatorReport
from carework.models.activity import Activity
from carework.models.goal import Goal
from carework.models.plan import Plan
from carework.models.review import Evaluation
from carework.vocab import (
    IPS_KINDS,
    ActivityKind,
    ActivityStatus,
    GoalDomain,
    GoalStatus,
    PlanStatus,
    Side,
)

#: A figure resting on fewer distinct patients than this is not shown.
MIN_PATIENTS: Final = 5

#: The default period: the last year.
DEFAULT_DAYS: Final = 365

_WORK_DOMAINS = (GoalDomain.work.value, GoalDomain.education.value)
#: NAV's own measures (``other`` is anyone's, so it says nothing about work).
_WORK_KINDS = tuple(
    sorted(k.value for k in (ACTIVITY_KINDS[Side.nav] | IPS_KINDS) - {ActivityKind.other})
)


def period(start: date | None, end: date | None) -> tuple[date, date]:
    end = end or date.today()
    # By ordinal: a year before the first day of the calendar is that first day.
    start = start or date.fromordinal(max(1, end.toordinal() - DEFAULT_DAYS))
    if start > end:
        raise RuleViolation("The period's from must not be after its to.")
    return start, end


def _base(unit: ColumnElement[bool], start: date, end: date) -> CTE:
    """The plans of the unit that ran at some time in the period, with the day each began."""
    began = func.coalesce(Plan.period_start, cast(Plan.created_at, Date))
    ended = func.coalesce(
        Plan.period_end,
        case(
            (
                Plan.status.in_([PlanStatus.completed.value, PlanStatus.closed.value]),
                cast(Plan.updated_at, Date),
            )
        ),
    )
    return (
        select(Plan.id.label("plan_id"), Plan.patient_id, began.label("began"))
        .where(
            unit,
            Plan.status != PlanStatus.draft.value,
            began <= end,
            or_(ended.is_(None), ended >= start),
        )
        .cte("base")
    )


def _share(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.avg(case((condition, 1.0), else_=0.0))


def _figure(
    order: int, name: str, value: ColumnElement[Any], patients: ColumnElement[Any]
) -> list[ColumnElement[Any]]:
    return [
        literal(order).label("ord"),
        literal(name).label("name"),
        cast(value, Float).label("value"),
        cast(patients, Integer).label("patients"),
    ]


def _median_days_to_first(base: CTE, which: ColumnElement[bool], goal: Any) -> Select[Any]:
    """Per plan, days from its start to its first activity that ``which`` picks (not before
    the start), then the median over the plans that have one."""
    day = func.coalesce(Activity.start_date, cast(Activity.created_at, Date))
    firsts = (
        select(
            base.c.patient_id,
            func.greatest(func.min(day) - base.c.began, 0).label("days"),
        )
        .select_from(base)
        .join(Activity, Activity.plan_id == base.c.plan_id)
        .outerjoin(goal, goal.id == Activity.goal_id)
        .where(
            Activity.entered_in_error_at.is_(None),
            Activity.status != ActivityStatus.cancelled.value,
            which,
        )
        .group_by(base.c.plan_id, base.c.patient_id, base.c.began)
        .subquery()
    )
    return select(
        func.percentile_cont(0.5).within_group(firsts.c.days),
        func.count(firsts.c.patient_id.distinct()),
    )


def _statement(unit: ColumnElement[bool], start: date, end: date) -> Select[Any]:
    base = _base(unit, start, end)
    patients = func.count(base.c.patient_id.distinct())
    goal = aliased(Goal)
    counted_goal = (Goal.entered_in_error_at.is_(None), Goal.status != GoalStatus.proposed.value)
    has_work_goal = (
        select(Goal.id)
        .where(Goal.plan_id == base.c.plan_id, Goal.domain.in_(_WORK_DOMAINS), *counted_goal)
        .exists()
    )
    achieved = or_(Goal.achievement_status == "achieved", Goal.status == GoalStatus.achieved.value)
    work_activity = or_(goal.domain.in_(_WORK_DOMAINS), Activity.kind.in_(_WORK_KINDS))
    employer_contact = or_(
        Activity.kind == ActivityKind.ips_employer_contact.value, Activity.outcome.is_not(None)
    )
    to_work = _median_days_to_first(base, work_activity, goal).subquery()
    to_employer = _median_days_to_first(base, employer_contact, goal).subquery()
    figures = [
        select(*_figure(1, "active_plans", func.count(), patients)).select_from(base),
        select(
            *_figure(2, "share_with_work_or_education_goal", _share(has_work_goal), patients)
        ).select_from(base),
        select(*_figure(3, "goals_achieved", _share(achieved), patients))
        .select_from(base)
        .join(Goal, Goal.plan_id == base.c.plan_id)
        .where(*counted_goal),
        select(*_figure(4, "median_days_to_first_work_activity", *to_work.c)),
        select(*_figure(5, "median_days_to_first_employer_contact", *to_employer.c)),
        select(
            *_figure(
                6,
                "share_reviews_on_time",
                _share(Evaluation.held_on <= Evaluation.due_on),
                patients,
            )
        )
        .select_from(base)
        .join(Evaluation, Evaluation.plan_id == base.c.plan_id)
        .where(Evaluation.due_on.is_not(None), Evaluation.held_on.between(start, end)),
    ]
    both = union_all(*figures).subquery()
    return select(both.c.name, both.c.value, both.c.patients).order_by(both.c.ord)


def _shown(name: str, value: float | None, patients: int) -> IndicatorRead:
    if patients < MIN_PATIENTS or value is None:
        return IndicatorRead(name=name, value=None, patients=None, suppressed=True)
    shown: int | float = int(value) if name == "active_plans" else round(value, 3)
    return IndicatorRead(name=name, value=shown, patients=patients, suppressed=False)


async def _report(
    session: AsyncSession,
    unit: ColumnElement[bool],
    org: str | None,
    start: date | None,
    end: date | None,
) -> IndicatorReport:
    start, end = period(start, end)
    rows = (await session.execute(_statement(unit, start, end))).all()
    figures = [_shown(name, value, patients) for name, value, patients in rows]
    return IndicatorReport.model_validate(
        {"org": org, "from": start, "to": end, "patients": figures[0].patients,
         "indicators": figures}
    )  # fmt: skip


async def unit_indicators(
    session: AsyncSession, principal: Principal, start: date | None, end: date | None
) -> IndicatorReport:
    """The caller's own DPS unit or NAV office."""
    return await _report(session, own_unit(principal), principal.org, start, end)


async def audited_indicators(
    session: AsyncSession,
    principal: Principal,
    org: str | None,
    start: date | None,
    end: date | None,
) -> IndicatorReport:
    """The auditor's: every unit, or the one named."""
    return await _report(session, audited_unit(principal, org), org, start, end)
