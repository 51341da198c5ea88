"""The patient's own pages: their plan, proposals, notes, consent and who has looked."""

from __future__ import annotations

import uuid

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from carework import readmodel
from carework.audit import service as audit
from carework.consent import service as consent
from carework.consent.schemas import PatientConsentCreate
from carework.errors import NotFound
from carework.goals import service as goals
from carework.goals.schemas import PatientGoalProposal
from carework.http.params import Limits, Session
from carework.notes import service as notes
from carework.notes.schemas import PatientNoteCreate
from carework.pdf import pdf_response
from carework.ui.forms import filled, parse
from carework.ui.pages import page, redirect
from carework.ui.plan_context import plan_context
from carework.ui.route import Posted, SignedIn, patient_router

router = patient_router


@router.get("", operation_id="ui_patient_plan", response_class=HTMLResponse)
async def my_plan(request: Request, principal: SignedIn, session: Session) -> Response:
    try:
        found = await readmodel.read_own_plan(session, principal)
    except NotFound:
        return page(request, "me.html", principal, plan=None)
    context = plan_context(principal, readmodel.validated(found, principal.role))
    context["consents"] = await consent.list_own(session, principal)
    context["access_log"], _ = await audit.access_log(session, principal, limit=50, cursor=None)
    return page(request, "me.html", principal, **context)


@router.get("/pdf", operation_id="ui_patient_read_plan_pdf")
async def my_plan_pdf(principal: SignedIn, session: Session) -> Response:
    """My copy of the plan: the same PDF as ``GET /api/v1/patient/plan/pdf``."""
    found = await readmodel.read_own_plan(session, principal)
    return await pdf_response(readmodel.validated(found, principal.role), principal)


@router.post("/goals", operation_id="ui_patient_propose_goal")
async def propose_goal(
    principal: SignedIn, session: Session, limits: Limits, form: Posted
) -> Response:
    body = parse(PatientGoalProposal, filled(form, "domain", "title", "description"))
    await goals.propose_goal(session, principal, body, limits)
    return redirect("/ui/me", ok="proposal")


@router.post("/goals/{goal_id}/notes", operation_id="ui_patient_add_note")
async def add_note(
    goal_id: uuid.UUID, principal: SignedIn, session: Session, form: Posted
) -> Response:
    body = parse(PatientNoteCreate, filled(form, "text"))
    await notes.add_patient_note(session, principal, goal_id, body.text)
    return redirect("/ui/me", ok="note")


@router.post("/consents", operation_id="ui_patient_grant_consent")
async def grant_consent(principal: SignedIn, session: Session, form: Posted) -> Response:
    body = parse(PatientConsentCreate, {"scopes": form.get("scopes", [])})
    await consent.grant_by_patient(session, principal, body)
    return redirect("/ui/me", ok="consent")


@router.post("/consents/{consent_id}/revoke", operation_id="ui_patient_revoke_consent")
async def revoke_consent(consent_id: uuid.UUID, principal: SignedIn, session: Session) -> Response:
    await consent.revoke_own(session, principal, consent_id)
    return redirect("/ui/me", ok="revoked")
