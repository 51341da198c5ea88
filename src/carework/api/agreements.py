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
from carework.agreements.service import ItemType
from carework.http.params import ExpectedVersion, Session
from carework.http.principal import Caller
from carework.http.responses import AGREE_ERRORS, WITHDRAW_ERRORS, plan_json, problems
from carework.http.route import RouteTable
from carework.readmodel.schemas import ActivityRead, GoalRead
from carework.receipts import service as receipts

SEEN = {"status_code": status.HTTP_204_NO_CONTENT, "responses": problems(401, 403, 404, 422)}
_GOAL, _ACTIVITY = "/plans/{plan_id}/goals/{goal_id}", "/plans/{plan_id}/activities/{activity_id}"

#: Mounted by DPS and by NAV.
routes = RouteTable()
#: The patient's: items of their own plan, named by id alone.
patient_routes = RouteTable(shared=False)


def _agree(item_type: ItemType, summary: str | None = None) -> dict[str, Any]:
    model = GoalRead if item_type == "goal" else ActivityRead
    summary = summary or f"Your side agrees to the {item_type} at the version in If-Match"
    return {"response_model": model, "responses": AGREE_ERRORS, "summary": summary}


def _withdraw(item_type: ItemType, summary: str | None = None) -> dict[str, Any]:
    model = GoalRead if item_type == "goal" else ActivityRead
    summary = summary or f"Your side withdraws its agreement to the {item_type}"
    return {"response_model": model, "responses": WITHDRAW_ERRORS, "summary": summary}


_YOURS = "Say you agree to {} of your plan, at the version in If-Match"


@routes.put(f"{_GOAL}/agreement", **_agree("goal"))
async def agree_to_goal(
    plan_id: uuid.UUID, goal_id: uuid.UUID, principal: Caller, expected: ExpectedVersion,
    session: Session,
) -> Any:  # fmt: skip
    return plan_json(await agreements.agree(session, principal, plan_id, "goal", goal_id, expected))


@routes.delete(f"{_GOAL}/agreement", **_withdraw("goal"))
async def withdraw_goal_agreement(
    plan_id: uuid.UUID, goal_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return plan_json(await agreements.withdraw(session, principal, plan_id, "goal", goal_id))


@routes.put(f"{_ACTIVITY}/agreement", **_agree("activity"))
async def agree_to_activity(
    plan_id: uuid.UUID, activity_id: uuid.UUID, principal: Caller, expected: ExpectedVersion,
    session: Session,
) -> Any:  # fmt: skip
    return plan_json(
        await agreements.agree(session, principal, plan_id, "activity", activity_id, expected)
    )


@routes.delete(f"{_ACTIVITY}/agreement", **_withdraw("activity"))
async def withdraw_activity_agreement(
    plan_id: uuid.UUID, activity_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return plan_json(
        await agreements.withdraw(session, principal, plan_id, "activity", activity_id)
    )


@routes.post(
    "/plans/{plan_id}/seen", **SEEN,
    summary="You have looked at the plan: read receipts for what you can see",
)  # fmt: skip
async def mark_plan_seen(plan_id: uuid.UUID, principal: Caller, session: Session) -> Response:
    await receipts.mark_seen(session, principal, plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@patient_routes.put("/plan/goals/{goal_id}/agreement", **_agree("goal", _YOURS.format("a goal")))
async def patient_agree_to_goal(
    goal_id: uuid.UUID, principal: Caller, expected: ExpectedVersion, session: Session
) -> Any:
    agreed = await agreements.agree_in_own_plan(session, principal, "goal", goal_id, expected)
    return plan_json(agreed)


@patient_routes.delete(
    "/plan/goals/{goal_id}/agreement", **_withdraw("goal", "Withdraw your agreement to a goal")
)
async def patient_withdraw_goal_agreement(
    goal_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    return plan_json(await agreements.withdraw_in_own_plan(session, principal, "goal", goal_id))


@patient_routes.put(
    "/plan/activities/{activity_id}/agreement", **_agree("activity", _YOURS.format("an activity"))
)
async def patient_agree_to_activity(
    activity_id: uuid.UUID, principal: Caller, expected: ExpectedVersion, session: Session
) -> Any:
    agreed = await agreements.agree_in_own_plan(
        session, principal, "activity", activity_id, expected
    )
    return plan_json(agreed)


@patient_routes.delete(
    "/plan/activities/{activity_id}/agreement",
    **_withdraw("activity", "Withdraw your agreement to an activity"),
)
async def patient_withdraw_activity_agreement(
    activity_id: uuid.UUID, principal: Caller, session: Session
) -> Any:
    withdrawn = await agreements.withdraw_in_own_plan(session, principal, "activity", activity_id)
    return plan_json(withdrawn)


@patient_routes.post(
    "/plan/seen", **SEEN, summary="You have looked at your plan: read receipts for the care team"
)
async def patient_mark_plan_seen(principal: Caller, session: Session) -> Response:
    await receipts.mark_own_plan_seen(session, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
