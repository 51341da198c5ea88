"""``/api/v1/patient``: the patient's own plan, through a citizen-facing client."""

import uuid

from fastapi import APIRouter, Response, status

from carework.access.guards import PatientPrincipal
from carework.api._common import READ_ERRORS, WRITE_ERRORS, Session, goal_read, plan_read, with_etag
from carework.goals import service as goals
from carework.goals.schemas import GoalRead, PatientGoalProposal
from carework.notes import service as notes
from carework.notes.schemas import NoteRead, PatientNoteCreate
from carework.plans import service as plans
from carework.plans.schemas import PatientPlanRead

router = APIRouter(prefix="/api/v1/patient", tags=["patient"])


@router.get(
    "/plan",
    response_model=PatientPlanRead,
    operation_id="patient_read_plan",
    responses=READ_ERRORS,
    summary="My plan",
)
async def read_plan(
    principal: PatientPrincipal, session: Session, response: Response
) -> PatientPlanRead:
    view = await plans.read_own_plan(session, principal)
    with_etag(response, view.plan.version)
    return plan_read(PatientPlanRead, view)


@router.post(
    "/plan/goals",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalRead,
    operation_id="patient_propose_goal",
    responses=WRITE_ERRORS,
    summary="Propose a goal; it waits as proposed until the owning side accepts it",
)
async def propose_goal(
    body: PatientGoalProposal, principal: PatientPrincipal, session: Session, response: Response
) -> GoalRead:
    view = await goals.propose_goal(session, principal, body)
    with_etag(response, view.goal.version)
    return goal_read(view)


@router.post(
    "/plan/goals/{goal_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteRead,
    operation_id="patient_add_note",
    responses=WRITE_ERRORS,
    summary="Write a note on a goal, shared with the care team",
)
async def add_note(
    goal_id: uuid.UUID, body: PatientNoteCreate, principal: PatientPrincipal, session: Session
) -> NoteRead:
    note = await notes.add_patient_note(session, principal, goal_id, body.text)
    return NoteRead.model_validate(note)
