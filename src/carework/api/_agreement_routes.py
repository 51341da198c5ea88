"""Routes for agreements and read receipts (issue 7). DPS and NAV mount ``agreement_routes``
with their own principal; the patient's routes are the module-level ``patient_router``.

``PUT .../agreement`` (If-Match: the version agreed to) says the caller's side agrees, ``DELETE``
withdraws it; both answer with the item as the caller sees it. ``POST .../seen`` stores read
receipts and answers 204.

No ``from __future__ import annotations`` here: FastAPI must see the closure's real types.
"""

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from carework.access.guards import PatientPrincipal
from carework.agreements import service as agreements
from carework.api._common import Session, plan_json, problems
from carework.api.route import UnitOfWorkRoute
from carework.concurrency import ExpectedVersion
from carework.readmodel.schemas import ActivityRead, GoalRead
from carework.receipts import service as receipts

AGREE_ERRORS = problems(401, 403, 404, 409, 412, 422, 428)
WITHDRAW_ERRORS = problems(401, 403, 404, 409, 422)
SEEN_ERRORS = problems(401, 403, 404, 422)

patient_router = APIRouter(route_class=UnitOfWorkRoute)
audit_router = APIRouter(route_class=UnitOfWorkRoute)


def agreement_routes(*, side: str, caller: Any) -> APIRouter:
    """Build the agreement and receipt routes for one side (``dps`` or ``nav``)."""
    router = APIRouter(route_class=UnitOfWorkRoute)

    def op(name: str) -> str:
        return f"{side}_{name}"

    @router.put(
        "/plans/{plan_id}/goals/{goal_id}/agreement",
        response_model=GoalRead,
        operation_id=op("agree_to_goal"),
        responses=AGREE_ERRORS,
        summary="Your side agrees to the goal at the version in If-Match",
    )
    async def agree_to_goal(
        plan_id: uuid.UUID,
        goal_id: uuid.UUID,
        principal: caller,  # before If-Match: 401/403 come first, 428/412 only after
        expected: ExpectedVersion,
        session: Session,
    ) -> Any:
        return plan_json(
            await agreements.agree(session, principal, plan_id, "goal", goal_id, expected)
        )

    @router.delete(
        "/plans/{plan_id}/goals/{goal_id}/agreement",
        response_model=GoalRead,
        operation_id=op("withdraw_goal_agreement"),
        responses=WITHDRAW_ERRORS,
        summary="Your side withdraws its agreement to the goal",
    )
    async def withdraw_goal_agreement(
        plan_id: uuid.UUID, goal_id: uuid.UUID, principal: caller, session: Session
    ) -> Any:
        return plan_json(await agreements.withdraw(session, principal, plan_id, "goal", goal_id))

    @router.put(
        "/plans/{plan_id}/activities/{activity_id}/agreement",
        response_model=ActivityRead,
        operation_id=op("agree_to_activity"),
        responses=AGREE_ERRORS,
        summary="Your side agrees to the activity at the version in If-Match",
    )
    async def agree_to_activity(
        plan_id: uuid.UUID,
        activity_id: uuid.UUID,
        principal: caller,
        expected: ExpectedVersion,
        session: Session,
    ) -> Any:
        return plan_json(
            await agreements.agree(session, principal, plan_id, "activity", activity_id, expected)
        )

    @router.delete(
        "/plans/{plan_id}/activities/{activity_id}/agreement",
        response_model=ActivityRead,
        operation_id=op("withdraw_activity_agreement"),
        responses=WITHDRAW_ERRORS,
        summary="Your side withdraws its agreement to the activity",
    )
    async def withdraw_activity_agreement(
        plan_id: uuid.UUID, activity_id: uuid.UUID, principal: caller, session: Session
    ) -> Any:
        return plan_json(
            await agreements.withdraw(session, principal, plan_id, "activity", activity_id)
        )

    @router.post(
        "/plans/{plan_id}/seen",
        status_code=status.HTTP_204_NO_CONTENT,
        operation_id=op("mark_plan_seen"),
        responses=SEEN_ERRORS,
        summary="You have looked at the plan: read receipts for what you can see",
    )
    async def mark_plan_seen(plan_id: uuid.UUID, principal: caller, session: Session) -> Response:
        await receipts.mark_seen(session, principal, plan_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


@patient_router.put(
    "/plan/goals/{goal_id}/agreement",
    response_model=GoalRead,
    operation_id="patient_agree_to_goal",
    responses=AGREE_ERRORS,
    summary="Say you agree to a goal of your plan, at the version in If-Match",
)
async def patient_agree_to_goal(
    goal_id: uuid.UUID, principal: PatientPrincipal, expected: ExpectedVersion, session: Session
) -> Any:
    return plan_json(
        await agreements.agree_in_own_plan(session, principal, "goal", goal_id, expected)
    )


@patient_router.delete(
    "/plan/goals/{goal_id}/agreement",
    response_model=GoalRead,
    operation_id="patient_withdraw_goal_agreement",
    responses=WITHDRAW_ERRORS,
    summary="Withdraw your agreement to a goal",
)
async def patient_withdraw_goal_agreement(
    goal_id: uuid.UUID, principal: PatientPrincipal, session: Session
) -> Any:
    return plan_json(await agreements.withdraw_in_own_plan(session, principal, "goal", goal_id))


@patient_router.put(
    "/plan/activities/{activity_id}/agreement",
    response_model=ActivityRead,
    operation_id="patient_agree_to_activity",
    responses=AGREE_ERRORS,
    summary="Say you agree to an activity of your plan, at the version in If-Match",
)
async def patient_agree_to_activity(
    activity_id: uuid.UUID,
    principal: PatientPrincipal,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    return plan_json(
        await agreements.agree_in_own_plan(session, principal, "activity", activity_id, expected)
    )


@patient_router.delete(
    "/plan/activities/{activity_id}/agreement",
    response_model=ActivityRead,
    operation_id="patient_withdraw_activity_agreement",
    responses=WITHDRAW_ERRORS,
    summary="Withdraw your agreement to an activity",
)
async def patient_withdraw_activity_agreement(
    activity_id: uuid.UUID, principal: PatientPrincipal, session: Session
) -> Any:
    return plan_json(
        await agreements.withdraw_in_own_plan(session, principal, "activity", activity_id)
    )


@patient_router.post(
    "/plan/seen",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="patient_mark_plan_seen",
    responses=SEEN_ERRORS,
    summary="You have looked at your plan: read receipts for the care team",
)
async def patient_mark_plan_seen(principal: PatientPrincipal, session: Session) -> Response:
    await receipts.mark_own_plan_seen(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
