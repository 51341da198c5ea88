"""Activities (tiltak) and the care team."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request, status

from carework import readmodel
from carework.activities import service as activities
from carework.activities.schemas import ActivityCreate, ActivityUpdate, EnteredInErrorMark
from carework.http.params import IDEMPOTENT, ExpectedVersion, Session
from carework.http.principal import Caller
from carework.http.responses import PATCH_ERRORS, READ_ERRORS, WRITE_ERRORS, plan_json
from carework.http.route import RouteTable
from carework.readmodel.schemas import ActivityRead, TeamMemberRead
from carework.team import service as team
from carework.team.schemas import TeamMemberCreate

#: Mounted by DPS and by NAV.
routes = RouteTable()


@routes.post(
    "/plans/{plan_id}/activities",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivityRead,
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Add an activity the caller's side runs",
)
async def create_activity(
    plan_id: uuid.UUID,
    body: ActivityCreate,
    principal: Caller,
    session: Session,
    request: Request,
) -> Any:
    found = await activities.create_activity(session, principal, plan_id, body)
    location = f"{request.url.path}/{found.id}"
    return plan_json(found, status.HTTP_201_CREATED, Location=location)


@routes.get(
    "/plans/{plan_id}/activities/{activity_id}",
    response_model=ActivityRead,
    responses=READ_ERRORS,
    summary="Read an activity",
)
async def read_activity(
    plan_id: uuid.UUID, activity_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return plan_json(await readmodel.read_activity(session, principal, plan_id, activity_id))


@routes.patch(
    "/plans/{plan_id}/activities/{activity_id}",
    response_model=ActivityRead,
    responses=PATCH_ERRORS,
    summary="Change an activity the caller's side runs",
)
async def update_activity(
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: ActivityUpdate,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    changed = await activities.update_activity(
        session, principal, plan_id, activity_id, expected, body
    )
    return plan_json(changed)


@routes.post(
    "/plans/{plan_id}/activities/{activity_id}/entered-in-error",
    response_model=ActivityRead,
    responses=PATCH_ERRORS,
    summary="Take back an activity recorded by mistake: it leaves the views, history keeps it",
)
async def mark_activity_entered_in_error(
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: EnteredInErrorMark,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    marked = await activities.mark_entered_in_error(
        session, principal, plan_id, activity_id, expected, body.reason
    )
    return plan_json(marked)


@routes.post(
    "/plans/{plan_id}/team",
    status_code=status.HTTP_201_CREATED,
    response_model=TeamMemberRead,
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Name a person of the caller's side on the care team",
)
async def add_team_member(
    plan_id: uuid.UUID, body: TeamMemberCreate, principal: Caller, session: Session
) -> TeamMemberRead:
    member = await team.add_member(session, principal, plan_id, body)
    return TeamMemberRead.model_validate(member)
