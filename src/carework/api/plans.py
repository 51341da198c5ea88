"""Plans: open one, list and find them, read and change one, and the EHR's status check."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Query, Request, Response

from carework import readmodel
from carework.http.params import ExpectedVersion, Page, Session
from carework.http.principal import Caller
from carework.http.responses import READ_ERRORS, SEARCH_ERRORS, created, plan_json
from carework.http.route import RouteTable
from carework.pdf import PDF_CONTENT, pdf_response
from carework.plans import service as plans
from carework.plans.schemas import (
    PlanCreate,
    PlanPage,
    PlanSearch,
    PlanSearchResult,
    PlanStatusQuery,
    PlanStatusRead,
    PlanSummary,
    PlanUpdate,
)
from carework.readmodel.schemas import DpsPlanRead, NavPlanRead
from carework.vocab import PlanStatus

#: The care team's plan routes, mounted by DPS and by NAV.
routes = RouteTable()
PLAN_READ = {"dps": DpsPlanRead, "nav": NavPlanRead}
#: A look-up whose criteria (a national id) come in a body, never in the URL.
_SEARCH = {"responses": SEARCH_ERRORS}
#: A PDF answer, with the read errors.
PDF_READ = {**READ_ERRORS, 200: {"description": "The plan as a PDF", "content": PDF_CONTENT}}


@routes.create("/plans", PLAN_READ, "Create a plan for a patient")
async def create_plan(
    body: PlanCreate, principal: Caller, session: Session, request: Request
) -> Any:
    return created(await plans.create_plan(session, principal, body), request)


@routes.read("/plans", PlanPage, "Plans in the caller's scope")
async def list_plans(
    principal: Caller,
    session: Session,
    page: Page,
    plan_status: PlanStatus | None = Query(None, alias="status"),
) -> PlanPage:
    rows, next_cursor = await plans.list_plans(
        session, principal, status=plan_status, limit=page.limit, cursor=page.cursor
    )
    return PlanPage(items=[PlanSummary.of(*row) for row in rows], next_cursor=next_cursor)


@routes.post(
    "/plans/search", response_model=PlanSearchResult, **_SEARCH,
    summary="Find a patient's plans by national id (kept out of the URL)",
)  # fmt: skip
async def search_plans(body: PlanSearch, principal: Caller, session: Session) -> PlanSearchResult:
    rows = await plans.search_plans(session, principal, body.nid)
    return PlanSearchResult(items=[PlanSummary.of(*row) for row in rows])


@routes.post(
    "/plans/status", response_model=PlanStatusRead, **_SEARCH,
    summary="Does the patient have an open plan here? (national id kept out of the URL)",
)  # fmt: skip
async def plan_status(body: PlanStatusQuery, principal: Caller, session: Session) -> PlanStatusRead:
    return await plans.plan_status(session, principal, body.nid)


@routes.read("/plans/{plan_id}", PLAN_READ, "The caller's view of a plan")
async def read_plan(plan_id: uuid.UUID, principal: Caller, session: Session) -> Any:
    return plan_json(await readmodel.read_plan(session, principal, plan_id))


@routes.get(
    "/plans/{plan_id}/pdf", response_class=Response, responses=PDF_READ,
    summary="The caller's view of a plan as a PDF (Norwegian; no national id number)",
)  # fmt: skip
async def read_plan_pdf(plan_id: uuid.UUID, principal: Caller, session: Session) -> Response:
    found = await readmodel.read_plan(session, principal, plan_id)
    return await pdf_response(readmodel.validated(found, principal.role), principal)


@routes.change("/plans/{plan_id}", PLAN_READ, "Change plan fields")
async def update_plan(
    plan_id: uuid.UUID,
    body: PlanUpdate,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    return plan_json(await plans.update_plan(session, principal, plan_id, expected, body))
