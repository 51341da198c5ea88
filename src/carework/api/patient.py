"""``/api/v1/patient``: the patient's own plan, through a citizen-facing client."""

import uuid
from typing import Any

from fastapi import Response, status

from carework import readmodel
from carework.access.guards import PatientPrincipal
from carework.api import _agreement_routes as agreement_routes
from carework.api import _meeting_routes as meeting_routes
from carework.api._common import (
    DELETE_ERRORS,
    IDEMPOTENT,
    READ_ERRORS,
    WRITE_ERRORS,
    Session,
    consent_read,
    plan_json,
)
from carework.api.route import AudienceRouter, UnitOfWorkRoute
from carework.audit import service as audit
from carework.audit.schemas import AccessLog, AccessLogEntry
from carework.consent import service as consent
from carework.consent.schemas import ConsentList, ConsentRead, PatientConsentCreate
from carework.goals import service as goals
from carework.goals.schemas import PatientGoalProposal
from carework.notes import service as notes
from carework.notes.schemas import PatientNoteCreate
from carework.pagination import Cursor, Limit
from carework.readmodel.schemas import GoalRead, NoteRead, PatientPlanRead

router = AudienceRouter(
    route_class=UnitOfWorkRoute,
    prefix="/api/v1/patient",
    tags=["patient"],
)
# Issue 7: agreeing to items and reading released meeting minutes, from their own modules.
router.include_router(agreement_routes.patient_router)
router.include_router(meeting_routes.patient_router)


@router.get(
    "/plan",
    response_model=PatientPlanRead,
    operation_id="patient_read_plan",
    responses=READ_ERRORS,
    summary="My plan",
)
async def read_plan(principal: PatientPrincipal, session: Session) -> Any:
    return plan_json(await readmodel.read_own_plan(session, principal))


@router.post(
    "/plan/goals",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalRead,
    operation_id="patient_propose_goal",
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Propose a goal; it waits as proposed until the owning side accepts it",
)
async def propose_goal(
    body: PatientGoalProposal, principal: PatientPrincipal, session: Session
) -> Any:
    return plan_json(await goals.propose_goal(session, principal, body), status.HTTP_201_CREATED)


@router.post(
    "/plan/goals/{goal_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteRead,
    operation_id="patient_add_note",
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Write a note on a goal, shared with the care team",
)
async def add_note(
    goal_id: uuid.UUID, body: PatientNoteCreate, principal: PatientPrincipal, session: Session
) -> NoteRead:
    note = await notes.add_patient_note(session, principal, goal_id, body.text)
    return NoteRead.model_validate(note)


@router.post(
    "/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentRead,
    operation_id="patient_grant_consent",
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Let NAV see treatment goals (and notes), until revoked or valid_until",
)
async def grant_consent(
    body: PatientConsentCreate, principal: PatientPrincipal, session: Session
) -> ConsentRead:
    return consent_read(await consent.grant_by_patient(session, principal, body))


@router.get(
    "/consents",
    response_model=ConsentList,
    operation_id="patient_list_consents",
    responses=READ_ERRORS,
    summary="My consents, active or not",
)
async def list_consents(principal: PatientPrincipal, session: Session) -> ConsentList:
    return ConsentList(items=[consent_read(r) for r in await consent.list_own(session, principal)])


@router.delete(
    "/consents/{consent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="patient_revoke_consent",
    responses=DELETE_ERRORS,
    summary="Revoke a consent; NAV loses sight from the next request on",
)
async def revoke_consent(
    consent_id: uuid.UUID, principal: PatientPrincipal, session: Session
) -> Response:
    await consent.revoke_own(session, principal, consent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/access-log",
    response_model=AccessLog,
    operation_id="patient_access_log",
    responses=READ_ERRORS,
    summary="Who read or changed my plan, newest first",
)
async def access_log(
    principal: PatientPrincipal, session: Session, limit: Limit = 50, cursor: Cursor = None
) -> AccessLog:
    events, next_cursor = await audit.access_log(session, principal, limit=limit, cursor=cursor)
    return AccessLog(
        items=[AccessLogEntry.model_validate(e) for e in events], next_cursor=next_cursor
    )
