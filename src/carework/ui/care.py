"""The care team's pages: the plan list, a plan, its forms and its access log."""

from __future__ import annotations

import uuid
from typing import get_args

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from carework import readmodel
from carework.access.policy import (
    may_create_plan,
    may_grant_consent,
    may_read_access_log,
    may_read_consent_records,
)
from carework.access.roles import side_of
from carework.activities import service as activities
from carework.activities.schemas import ActivityCreate, ActivityUpdate
from carework.audit import service as audit
from carework.auth.principal import Principal
from carework.consent import service as consent
from carework.consent.schemas import RecordedConsentCreate
from carework.feed import service as feed
from carework.goals import service as goals
from carework.goals.schemas import GoalCreate, GoalUpdate
from carework.http.params import Limits, Session
from carework.lifecycle import (
    FINAL_ACTIVITY_STATUSES,
    FINAL_GOAL_STATUSES,
    PLAN_TRANSITIONS,
    final_statuses,
)
from carework.notes import service as notes
from carework.notes.schemas import NoteCreate
from carework.pdf import pdf_response
from carework.plans import service as plans
from carework.plans.schemas import PlanCreate, PlanUpdate
from carework.ui.confirm import confirm_page, needs_confirming
from carework.ui.forms import (
    Form,
    cursor_of,
    filled,
    form_end_of_day,
    form_version,
    one,
    parse,
    parse_changes,
    parse_sent,
)
from carework.ui.pages import page, paged, redirect
from carework.ui.plan_context import plan_context
from carework.ui.route import Posted, SignedIn, care_router
from carework.vocab import ConsentEvidence

#: The moves that cannot be undone, confirmed on a page of their own first.
FINAL_PLAN = {s.value for s in final_statuses(PLAN_TRANSITIONS)}
FINAL_GOAL = {s.value for s in FINAL_GOAL_STATUSES}
FINAL_ACTIVITY = {s.value for s in FINAL_ACTIVITY_STATUSES}

router = care_router

#: Rows per page of the plan list and of a plan's access log (``Neste side`` for more).
PLANS_PER_PAGE = 50
ACCESS_LOG_PER_PAGE = 100
#: How a clinician may record a consent given in person: what the API's schema accepts.
EVIDENCE_IN_PERSON: tuple[str, ...] = get_args(
    RecordedConsentCreate.model_fields["evidence"].annotation
)
PLAN = "/plans/{plan_id}"


async def _confirm(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    plan_id: uuid.UUID,
    form: Form,
    what: str,
    back: str,
) -> Response:
    """The confirmation step, shown only to someone who may read the plan (others get the
    same refusal as the move itself would give)."""
    await plans.plan_for_reading(session, principal, plan_id)
    return confirm_page(request, principal, form, what=what, back=back)


def _back(plan_id: uuid.UUID, saved: str) -> Response:
    """After a form post: back to the plan page, saying what was saved."""
    return redirect(f"/ui/plans/{plan_id}", ok=saved)


@router.get("/plans", operation_id="ui_list_plans", response_class=HTMLResponse)
async def list_plans(request: Request, principal: SignedIn, session: Session) -> Response:
    cursor = cursor_of(request)
    rows, next_cursor = await plans.list_plans(
        session, principal, status=None, limit=PLANS_PER_PAGE, cursor=cursor
    )
    return page(
        request, "plans.html", principal,
        rows=rows, may_create=may_create_plan(principal), side=side_of(principal).value,
        **paged("/ui/plans", cursor, next_cursor),
    )  # fmt: skip


@router.post("/plans", operation_id="ui_create_plan")
async def create_plan(principal: SignedIn, session: Session, form: Posted) -> Response:
    patient = {"nid": one(form, "nid") or "", "name": one(form, "patient_name") or ""}
    fields = filled(form, "dps_unit", "nav_office", "title", "main_goal", "status")
    plan = await plans.create_plan(session, principal, parse(PlanCreate, {"patient": patient,
                                                                           **fields}))  # fmt: skip
    return _back(plan.id, "plan")


@router.get(PLAN, operation_id="ui_read_plan", response_class=HTMLResponse)
async def read_plan(
    request: Request, plan_id: uuid.UUID, principal: SignedIn, session: Session
) -> Response:
    found = await readmodel.read_plan(session, principal, plan_id)
    # Who granted what is the clinic's record; NAV learns only which scopes are active.
    consents = (
        await consent.list_for_plan(session, principal, plan_id)
        if may_read_consent_records(principal)
        else None
    )
    history, _ = await feed.plan_history(session, principal, plan_id, after=None, limit=100)
    return page(
        request, "plan.html", principal,
        consents=consents, history=list(reversed(history)), evidences=EVIDENCE_IN_PERSON,
        may_record_consent=may_grant_consent(principal, ConsentEvidence.verbal),
        may_read_access_log=may_read_access_log(principal),
        **plan_context(principal, readmodel.validated(found, principal.role)),
    )  # fmt: skip


@router.get(f"{PLAN}/pdf", operation_id="ui_read_plan_pdf")
async def read_plan_pdf(plan_id: uuid.UUID, principal: SignedIn, session: Session) -> Response:
    """The same PDF as ``GET /api/v1/{dps,nav}/plans/{plan_id}/pdf``, for the signed-in person."""
    found = await readmodel.read_plan(session, principal, plan_id)
    return await pdf_response(readmodel.validated(found, principal.role), principal)


@router.post(f"{PLAN}/status", operation_id="ui_update_plan")
async def update_plan_status(
    request: Request, plan_id: uuid.UUID, principal: SignedIn, session: Session, form: Posted
) -> Response:
    if needs_confirming(form, FINAL_PLAN):
        what = "planen får en endelig status, og ingen kan endre den etterpå"
        back = f"/ui/plans/{plan_id}"
        return await _confirm(request, principal, session, plan_id, form, what, back)
    body = parse_sent(PlanUpdate, {"status": one(form, "status")})  # a status, never none
    await plans.update_plan(session, principal, plan_id, form_version(form), body)
    return _back(plan_id, "plan_status")


@router.post(f"{PLAN}/goals", operation_id="ui_create_goal")
async def create_goal(
    plan_id: uuid.UUID, principal: SignedIn, session: Session, limits: Limits, form: Posted
) -> Response:
    body = parse(GoalCreate, filled(form, "domain", "title", "description", "target_date"))
    await goals.create_goal(session, principal, plan_id, body, limits)
    return _back(plan_id, "goal")


@router.post(f"{PLAN}/goals/{{goal_id}}/status", operation_id="ui_update_goal")
async def update_goal_status(
    request: Request,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    principal: SignedIn,
    session: Session,
    form: Posted,
) -> Response:
    if needs_confirming(form, FINAL_GOAL):
        what = "målet avsluttes, og statusen kan ikke endres etterpå"
        back = f"/ui/plans/{plan_id}#goal-{goal_id}"
        return await _confirm(request, principal, session, plan_id, form, what, back)
    body = parse(GoalUpdate, filled(form, "status"))
    await goals.update_goal(session, principal, plan_id, goal_id, form_version(form), body)
    return _back(plan_id, "status")


@router.post(f"{PLAN}/goals/{{goal_id}}/notes", operation_id="ui_add_note")
async def add_note(
    plan_id: uuid.UUID, goal_id: uuid.UUID, principal: SignedIn, session: Session, form: Posted
) -> Response:
    body = parse(NoteCreate, filled(form, "text", "visibility"))
    await notes.add_note(session, principal, plan_id, goal_id, body.text, body.visibility)
    return _back(plan_id, "note")


@router.post(f"{PLAN}/activities", operation_id="ui_create_activity")
async def create_activity(
    plan_id: uuid.UUID, principal: SignedIn, session: Session, limits: Limits, form: Posted
) -> Response:
    fields = filled(form, "kind", "title", "goal_id", "responsible_person", "start", "end")
    body = parse(ActivityCreate, fields)
    await activities.create_activity(session, principal, plan_id, body, limits)
    return _back(plan_id, "activity")


@router.post(f"{PLAN}/activities/{{activity_id}}", operation_id="ui_update_activity")
async def update_activity(
    request: Request,
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    principal: SignedIn,
    session: Session,
    form: Posted,
) -> Response:
    if needs_confirming(form, FINAL_ACTIVITY):
        what = "aktiviteten avsluttes, og statusen kan ikke endres etterpå"
        back = f"/ui/plans/{plan_id}#activity-{activity_id}"
        return await _confirm(request, principal, session, plan_id, form, what, back)
    changes = ("status", "title", "responsible_person", "start", "end")
    body = parse_changes(ActivityUpdate, form, changes)
    version = form_version(form)
    await activities.update_activity(session, principal, plan_id, activity_id, version, body)
    return _back(plan_id, "activity_updated")


@router.post(f"{PLAN}/consents", operation_id="ui_record_consent")
async def record_consent(
    plan_id: uuid.UUID, principal: SignedIn, session: Session, form: Posted
) -> Response:
    given = {
        "scopes": form.get("scopes", []),
        "evidence": one(form, "evidence"),
        "valid_until": form_end_of_day(form, "valid_until"),
    }
    await consent.record_in_person(session, principal, plan_id, parse(RecordedConsentCreate, given))
    return _back(plan_id, "recorded")


@router.post(f"{PLAN}/consents/{{consent_id}}/revoke", operation_id="ui_revoke_consent")
async def revoke_recorded_consent(
    plan_id: uuid.UUID, consent_id: uuid.UUID, principal: SignedIn, session: Session
) -> Response:
    await consent.revoke(session, principal, plan_id, consent_id)
    return _back(plan_id, "revoked")


@router.get(f"{PLAN}/access-log", operation_id="ui_plan_access_log", response_class=HTMLResponse)
async def plan_access_log(
    request: Request, plan_id: uuid.UUID, principal: SignedIn, session: Session
) -> Response:
    """Who read or changed the plan, newest first (the patient's log, seen from the unit)."""
    cursor = cursor_of(request)
    events, next_cursor = await audit.plan_access_log(
        session, principal, plan_id, limit=ACCESS_LOG_PER_PAGE, cursor=cursor
    )
    plan, _ = await plans.plan_for_reading(session, principal, plan_id)
    return page(
        request, "access_log.html", principal, plan=plan, events=events,
        **paged(f"/ui/plans/{plan_id}/access-log", cursor, next_cursor),
    )  # fmt: skip
