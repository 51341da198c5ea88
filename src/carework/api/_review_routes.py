"""Routes for reviews (issue 7). DPS and NAV mount ``review_routes`` with their own principal;
the patient's and the auditor's routes (if any) are module-level routers.

No ``from __future__ import annotations`` here: FastAPI must see the closure's real types.
"""

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, status

from carework.access.guards import AuditorPrincipal
from carework.api._common import (
    IDEMPOTENT,
    READ_ERRORS,
    SEARCH_ERRORS,
    WRITE_ERRORS,
    Session,
    plan_summary,
)
from carework.api.route import UnitOfWorkRoute
from carework.evaluations import service as reviews
from carework.evaluations.schemas import (
    AchievementHistory,
    EvaluationCreate,
    EvaluationList,
    EvaluationRead,
    PlanStatusQuery,
    PlanStatusRead,
)
from carework.indicators import service as indicators
from carework.indicators.schemas import IndicatorReport
from carework.pagination import Cursor, Limit
from carework.plans.schemas import PlanPage
from carework.schema import OrgId

patient_router = APIRouter(route_class=UnitOfWorkRoute)
audit_router = APIRouter(route_class=UnitOfWorkRoute)

_FROM = Query(None, alias="from", description="First day of the period (default: a year ago).")
_TO = Query(None, alias="to", description="Last day of the period (default: today).")


def review_routes(*, side: str, caller: Any) -> APIRouter:
    """Build the review routes for one side (``dps`` or ``nav``)."""
    router = APIRouter(route_class=UnitOfWorkRoute)

    def op(name: str) -> str:
        return f"{side}_{name}"

    @router.post(
        "/plans/status",
        response_model=PlanStatusRead,
        operation_id=op("plan_status"),
        responses=SEARCH_ERRORS,
        summary="Does the patient have an open plan here? (national id kept out of the URL)",
    )
    async def plan_status(
        body: PlanStatusQuery, principal: caller, session: Session
    ) -> PlanStatusRead:
        return await reviews.plan_status(session, principal, body.nid)

    @router.post(
        "/plans/{plan_id}/evaluations",
        status_code=status.HTTP_201_CREATED,
        response_model=EvaluationRead,
        operation_id=op("record_evaluation"),
        dependencies=IDEMPOTENT,
        responses=WRITE_ERRORS,
        summary="Record a review of the plan, with the caller's side's findings on its goals",
    )
    async def record_evaluation(
        plan_id: uuid.UUID, body: EvaluationCreate, principal: caller, session: Session
    ) -> EvaluationRead:
        return await reviews.record_evaluation(session, principal, plan_id, body)

    @router.get(
        "/plans/{plan_id}/evaluations",
        response_model=EvaluationList,
        operation_id=op("list_evaluations"),
        responses=READ_ERRORS,
        summary="The plan's reviews, newest first, with the findings the caller may see",
    )
    async def list_evaluations(
        plan_id: uuid.UUID,
        principal: caller,
        session: Session,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> EvaluationList:
        return await reviews.list_evaluations(
            session, principal, plan_id, limit=limit, cursor=cursor
        )

    @router.get(
        "/plans/{plan_id}/goals/{goal_id}/achievements",
        response_model=AchievementHistory,
        operation_id=op("goal_achievements"),
        responses=READ_ERRORS,
        summary="A goal's achievement history: what each review found, oldest first",
    )
    async def goal_achievements(
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        principal: caller,
        session: Session,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> AchievementHistory:
        return await reviews.achievement_history(
            session, principal, plan_id, goal_id, limit=limit, cursor=cursor
        )

    @router.get(
        "/reviews/overdue",
        response_model=PlanPage,
        operation_id=op("overdue_reviews"),
        responses=READ_ERRORS,
        summary="Open plans in the caller's scope whose next review date has passed",
    )
    async def overdue_reviews(
        principal: caller,
        session: Session,
        mine: bool = Query(False, description="Only plans the caller coordinates."),
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PlanPage:
        rows, next_cursor = await reviews.overdue_reviews(
            session, principal, mine=mine, limit=limit, cursor=cursor
        )
        return PlanPage(items=[plan_summary(p, n) for p, n in rows], next_cursor=next_cursor)

    @router.get(
        "/indicators",
        response_model=IndicatorReport,
        operation_id=op("indicators"),
        responses=READ_ERRORS,
        summary="Quality indicators of the caller's own unit or office (small counts suppressed)",
    )
    async def unit_indicators(
        principal: caller,
        session: Session,
        start: date | None = _FROM,
        end: date | None = _TO,
    ) -> IndicatorReport:
        return await indicators.unit_indicators(session, principal, start, end)

    return router


@audit_router.get(
    "/indicators",
    response_model=IndicatorReport,
    operation_id="audit_indicators",
    responses=READ_ERRORS,
    summary="Quality indicators across units, or for one DPS unit or NAV office",
)
async def audited_indicators(
    principal: AuditorPrincipal,
    session: Session,
    org: OrgId | None = Query(None, description="A DPS unit or NAV office; all when left out."),
    start: date | None = _FROM,
    end: date | None = _TO,
) -> IndicatorReport:
    return await indicators.audited_indicators(session, principal, org, start, end)
