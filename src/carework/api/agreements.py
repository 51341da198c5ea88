"""Three-way agreement and read receipts.

``PUT .../agreement`` (If-Match: the version agreed to) says the caller's side agrees,
``DELETE`` withdraws it; both answer with the item as the caller sees it. ``POST .../seen``
stores read receipts and answers 204. The patient's routes name items of their own plan.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status

from carework.agreements import service as agreements
from carework.http.params import ExpectedVersion, Session
from carework.http.principal import Caller
from carework.http.responses import AGREE_ERRORS, WITHDRAW_ERRORS, problems
from carework.http.responses import plan_json as answer
from carework.http.route import RouteTable
from carework.readmodel.schemas import ActivityRead, GoalRead
from carework.receipts import service as receipts

SEEN_ERRORS = problems(401, 403, 404, 422)

#: Mounted by DPS and by NAV.
routes = RouteTable()


@routes.put(
    "/plans/{plan_id}/goals/{goal_id}/agreement",
    response_model=GoalRead,
    responses=AGREE_ERRORS,
    summary="Your side agrees to the goal at the version in If-Match",
)
async def agree_to_goal(
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    return answer(await agreements.agree(session, principal, plan_id, "goal", goal_id, expected))


@routes.delete(
    "/plans/{plan_id}/goals/{goal_id}/agreement",
    response_model=GoalRead,
    responses=WITHDRAW_ERRORS,
    summary="Your side withdraws its agreement to the goal",
)
async def withdraw_goal_agreement(
    plan_id: uuid.UUID, goal_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return answer(await agreements.withdraw(session, principal, plan_id, "goal", goal_id))


@routes.put(
    "/plans/{plan_id}/activities/{activity_id}/agreement",
    response_model=ActivityRead,
    responses=AGREE_ERRORS,
    summary="Your side agrees to the activity at the version in If-Match",
)
async def agree_to_activity(
    plan_id: uuid.UUID,
    activity_id: uuid.UUID,
    principal: Caller,
    expected: ExpectedVersion,
    session: Session,
) -> Any:
    agreed = await agreements.agree(session, principal, plan_id, "activity", activity_id, expected)
    return answer(agreed)


@routes.delete(
    "/plans/{plan_id}/activities/{activity_id}/agreement",
    response_model=ActivityRead,
    responses=WITHDRAW_ERRORS,
    summary="Your side withdraws its agreement to the activity",
)
async def withdraw_activity_agreement(
    plan_id: uuid.UUID, activity_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return answer(await agreements.withdraw(session, principal, plan_id, "activity", activity_id))


@routes.post(
    "/plans/{plan_id}/seen",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=SEEN_ERRORS,
    summary="You have looked at the plan: read receipts for what you can see",
)
async def mark_plan_seen(plan_id: uuid.UUID, principal: Caller, session: Session) -> Response:
    await receipts.mark_seen(session, principal, plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


#: The patient's routes: items of their own plan, named by id alone.
patient_routes = RouteTable(shared=False)


@patient_routes.put(
    "/plan/goals/{goal_id}/agreement",
    response_model=GoalRead,
    responses=AGREE_ERRORS,
    summary="Say you agree to a goal of your plan, at the version in If-Match",
)
async def patient_agree_to_goal(
    goal_id: uuid.UUID, principal: Caller, expected: ExpectedVersion, session: Session
) -> Any:
    return answer(await agreements.agree_in_own_plan(session, principal, "goal", goal_id, expected))


@patient_routes.delete(
    "/plan/goals/{goal_id}/agreement",
    response_model=GoalRead,
    responses=WITHDRAW_ERRORS,
    summary="Withdraw your agreement to a goal",
)
async def patient_withdraw_goal_agreement(
    goal_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return answer(await agreements.withdraw_in_own_plan(session, principal, "goal", goal_id))


@patient_routes.put(
    "/plan/activities/{activity_id}/agreement",
    response_model=ActivityRead,
    responses=AGREE_ERRORS,
    summary="Say you agree to an activity of your plan, at the version in If-Match",
)
async def patient_agree_to_activity(
    activity_id: uuid.UUID, principal: Caller, expected: ExpectedVersion, session: Session
) -> Any:
    agreed = await agreements.agree_in_own_plan(
        session, principal, "activity", activity_id, expected
    )
    return answer(agreed)


@patient_routes.delete(
    "/plan/activities/{activity_id}/agreement",
    response_model=ActivityRead,
    responses=WITHDRAW_ERRORS,
    summary="Withdraw your agreement to an activity",
)
async def patient_withdraw_activity_agreement(
    activity_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return answer(
        await agreements.withdraw_in_own_plan(session, principal, "activity", activity_id)
    )


@patient_routes.post(
    "/plan/seen",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=SEEN_ERRORS,
    summary="You have looked at your plan: read receipts for the care team",
)
async def patient_mark_plan_seen(principal: Caller, session: Session) -> Response:
    await receipts.mark_own_plan_seen(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
