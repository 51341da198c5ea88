"""Routes for joint meetings (issue 7). DPS and NAV mount ``meeting_routes`` with their own
principal; the patient reads their plan's meetings through ``patient_router``.

No ``from __future__ import annotations`` here: FastAPI must see the closure's real types.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from carework.access.guards import PatientPrincipal
from carework.api._common import (
    IDEMPOTENT,
    PATCH_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    Session,
    with_etag,
)
from carework.api.route import UnitOfWorkRoute
from carework.concurrency import ExpectedVersion
from carework.meetings import service as meetings
from carework.meetings.schemas import (
    MeetingCreate,
    MeetingList,
    MeetingRead,
    MeetingRelease,
    MeetingReleased,
    MeetingUpdate,
)
from carework.pagination import Cursor, Limit

patient_router = APIRouter(route_class=UnitOfWorkRoute)
audit_router = APIRouter(route_class=UnitOfWorkRoute)


def meeting_routes(*, side: str, caller: Any) -> APIRouter:
    """Build the meeting routes for one side (``dps`` or ``nav``)."""
    router = APIRouter(route_class=UnitOfWorkRoute)

    def op(name: str) -> str:
        return f"{side}_{name}"

    @router.post(
        "/plans/{plan_id}/meetings",
        status_code=status.HTTP_201_CREATED,
        response_model=MeetingRead,
        operation_id=op("create_meeting"),
        dependencies=IDEMPOTENT,
        responses=WRITE_ERRORS,
        summary="Call a joint meeting; its minutes stay the caller's draft until released",
    )
    async def create_meeting(
        plan_id: uuid.UUID,
        body: MeetingCreate,
        principal: caller,
        session: Session,
        response: Response,
    ) -> MeetingRead:
        meeting = await meetings.create_meeting(session, principal, plan_id, body)
        with_etag(response, meeting.version)
        return meeting

    @router.get(
        "/plans/{plan_id}/meetings",
        response_model=MeetingList,
        operation_id=op("list_meetings"),
        responses=READ_ERRORS,
        summary="The plan's joint meetings by time, with the minutes the caller may read",
    )
    async def list_meetings(
        plan_id: uuid.UUID,
        principal: caller,
        session: Session,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> MeetingList:
        return await meetings.list_meetings(session, principal, plan_id, limit=limit, cursor=cursor)

    @router.patch(
        "/plans/{plan_id}/meetings/{meeting_id}",
        response_model=MeetingRead,
        operation_id=op("update_meeting"),
        responses=PATCH_ERRORS,
        summary="Change a meeting the caller's side called, while its minutes are a draft",
    )
    async def update_meeting(
        plan_id: uuid.UUID,
        meeting_id: uuid.UUID,
        body: MeetingUpdate,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
        response: Response,
    ) -> MeetingRead:
        meeting = await meetings.update_meeting(
            session, principal, plan_id, meeting_id, expected, body
        )
        with_etag(response, meeting.version)
        return meeting

    @router.post(
        "/plans/{plan_id}/meetings/{meeting_id}/release",
        response_model=MeetingReleased,
        operation_id=op("release_meeting_minutes"),
        dependencies=IDEMPOTENT,
        responses=PATCH_ERRORS,
        summary="Release the minutes and create the agreed actions as activities",
    )
    async def release_meeting_minutes(
        plan_id: uuid.UUID,
        meeting_id: uuid.UUID,
        body: MeetingRelease,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
        response: Response,
    ) -> MeetingReleased:
        released = await meetings.release_minutes(
            session, principal, plan_id, meeting_id, expected, body
        )
        with_etag(response, released.version)
        return released

    return router


@patient_router.get(
    "/plan/meetings",
    response_model=MeetingList,
    operation_id="patient_list_meetings",
    responses=READ_ERRORS,
    summary="My plan's joint meetings; minutes once released",
)
async def patient_list_meetings(
    principal: PatientPrincipal, session: Session, limit: Limit = 50, cursor: Cursor = None
) -> MeetingList:
    return await meetings.list_own_meetings(session, principal, limit=limit, cursor=cursor)
