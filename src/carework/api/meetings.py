"""Joint meetings: called by one side, minutes its draft until released."""

from __future__ import annotations

import uuid

from fastapi import Response

from carework.http.params import IDEMPOTENT, ExpectedVersion, Limits, Page, Session
from carework.http.principal import Caller
from carework.http.responses import PATCH_ERRORS, with_etag
from carework.http.route import RouteTable
from carework.meetings import service as meetings
from carework.meetings.schemas import (
    MeetingCreate,
    MeetingList,
    MeetingRead,
    MeetingRelease,
    MeetingReleased,
    MeetingUpdate,
)

#: Mounted by DPS and by NAV.
routes = RouteTable()
#: The patient reads their plan's meetings.
patient_routes = RouteTable(shared=False)


@routes.create(
    "/plans/{plan_id}/meetings", MeetingRead,
    "Call a joint meeting; its minutes stay the caller's draft until released",
)  # fmt: skip
async def create_meeting(
    plan_id: uuid.UUID,
    body: MeetingCreate,
    principal: Caller,
    session: Session,
    response: Response,
) -> MeetingRead:
    meeting = await meetings.create_meeting(session, principal, plan_id, body)
    with_etag(response, meeting.version)
    return meeting


@routes.read(
    "/plans/{plan_id}/meetings", MeetingList,
    "The plan's joint meetings by time, with the minutes the caller may read",
)  # fmt: skip
async def list_meetings(
    plan_id: uuid.UUID, principal: Caller, session: Session, page: Page
) -> MeetingList:
    return await meetings.list_meetings(
        session, principal, plan_id, limit=page.limit, cursor=page.cursor
    )


@routes.change(
    "/plans/{plan_id}/meetings/{meeting_id}", MeetingRead,
    "Change a meeting the caller's side called, while its minutes are a draft",
)  # fmt: skip
async def update_meeting(
    plan_id: uuid.UUID,
    meeting_id: uuid.UUID,
    body: MeetingUpdate,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
    response: Response,
) -> MeetingRead:
    meeting = await meetings.update_meeting(session, principal, plan_id, meeting_id, expected, body)
    with_etag(response, meeting.version)
    return meeting


@routes.post(
    "/plans/{plan_id}/meetings/{meeting_id}/release",
    response_model=MeetingReleased,
    dependencies=IDEMPOTENT,
    responses=PATCH_ERRORS,
    summary="Release the minutes and create the agreed actions as activities",
)
async def release_meeting_minutes(
    plan_id: uuid.UUID,
    meeting_id: uuid.UUID,
    body: MeetingRelease,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
    limits: Limits,
    response: Response,
) -> MeetingReleased:
    released = await meetings.release_minutes(
        session, principal, plan_id, meeting_id, expected, body, limits
    )
    with_etag(response, released.version)
    return released


@patient_routes.read(
    "/plan/meetings", MeetingList, "My plan's joint meetings; minutes once released"
)
async def patient_list_meetings(principal: Caller, session: Session, page: Page) -> MeetingList:
    return await meetings.list_own_meetings(
        session, principal, limit=page.limit, cursor=page.cursor
    )
