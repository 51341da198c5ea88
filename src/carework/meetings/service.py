"""Joint meetings (samarbeidsmøter): the side that calls one keeps its agenda and draft minutes;
releasing the minutes shows them to the others and turns the agreed actions into activities."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.policy import ensure_may_change_meeting
from carework.access.roles import side_of
from carework.access.scope import params, scoped
from carework.access.sensitivity import GENERAL
from carework.access.visibility import View
from carework.activities.schemas import ActivityCreate
from carework.activities.service import add_activity
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.bodies import sent_changes
from carework.config import PlanLimits
from carework.errors import Conflict, RuleViolation
from carework.feed import outbox as feed
from carework.meetings.schemas import (
    MeetingAction,
    MeetingCreate,
    MeetingList,
    MeetingRead,
    MeetingRelease,
    MeetingReleased,
    MeetingUpdate,
)
from carework.models.meeting import Meeting
from carework.paging import decode_key, page
from carework.plans import repository as plans
from carework.plans.service import ensure_open, plan_for_reading, plan_for_writing
from carework.plans.size import ensure_room
from carework.versions import Versions, ensure_version
from carework.vocab import EventType, MinutesStatus, Side


def shown(meeting: Meeting, view: View) -> MeetingRead:
    """The meeting as this caller may see it: minutes only where ``View.sees_minutes``."""
    read = MeetingRead.model_validate(meeting)
    if not view.sees_minutes(meeting.created_by_side, meeting.minutes_status):
        read = read.model_copy(update={"minutes": None})
    return read


async def _changeable(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, meeting_id: uuid.UUID
) -> plans.InPlan[Meeting]:
    """The meeting, locked, if the caller's side called it, the plan is open and the minutes
    are still a draft."""
    found = await plans.find(session, principal, plan_id, Meeting, meeting_id, lock=True)
    ensure_open(found.plan)
    ensure_may_change_meeting(principal, found.item.created_by_side)
    _ensure_draft(found.item)
    return found


def _ensure_draft(meeting: Meeting) -> None:
    if MinutesStatus(meeting.minutes_status) is MinutesStatus.released:
        raise Conflict("The minutes are released; the meeting can no longer be changed.")


async def create_meeting(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: MeetingCreate
) -> MeetingRead:
    plan, view = await plan_for_writing(session, principal, plan_id)
    meeting = Meeting(
        id=uuid.uuid4(),
        plan_id=plan.id,
        scheduled_at=body.scheduled_at,
        location=body.location,
        agenda=body.agenda,
        participants=[p.model_dump(mode="json") for p in body.participants],
        created_by_sub=principal.sub,
        created_by_side=side_of(principal).value,
    )
    session.add(meeting)
    touch(resource=("meeting", meeting.id))
    await session.flush()
    await feed.record(
        session, principal, type=EventType.meeting_created, of=GENERAL, plan_id=plan.id,
        resource=("meeting", meeting.id), version=meeting.version,
        data={"scheduled_at": meeting.scheduled_at.isoformat()},
    )  # fmt: skip
    return shown(meeting, view)


async def list_meetings(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> MeetingList:
    """The plan's meetings by scheduled time, a page at a time."""
    _, view = await plan_for_reading(session, principal, plan_id)
    key = (Meeting.scheduled_at, Meeting.id)
    stmt = scoped(principal.role).meetings(Meeting).order_by(*key).limit(limit + 1)
    if cursor is not None:
        stmt = stmt.where(tuple_(*key) > tuple_(*decode_key(cursor, datetime, uuid.UUID)))
    rows = (await session.scalars(stmt, params(principal, plan_id=plan_id))).all()
    meetings, next_cursor = page(rows, limit, lambda m: (m.scheduled_at, m.id))
    return MeetingList(items=[shown(m, view) for m in meetings], next_cursor=next_cursor)


async def list_own_meetings(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> MeetingList:
    """The patient's own plan's meetings."""
    plan_id = await plans.own_plan_id(session, principal)
    return await list_meetings(session, principal, plan_id, limit=limit, cursor=cursor)


async def update_meeting(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    meeting_id: uuid.UUID,
    expected_version: Versions,
    body: MeetingUpdate,
) -> MeetingRead:
    found = await _changeable(session, principal, plan_id, meeting_id)
    meeting, view = found.item, found.view
    ensure_version(meeting.version, expected_version)
    changes = sent_changes(body, required=("scheduled_at", "participants"))
    if "participants" in changes:
        changes["participants"] = [p.model_dump(mode="json") for p in body.participants or ()]
    for field, value in changes.items():
        setattr(meeting, field, value)
    meeting.version += 1
    await session.flush()
    await feed.record(
        session, principal, type=EventType.meeting_updated, of=GENERAL, plan_id=plan_id,
        resource=("meeting", meeting.id), version=meeting.version,
        data={"changed": sorted(changes)},
    )  # fmt: skip
    return shown(meeting, view)


async def release_minutes(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    meeting_id: uuid.UUID,
    expected_version: Versions,
    body: MeetingRelease,
    limits: PlanLimits,
) -> MeetingReleased:
    """Release the minutes and create the agreed actions in one transaction, if the plan has
    room for them all as open activities. An action may fall to the other side: it was agreed
    jointly, and ``meeting_id`` records where."""
    found = await _changeable(session, principal, plan_id, meeting_id)
    plan, meeting, view = found.plan, found.item, found.view
    ensure_version(meeting.version, expected_version)
    if not (meeting.minutes or "").strip():
        raise RuleViolation("Write the minutes before releasing them.")
    if body.actions:
        await ensure_room(session, plan.id, "activity", limits, adding=len(body.actions))
    meeting.minutes_status = MinutesStatus.released.value
    meeting.released_at = func.now()
    meeting.released_by_sub = principal.sub
    meeting.version += 1
    await session.flush()
    await session.refresh(meeting, ["released_at"])
    await feed.record(
        session, principal, type=EventType.meeting_released, plan_id=plan_id,
        resource=("meeting", meeting.id), version=meeting.version,
        of=sensitivity.of_meeting_minutes(meeting.created_by_side),
        data={"actions": len(body.actions)},
    )  # fmt: skip
    activity_ids = []
    for action in body.actions:
        activity = await add_activity(
            session, principal, plan, Side(action.responsible_side), _as_activity(action),
            meeting_id=meeting.id,
        )  # fmt: skip
        activity_ids.append(activity.id)
    return MeetingReleased(**shown(meeting, view).model_dump(), activity_ids=activity_ids)


def _as_activity(action: MeetingAction) -> ActivityCreate:
    return ActivityCreate(
        goal_id=action.goal_id,
        kind=action.kind,
        title=action.title,
        responsible_person=action.responsible_person,
        start=action.start,
        end=action.end,
    )
