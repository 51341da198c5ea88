"""Activities (tiltak) and the care team."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from carework import readmodel
from carework.activities import service as activities
from carework.activities.schemas import ActivityCreate, ActivityUpdate, EnteredInErrorMark
from carework.http.params import ExpectedVersion, Limits, Session
from carework.http.principal import Caller
from carework.http.responses import PATCH_ERRORS, created, plan_json
from carework.http.route import RouteTable
from carework.readmodel.schemas import ActivityRead, TeamMemberRead
from carework.team import service as team
from carework.team.schemas import TeamMemberCreate

#: Mounted by DPS and by NAV.
routes = RouteTable()
ACTIVITY = "/plans/{plan_id}/activities/{activity_id}"


@routes.create(
    "/plans/{plan_id}/activities", ActivityRead, "Add an activity the caller's side runs"
)
async def create_activity(
    plan_id: uuid.UUID,
    body: ActivityCreate,
    principal: Caller,
    session: Session,
    limits: Limits,
    request: Request,
) -> Any:
    added = await activities.create_activity(session, principal, plan_id, body, limits)
    return created(added, request)


@routes.read(ACTIVITY, ActivityRead, "Read an activity")
async def read_activity(
    plan_id: uuid.UUID, activity_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return plan_json(await readmodel.read_activity(session, principal, plan_id, activity_id))


@routes.change(ACTIVITY, ActivityRead, "Change an activity the caller's side runs")
async def update_activity(
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    body: ActivityUpdate,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    return plan_json(
        await activities.update_activity(session, principal, plan_id, activity_id, expected, body)
    )


@routes.post(
    f"{ACTIVITY}/entered-in-error", response_model=ActivityRead, responses=PATCH_ERRORS,
    summary="Take back an activity recorded by mistake: it leaves the views, history keeps it",
)  # fmt: skip
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


@routes.create(
    "/plans/{plan_id}/team", TeamMemberRead, "Name a person of the caller's side on the care team"
)
async def add_team_member(
    plan_id: uuid.UUID, body: TeamMemberCreate, principal: Caller, session: Session
) -> TeamMemberRead:
    return TeamMemberRead.model_validate(await team.add_member(session, principal, plan_id, body))
