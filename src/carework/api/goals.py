"""Goals and their progress notes."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request, status

from carework import readmodel
from carework.activities.schemas import EnteredInErrorMark
from carework.goals import service as goals
from carework.goals.schemas import GoalCreate, GoalUpdate
from carework.http.params import IDEMPOTENT, ExpectedVersion, Session
from carework.http.principal import Caller
from carework.http.responses import PATCH_ERRORS, READ_ERRORS, WRITE_ERRORS, plan_json
from carework.http.route import RouteTable
from carework.notes import service as notes
from carework.notes.schemas import NoteCreate
from carework.readmodel.schemas import GoalRead, NoteRead

#: Mounted by DPS and by NAV.
routes = RouteTable()


@routes.post(
    "/plans/{plan_id}/goals",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalRead,
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Add a goal the caller's side owns",
)
async def create_goal(
    plan_id: uuid.UUID, body: GoalCreate, principal: Caller, session: Session, request: Request
) -> Any:
    found = await goals.create_goal(session, principal, plan_id, body)
    location = f"{request.url.path}/{found.id}"
    return plan_json(found, status.HTTP_201_CREATED, Location=location)


@routes.get(
    "/plans/{plan_id}/goals/{goal_id}",
    response_model=GoalRead,
    responses=READ_ERRORS,
    summary="Read a goal with the notes the caller may see",
)
async def read_goal(
    plan_id: uuid.UUID, goal_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return plan_json(await readmodel.read_goal(session, principal, plan_id, goal_id))


@routes.patch(
    "/plans/{plan_id}/goals/{goal_id}",
    response_model=GoalRead,
    responses=PATCH_ERRORS,
    summary="Change a goal the caller's side owns (status moves are checked)",
)
async def update_goal(
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    body: GoalUpdate,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    return plan_json(await goals.update_goal(session, principal, plan_id, goal_id, expected, body))


@routes.post(
    "/plans/{plan_id}/goals/{goal_id}/entered-in-error",
    response_model=GoalRead,
    responses=PATCH_ERRORS,
    summary="Take back a goal recorded by mistake: it leaves the views, history keeps it",
)
async def mark_goal_entered_in_error(
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    body: EnteredInErrorMark,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    marked = await goals.mark_entered_in_error(
        session, principal, plan_id, goal_id, expected, body.reason
    )
    return plan_json(marked)


@routes.post(
    "/plans/{plan_id}/goals/{goal_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteRead,
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Add a progress note to a goal",
)
async def add_note(
    plan_id: uuid.UUID, goal_id: uuid.UUID, body: NoteCreate, principal: Caller, session: Session
) -> NoteRead:
    note = await notes.add_note(session, principal, plan_id, goal_id, body.text, body.visibility)
    return NoteRead.model_validate(note)


@routes.post(
    "/plans/{plan_id}/goals/{goal_id}/notes/{note_id}/entered-in-error",
    response_model=NoteRead,
    responses=WRITE_ERRORS,
    summary="Take back a note your side wrote by mistake: it leaves the views",
)
async def mark_note_entered_in_error(
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    note_id: uuid.UUID,
    body: EnteredInErrorMark,
    principal: Caller,
    session: Session,
) -> NoteRead:
    note = await notes.mark_entered_in_error(
        session, principal, plan_id, goal_id, note_id, body.reason
    )
    return NoteRead.model_validate(note)
