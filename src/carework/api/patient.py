"""``/api/v1/patient``: the patient's own plan, through a citizen-facing client."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status

from carework import readmodel
from carework.api import agreements, consents, meetings, trail
from carework.goals import service as goals
from carework.goals.schemas import PatientGoalProposal
from carework.http.params import Limits, Page, Session
from carework.http.principal import Caller
from carework.http.responses import READ_ERRORS, plan_json
from carework.http.route import AudienceRouter, RouteTable
from carework.notes import service as notes
from carework.notes.schemas import PatientNoteCreate
from carework.pdf import PDF_CONTENT, pdf_response
from carework.readmodel.schemas import GoalRead, NoteList, NoteRead, PatientPlanRead
from carework.vocab import Role

routes = RouteTable(shared=False)


@routes.read("/plan", PatientPlanRead, "My plan")
async def patient_read_plan(principal: Caller, session: Session) -> Any:
    return plan_json(await readmodel.read_own_plan(session, principal))


@routes.get(
    "/plan/pdf", response_class=Response,
    responses={**READ_ERRORS, 200: {"description": "My plan as a PDF", "content": PDF_CONTENT}},
    summary="My plan as a PDF, my copy (Norwegian; no national id number)",
)  # fmt: skip
async def patient_read_plan_pdf(principal: Caller, session: Session) -> Response:
    found = await readmodel.read_own_plan(session, principal)
    return await pdf_response(readmodel.validated(found, principal.role), principal)


@routes.create(
    "/plan/goals", GoalRead,
    "Propose a goal; it waits as proposed until the owning side accepts it",
)  # fmt: skip
async def patient_propose_goal(
    body: PatientGoalProposal, principal: Caller, session: Session, limits: Limits
) -> Any:
    proposed = await goals.propose_goal(session, principal, body, limits)
    return plan_json(proposed, status.HTTP_201_CREATED)


@routes.create(
    "/plan/goals/{goal_id}/notes", NoteRead, "Write a note on a goal, shared with the care team"
)
async def patient_add_note(
    goal_id: uuid.UUID, body: PatientNoteCreate, principal: Caller, session: Session
) -> NoteRead:
    note = await notes.add_patient_note(session, principal, goal_id, body.text)
    return NoteRead.model_validate(note)


@routes.read(
    "/plan/goals/{goal_id}/notes", NoteList,
    "Every note on a goal of my plan that I may see, newest first",
)  # fmt: skip
async def patient_list_notes(
    goal_id: uuid.UUID, principal: Caller, session: Session, page: Page
) -> NoteList:
    return await notes.list_own_notes(
        session, principal, goal_id, limit=page.limit, cursor=page.cursor
    )


router = AudienceRouter(prefix="/api/v1/patient", tag="patient", roles=(Role.patient,))
for table in (
    routes,
    consents.patient_routes,
    trail.patient_routes,
    agreements.patient_routes,
    meetings.patient_routes,
):
    table.mount(router, "patient")
