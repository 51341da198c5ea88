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
from carework.notes import service as notes
from carework.notes.schemas import PatientNoteCreate
from carework.ui.forms import one, parse, read_form
from carework.ui.pages import page, redirect
from carework.ui.plan_context import plan_context
from carework.ui.route import SAME_ORIGIN, SignedIn, patient_router

router = patient_router


@router.get("", operation_id="ui_patient_plan", response_class=HTMLResponse)
async def my_plan(request: Request, principal: SignedIn) -> Response:
    session = request.state.session
    try:
        found = await readmodel.read_own_plan(session, principal)
    except NotFound:
        return page(request, "me.html", principal, plan=None)
    consents = await consent.list_own(session, principal)
    log, _ = await audit.access_log(session, principal, limit=50, cursor=None)
    return page(
        request, "me.html", principal, consents=consents, access_log=log,
        **plan_context(principal, readmodel.validated(found, principal.role)),
    )  # fmt: skip


@router.post("/goals", operation_id="ui_patient_propose_goal", dependencies=SAME_ORIGIN)
async def propose_goal(request: Request, principal: SignedIn) -> Response:
    form = await read_form(request)
    body = parse(
        PatientGoalProposal,
        {
            "domain": one(form, "domain"),
            "title": one(form, "title"),
            "description": one(form, "description"),
        },
    )
    await goals.propose_goal(request.state.session, principal, body)
    return redirect("/ui/me", ok="proposal")


@router.post("/goals/{goal_id}/notes", operation_id="ui_patient_add_note", dependencies=SAME_ORIGIN)
async def add_note(request: Request, goal_id: uuid.UUID, principal: SignedIn) -> Response:
    form = await read_form(request)
    body = parse(PatientNoteCreate, {"text": one(form, "text")})
    await notes.add_patient_note(request.state.session, principal, goal_id, body.text)
    return redirect("/ui/me", ok="note")


@router.post("/consents", operation_id="ui_patient_grant_consent", dependencies=SAME_ORIGIN)
async def grant_consent(request: Request, principal: SignedIn) -> Response:
    form = await read_form(request)
    body = parse(PatientConsentCreate, {"scopes": form.get("scopes", [])})
    await consent.grant_by_patient(request.state.session, principal, body)
    return redirect("/ui/me", ok="consent")


@router.post(
    "/consents/{consent_id}/revoke",
    operation_id="ui_patient_revoke_consent",
    dependencies=SAME_ORIGIN,
)
async def revoke_consent(request: Request, consent_id: uuid.UUID, principal: SignedIn) -> Response:
    await consent.revoke_own(request.state.session, principal, consent_id)
    return redirect("/ui/me", ok="revoked")
