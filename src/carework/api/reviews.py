"""Reviews of a plan, a goal's achievement history, overdue reviews and quality indicators."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import Query

from carework.bodies import OrgId
from carework.http.params import Page, Session
from carework.http.principal import Caller
from carework.http.route import RouteTable
from carework.indicators import service as figures
from carework.indicators.schemas import IndicatorReport
from carework.plans.schemas import PlanPage, PlanSummary
from carework.reviews import service as reviews
from carework.reviews.schemas import (
    AchievementHistory,
    EvaluationCreate,
    EvaluationList,
    EvaluationRead,
)

_FROM = Query(None, alias="from", description="First day of the period (default: a year ago).")
_TO = Query(None, alias="to", description="Last day of the period (default: today).")

#: Mounted by DPS and by NAV.
routes = RouteTable()
#: The auditor's.
audit_routes = RouteTable(shared=False)


@routes.create(
    "/plans/{plan_id}/evaluations", EvaluationRead,
    "Record a review of the plan, with the caller's side's findings on its goals",
)  # fmt: skip
async def record_evaluation(
    plan_id: uuid.UUID, body: EvaluationCreate, principal: Caller, session: Session
) -> EvaluationRead:
    return await reviews.record_evaluation(session, principal, plan_id, body)


@routes.read(
    "/plans/{plan_id}/evaluations", EvaluationList,
    "The plan's reviews, newest first, with the findings the caller may see",
)  # fmt: skip
async def list_evaluations(
    plan_id: uuid.UUID, principal: Caller, session: Session, page: Page
) -> EvaluationList:
    return await reviews.list_evaluations(
        session, principal, plan_id, limit=page.limit, cursor=page.cursor
    )


@routes.read(
    "/plans/{plan_id}/goals/{goal_id}/achievements", AchievementHistory,
    "A goal's achievement history: what each review found, oldest first",
)  # fmt: skip
async def goal_achievements(
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    principal: Caller,
    session: Session,
    page: Page,
) -> AchievementHistory:
    return await reviews.achievement_history(
        session, principal, plan_id, goal_id, limit=page.limit, cursor=page.cursor
    )


@routes.read(
    "/reviews/overdue", PlanPage,
    "Open plans in the caller's scope whose next review date has passed",
)  # fmt: skip
async def overdue_reviews(
    principal: Caller,
    session: Session,
    page: Page,
    mine: bool = Query(False, description="Only plans the caller coordinates."),
) -> PlanPage:
    rows, next_cursor = await reviews.overdue_reviews(
        session, principal, mine=mine, limit=page.limit, cursor=page.cursor
    )
    return PlanPage(items=[PlanSummary.of(p, n) for p, n in rows], next_cursor=next_cursor)


@routes.read(
    "/indicators", IndicatorReport,
    "Quality indicators of the caller's own unit or office (small counts suppressed)",
)  # fmt: skip
async def indicators(
    principal: Caller, session: Session, start: date | None = _FROM, end: date | None = _TO
) -> IndicatorReport:
    return await figures.unit_indicators(session, principal, start, end)


@audit_routes.read(
    "/indicators", IndicatorReport,
    "Quality indicators across units, or for one DPS unit or NAV office",
)  # fmt: skip
async def audit_indicators(
    principal: Caller,
    session: Session,
    org: OrgId | None = Query(None, description="A DPS unit or NAV office; all when left out."),
    start: date | None = _FROM,
    end: date | None = _TO,
) -> IndicatorReport:
    return await figures.audited_indicators(session, principal, org, start, end)
