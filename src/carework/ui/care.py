"""The care team's pages: the plan list, a plan, its forms and its access log."""

from __future__ import annotations

import uuid
from typing import get_args

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

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
from carework.consent import service as consent
from carework.consent.schemas import RecordedConsentCreate
from carework.feed import service as feed
from carework.goals import service as goals
from carework.goals.schemas import GoalCreate, GoalUpdate
from carework.notes import service as notes
from carework.notes.schemas import NoteCreate
from carework.plans import service as plans
from carework.plans.schemas import PlanCreate, PlanUpdate
from carework.ui.forms import (
    cursor_of,
    form_end_of_day,
    form_uuid,
    form_version,
    one,
    parse,
    parse_changes,
    parse_sent,
    read_form,
)
from carework.ui.pages import page, paged, redirect
from carework.ui.plan_context import plan_context
from carework.ui.route import SAME_ORIGIN, SignedIn, care_router
from carework.vocab import ConsentEvidence

router = care_router

#: Rows per page of the plan list and of a plan's access log (``Neste side`` for more).
PLANS_PER_PAGE = 50
ACCESS_LOG_PER_PAGE = 100
#: How a clinician may record a consent given in person: what the API's schema accepts.
EVIDENCE_IN_PERSON: tuple[str, ...] = get_args(
    RecordedConsentCreate.model_fields["evidence"].annotation
)


@router.get("/plans", operation_id="ui_list_plans", response_class=HTMLResponse)
async def list_plans(request: Request, principal: SignedIn) -> Response:
    cursor = cursor_of(request)
    rows, next_cursor = await plans.list_plans(
        request.state.session, principal, status=None, limit=PLANS_PER_PAGE, cursor=cursor
    )
    return page(
        request, "plans.html", principal,
        rows=rows, may_create=may_create_plan(principal), side=side_of(principal).value,
        **paged("/ui/plans", cursor, next_cursor),
    )  # fmt: skip


@router.post("/plans", operation_id="ui_create_plan", dependencies=SAME_ORIGIN)
async def create_plan(request: Request, principal: SignedIn) -> Response:
    form = await read_form(request)
    body = parse(
        PlanCreate,
        {
            "patient": {"nid": one(form, "nid") or "", "name": one(form, "patient_name") or ""},
            "dps_unit": one(form, "dps_unit"),
            "nav_office": one(form, "nav_office"),
            "title": one(form, "title"),
            "main_goal": one(form, "main_goal"),
            "status": one(form, "status"),
        },
    )
    plan = await plans.create_plan(request.state.session, principal, body)
    return redirect(f"/ui/plans/{plan.id}", ok="plan")


@router.get("/plans/{plan_id}", operation_id="ui_read_plan", response_class=HTMLResponse)
async def read_plan(request: Request, plan_id: uuid.UUID, principal: SignedIn) -> Response:
    session = request.state.session
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


@router.post("/plans/{plan_id}/goals", operation_id="ui_create_goal", dependencies=SAME_ORIGIN)
async def create_goal(request: Request, plan_id: uuid.UUID, principal: SignedIn) -> Response:
    form = await read_form(request)
    body = parse(
        GoalCreate,
        {
            "domain": one(form, "domain"),
            "title": one(form, "title"),
            "description": one(form, "description"),
            "target_date": one(form, "target_date"),
        },
    )
    await goals.create_goal(request.state.session, principal, plan_id, body)
    return redirect(f"/ui/plans/{plan_id}", ok="goal")


@router.post(
    "/plans/{plan_id}/goals/{goal_id}/status",
    operation_id="ui_update_goal",
    dependencies=SAME_ORIGIN,
)
async def update_goal_status(
    request: Request, plan_id: uuid.UUID, goal_id: uuid.UUID, principal: SignedIn
) -> Response:
    form = await read_form(request)
    version = form_version(form)
    body = parse(GoalUpdate, {"status": one(form, "status")})
    await goals.update_goal(request.state.session, principal, plan_id, goal_id, version, body)
    return redirect(f"/ui/plans/{plan_id}", ok="status")


@router.post("/plans/{plan_id}/status", operation_id="ui_update_plan", dependencies=SAME_ORIGIN)
async def update_plan_status(request: Request, plan_id: uuid.UUID, principal: SignedIn) -> Response:
    form = await read_form(request)
    version = form_version(form)
    body = parse_sent(PlanUpdate, {"status": one(form, "status")})  # a status, never none
    await plans.update_plan(request.state.session, principal, plan_id, version, body)
    return redirect(f"/ui/plans/{plan_id}", ok="plan_status")


@router.post(
    "/plans/{plan_id}/goals/{goal_id}/notes", operation_id="ui_add_note", dependencies=SAME_ORIGIN
)
async def add_note(
    request: Request, plan_id: uuid.UUID, goal_id: uuid.UUID, principal: SignedIn
) -> Response:
    form = await read_form(request)
    body = parse(NoteCreate, {"text": one(form, "text"), "visibility": one(form, "visibility")})
    await notes.add_note(
        request.state.session, principal, plan_id, goal_id, body.text, body.visibility
    )
    return redirect(f"/ui/plans/{plan_id}", ok="note")


@router.post(
    "/plans/{plan_id}/activities", operation_id="ui_create_activity", dependencies=SAME_ORIGIN
)
async def create_activity(request: Request, plan_id: uuid.UUID, principal: SignedIn) -> Response:
    form = await read_form(request)
    body = parse(
        ActivityCreate,
        {
            "kind": one(form, "kind"),
            "title": one(form, "title"),
            "goal_id": form_uuid(form, "goal_id"),
            "responsible_person": one(form, "responsible_person"),
            "start": one(form, "start"),
            "end": one(form, "end"),
        },
    )
    await activities.create_activity(request.state.session, principal, plan_id, body)
    return redirect(f"/ui/plans/{plan_id}", ok="activity")


@router.post(
    "/plans/{plan_id}/activities/{activity_id}",
    operation_id="ui_update_activity",
    dependencies=SAME_ORIGIN,
)
async def update_activity(
    request: Request, plan_id: uuid.UUID, activity_id: uuid.UUID, principal: SignedIn
) -> Response:
    form = await read_form(request)
    version = form_version(form)
    body = parse_changes(
        ActivityUpdate, form, ("status", "title", "responsible_person", "start", "end")
    )
    await activities.update_activity(
        request.state.session, principal, plan_id, activity_id, version, body
    )
    return redirect(f"/ui/plans/{plan_id}", ok="activity_updated")


@router.post(
    "/plans/{plan_id}/consents", operation_id="ui_record_consent", dependencies=SAME_ORIGIN
)
async def record_consent(request: Request, plan_id: uuid.UUID, principal: SignedIn) -> Response:
    form = await read_form(request)
    body = parse(
        RecordedConsentCreate,
        {
            "scopes": form.get("scopes", []),
            "evidence": one(form, "evidence"),
            "valid_until": form_end_of_day(form, "valid_until"),
        },
    )
    await consent.record_in_person(request.state.session, principal, plan_id, body)
    return redirect(f"/ui/plans/{plan_id}", ok="recorded")


@router.post(
    "/plans/{plan_id}/consents/{consent_id}/revoke",
    operation_id="ui_revoke_consent",
    dependencies=SAME_ORIGIN,
)
async def revoke_recorded_consent(
    request: Request, plan_id: uuid.UUID, consent_id: uuid.UUID, principal: SignedIn
) -> Response:
    await consent.revoke(request.state.session, principal, plan_id, consent_id)
    return redirect(f"/ui/plans/{plan_id}", ok="revoked")


@router.get(
    "/plans/{plan_id}/access-log", operation_id="ui_plan_access_log", response_class=HTMLResponse
)
async def plan_access_log(request: Request, plan_id: uuid.UUID, principal: SignedIn) -> Response:
    """Who read or changed the plan, newest first (the patient's log, seen from the unit)."""
    session = request.state.session
    cursor = cursor_of(request)
    events, next_cursor = await audit.plan_access_log(
        session, principal, plan_id, limit=ACCESS_LOG_PER_PAGE, cursor=cursor
    )
    plan, _ = await plans.plan_for_reading(session, principal, plan_id)
    return page(
        request, "access_log.html", principal, plan=plan, events=events,
        **paged(f"/ui/plans/{plan_id}/access-log", cursor, next_cursor),
    )  # fmt: skip
