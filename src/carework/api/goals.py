"""Goals and their progress notes."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from carework import readmodel
from carework.activities.schemas import EnteredInErrorMark
from carework.goals import service as goals
from carework.goals.schemas import GoalCreate, GoalUpdate
from carework.http.params import ExpectedVersion, Limits, Page, Session
from carework.http.principal import Caller
from carework.http.responses import PATCH_ERRORS, WRITE_ERRORS, created, plan_json
from carework.http.route import RouteTable
from carework.notes import service as notes
from carework.notes.schemas import NoteCreate
from carework.readmodel.schemas import GoalRead, NoteList, NoteRead

#: Mounted by DPS and by NAV.
routes = RouteTable()
GOAL = "/plans/{plan_id}/goals/{goal_id}"


@routes.create("/plans/{plan_id}/goals", GoalRead, "Add a goal the caller's side owns")
async def create_goal(
    plan_id: uuid.UUID,
    body: GoalCreate,
    principal: Caller,
    session: Session,
    limits: Limits,
    request: Request,
) -> Any:
    return created(await goals.create_goal(session, principal, plan_id, body, limits), request)


@routes.read(GOAL, GoalRead, "Read a goal with the notes the caller may see")
async def read_goal(
    plan_id: uuid.UUID, goal_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return plan_json(await readmodel.read_goal(session, principal, plan_id, goal_id))


@routes.change(GOAL, GoalRead, "Change a goal the caller's side owns (status moves are checked)")
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
    f"{GOAL}/entered-in-error", response_model=GoalRead, responses=PATCH_ERRORS,
    summary="Take back a goal recorded by mistake: it leaves the views, history keeps it",
)  # fmt: skip
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


@routes.create(f"{GOAL}/notes", NoteRead, "Add a progress note to a goal")
async def add_note(
    plan_id: uuid.UUID, goal_id: uuid.UUID, body: NoteCreate, principal: Caller, session: Session
) -> NoteRead:
    note = await notes.add_note(session, principal, plan_id, goal_id, body.text, body.visibility)
    return NoteRead.model_validate(note)


@routes.read(
    f"{GOAL}/notes", NoteList,
    "Every note on a goal the caller may see, newest first (the plan view has the newest 20)",
)  # fmt: skip
async def list_notes(
    plan_id: uuid.UUID, goal_id: uuid.UUID, principal: Caller, session: Session, page: Page
) -> NoteList:
    return await notes.list_notes(
        session, principal, plan_id, goal_id, limit=page.limit, cursor=page.cursor
    )


@routes.post(
    f"{GOAL}/notes/{{note_id}}/entered-in-error", response_model=NoteRead,
    responses=WRITE_ERRORS,
    summary="Take back a note your side wrote by mistake: it leaves the views",
)  # fmt: skip
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
