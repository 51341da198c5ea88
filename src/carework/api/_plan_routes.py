"""The plan routes DPS and NAV share. Each side mounts them with its own principal and views.

No ``from __future__ import annotations`` here: FastAPI must see the closure's real types.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Query, Response, status

from carework import readmodel
from carework.activities import service as activities
from carework.activities.schemas import ActivityCreate, ActivityUpdate, EnteredInErrorMark
from carework.api._common import (
    IDEMPOTENT,
    PATCH_ERRORS,
    READ_ERRORS,
    SEARCH_ERRORS,
    WRITE_ERRORS,
    Session,
    change_read,
    plan_json,
    plan_summary,
)
from carework.api.route import UnitOfWorkRoute
from carework.concurrency import ExpectedVersion
from carework.feed import service as feed
from carework.feed.schemas import FeedPage, HistoryPage
from carework.goals import service as goals
from carework.goals.schemas import GoalCreate, GoalUpdate
from carework.notes import service as notes
from carework.notes.schemas import NoteCreate
from carework.pagination import Cursor, Limit
from carework.plans import service as plans
from carework.plans.schemas import PlanCreate, PlanPage, PlanSearch, PlanSearchResult, PlanUpdate
from carework.readmodel.schemas import ActivityRead, GoalRead, NoteRead, TeamMemberRead
from carework.team import service as team
from carework.team.schemas import TeamMemberCreate
from carework.vocab import PlanStatus


def plan_routes(*, side: str, caller: Any, plan_schema: type[Any]) -> APIRouter:
    """Build ``/plans/...`` for one side. ``caller`` is that side's principal dependency."""
    router = APIRouter(route_class=UnitOfWorkRoute)
    base = f"/api/v1/{side}/plans"

    def op(name: str) -> str:
        return f"{side}_{name}"

    @router.post(
        "/plans",
        status_code=status.HTTP_201_CREATED,
        response_model=plan_schema,
        operation_id=op("create_plan"),
        dependencies=IDEMPOTENT,
        responses=WRITE_ERRORS,
        summary="Create a plan for a patient",
    )
    async def create_plan(
        body: PlanCreate, principal: caller, session: Session, response: Response
    ) -> Any:
        found = await plans.create_plan(session, principal, body)
        return plan_json(found, status.HTTP_201_CREATED, Location=f"{base}/{found.id}")

    @router.get(
        "/plans",
        response_model=PlanPage,
        operation_id=op("list_plans"),
        responses=READ_ERRORS,
        summary="Plans in the caller's scope",
    )
    async def list_plans(
        principal: caller,
        session: Session,
        plan_status: PlanStatus | None = Query(None, alias="status"),
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PlanPage:
        rows, next_cursor = await plans.list_plans(
            session, principal, status=plan_status, limit=limit, cursor=cursor
        )
        return PlanPage(items=[plan_summary(*row) for row in rows], next_cursor=next_cursor)

    @router.post(
        "/plans/search",
        response_model=PlanSearchResult,
        operation_id=op("search_plans"),
        responses=SEARCH_ERRORS,
        summary="Find a patient's plans by national id (kept out of the URL)",
    )
    async def search_plans(
        body: PlanSearch, principal: caller, session: Session
    ) -> PlanSearchResult:
        rows = await plans.search_plans(session, principal, body.nid)
        return PlanSearchResult(items=[plan_summary(*row) for row in rows])

    @router.get(
        "/plans/{plan_id}",
        response_model=plan_schema,
        operation_id=op("read_plan"),
        responses=READ_ERRORS,
        summary="The caller's view of a plan",
    )
    async def read_plan(plan_id: uuid.UUID, principal: caller, session: Session) -> Any:
        return plan_json(await readmodel.read_plan(session, principal, plan_id))

    @router.patch(
        "/plans/{plan_id}",
        response_model=plan_schema,
        operation_id=op("update_plan"),
        responses=PATCH_ERRORS,
        summary="Change plan fields",
    )
    async def update_plan(
        plan_id: uuid.UUID,
        body: PlanUpdate,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
    ) -> Any:
        return plan_json(await plans.update_plan(session, principal, plan_id, expected, body))

    @router.post(
        "/plans/{plan_id}/goals",
        status_code=status.HTTP_201_CREATED,
        response_model=GoalRead,
        operation_id=op("create_goal"),
        dependencies=IDEMPOTENT,
        responses=WRITE_ERRORS,
        summary="Add a goal the caller's side owns",
    )
    async def create_goal(
        plan_id: uuid.UUID,
        body: GoalCreate,
        principal: caller,
        session: Session,
    ) -> Any:
        found = await goals.create_goal(session, principal, plan_id, body)
        return plan_json(
            found, status.HTTP_201_CREATED, Location=f"{base}/{plan_id}/goals/{found.id}"
        )

    @router.get(
        "/plans/{plan_id}/goals/{goal_id}",
        response_model=GoalRead,
        operation_id=op("read_goal"),
        responses=READ_ERRORS,
        summary="Read a goal with the notes the caller may see",
    )
    async def read_goal(
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        principal: caller,
        session: Session,
    ) -> Any:
        return plan_json(await readmodel.read_goal(session, principal, plan_id, goal_id))

    @router.patch(
        "/plans/{plan_id}/goals/{goal_id}",
        response_model=GoalRead,
        operation_id=op("update_goal"),
        responses=PATCH_ERRORS,
        summary="Change a goal the caller's side owns (status moves are checked)",
    )
    async def update_goal(
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        body: GoalUpdate,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
    ) -> Any:
        return plan_json(
            await goals.update_goal(session, principal, plan_id, goal_id, expected, body)
        )

    @router.post(
        "/plans/{plan_id}/goals/{goal_id}/notes",
        status_code=status.HTTP_201_CREATED,
        response_model=NoteRead,
        operation_id=op("add_note"),
        dependencies=IDEMPOTENT,
        responses=WRITE_ERRORS,
        summary="Add a progress note to a goal",
    )
    async def add_note(
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        body: NoteCreate,
        principal: caller,
        session: Session,
    ) -> NoteRead:
        note = await notes.add_note(
            session, principal, plan_id, goal_id, body.text, body.visibility
        )
        return NoteRead.model_validate(note)

    @router.post(
        "/plans/{plan_id}/goals/{goal_id}/entered-in-error",
        response_model=GoalRead,
        operation_id=op("mark_goal_entered_in_error"),
        responses=PATCH_ERRORS,
        summary="Take back a goal recorded by mistake: it leaves the views, history keeps it",
    )
    async def mark_goal_entered_in_error(
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        body: EnteredInErrorMark,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
    ) -> Any:
        return plan_json(
            await goals.mark_entered_in_error(
                session, principal, plan_id, goal_id, expected, body.reason
            )
        )

    @router.post(
        "/plans/{plan_id}/goals/{goal_id}/notes/{note_id}/entered-in-error",
        response_model=NoteRead,
        operation_id=op("mark_note_entered_in_error"),
        responses=WRITE_ERRORS,
        summary="Take back a note your side wrote by mistake: it leaves the views",
    )
    async def mark_note_entered_in_error(
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        note_id: uuid.UUID,
        body: EnteredInErrorMark,
        principal: caller,
        session: Session,
    ) -> NoteRead:
        note = await notes.mark_entered_in_error(
            session, principal, plan_id, goal_id, note_id, body.reason
        )
        return NoteRead.model_validate(note)

    @router.post(
        "/plans/{plan_id}/activities",
        status_code=status.HTTP_201_CREATED,
        response_model=ActivityRead,
        operation_id=op("create_activity"),
        dependencies=IDEMPOTENT,
        responses=WRITE_ERRORS,
        summary="Add an activity the caller's side runs",
    )
    async def create_activity(
        plan_id: uuid.UUID,
        body: ActivityCreate,
        principal: caller,
        session: Session,
    ) -> Any:
        found = await activities.create_activity(session, principal, plan_id, body)
        location = f"{base}/{plan_id}/activities/{found.id}"
        return plan_json(found, status.HTTP_201_CREATED, Location=location)

    @router.get(
        "/plans/{plan_id}/activities/{activity_id}",
        response_model=ActivityRead,
        operation_id=op("read_activity"),
        responses=READ_ERRORS,
        summary="Read an activity",
    )
    async def read_activity(
        plan_id: uuid.UUID,
        activity_id: uuid.UUID,
        principal: caller,
        session: Session,
    ) -> Any:
        return plan_json(await readmodel.read_activity(session, principal, plan_id, activity_id))

    @router.patch(
        "/plans/{plan_id}/activities/{activity_id}",
        response_model=ActivityRead,
        operation_id=op("update_activity"),
        responses=PATCH_ERRORS,
        summary="Change an activity the caller's side runs",
    )
    async def update_activity(
        plan_id: uuid.UUID,
        activity_id: uuid.UUID,
        body: ActivityUpdate,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
    ) -> Any:
        return plan_json(
            await activities.update_activity(
                session, principal, plan_id, activity_id, expected, body
            )
        )

    @router.post(
        "/plans/{plan_id}/activities/{activity_id}/entered-in-error",
        response_model=ActivityRead,
        operation_id=op("mark_activity_entered_in_error"),
        responses=PATCH_ERRORS,
        summary="Take back an activity recorded by mistake: it leaves the views, history keeps it",
    )
    async def mark_activity_entered_in_error(
        plan_id: uuid.UUID,
        activity_id: uuid.UUID,
        body: EnteredInErrorMark,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
    ) -> Any:
        return plan_json(
            await activities.mark_entered_in_error(
                session, principal, plan_id, activity_id, expected, body.reason
            )
        )

    @router.post(
        "/plans/{plan_id}/team",
        status_code=status.HTTP_201_CREATED,
        response_model=TeamMemberRead,
        operation_id=op("add_team_member"),
        dependencies=IDEMPOTENT,
        responses=WRITE_ERRORS,
        summary="Name a person of the caller's side on the care team",
    )
    async def add_team_member(
        plan_id: uuid.UUID, body: TeamMemberCreate, principal: caller, session: Session
    ) -> TeamMemberRead:
        member = await team.add_member(session, principal, plan_id, body)
        return TeamMemberRead.model_validate(member)

    @router.get(
        "/events",
        response_model=FeedPage,
        operation_id=op("read_change_feed"),
        responses=READ_ERRORS,
        summary="Changes to plans in the caller's scope, in a stable order, for integrations",
    )
    async def read_change_feed(
        principal: caller,
        session: Session,
        after: str | None = Query(None, max_length=100, description="`next_cursor` from before."),
        limit: Limit = 100,
    ) -> FeedPage:
        events, next_cursor = await feed.read_feed(session, principal, after=after, limit=limit)
        return FeedPage(items=[change_read(e) for e in events], next_cursor=next_cursor)

    @router.get(
        "/plans/{plan_id}/history",
        response_model=HistoryPage,
        operation_id=op("read_plan_history"),
        responses=READ_ERRORS,
        summary="What changed in a plan, oldest first (what the caller may see)",
    )
    async def read_plan_history(
        plan_id: uuid.UUID,
        principal: caller,
        session: Session,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> HistoryPage:
        events, next_cursor = await feed.plan_history(
            session, principal, plan_id, after=cursor, limit=limit
        )
        return HistoryPage(items=[change_read(e) for e in events], next_cursor=next_cursor)

    return router
