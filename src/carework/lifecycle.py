"""The status machines of plans, goals and activities: which moves are allowed. Staying put
is always allowed; any other move must be listed, or it is a conflict (409). The pages offer
exactly these moves, so a form cannot offer what the API refuses."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from carework.errors import Conflict
from carework.vocab import ActivityStatus, GoalStatus, PlanStatus

S = TypeVar("S", bound=StrEnum)

PLAN_TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.draft: frozenset({PlanStatus.active, PlanStatus.closed}),
    PlanStatus.active: frozenset({PlanStatus.completed, PlanStatus.closed}),
    PlanStatus.completed: frozenset(),
    PlanStatus.closed: frozenset(),
}

#: Terminal states (achieved, not_achieved, cancelled) are final.
GOAL_TRANSITIONS: dict[GoalStatus, frozenset[GoalStatus]] = {
    GoalStatus.proposed: frozenset({GoalStatus.active, GoalStatus.cancelled}),
    GoalStatus.active: frozenset(
        {GoalStatus.achieved, GoalStatus.not_achieved, GoalStatus.on_hold, GoalStatus.cancelled}
    ),
    GoalStatus.on_hold: frozenset({GoalStatus.active, GoalStatus.cancelled}),
    GoalStatus.achieved: frozenset(),
    GoalStatus.not_achieved: frozenset(),
    GoalStatus.cancelled: frozenset(),
}

ACTIVITY_TRANSITIONS: dict[ActivityStatus, frozenset[ActivityStatus]] = {
    ActivityStatus.planned: frozenset(
        {ActivityStatus.in_progress, ActivityStatus.done, ActivityStatus.cancelled}
    ),
    ActivityStatus.in_progress: frozenset({ActivityStatus.done, ActivityStatus.cancelled}),
    ActivityStatus.done: frozenset(),
    ActivityStatus.cancelled: frozenset(),
}


def final_statuses(transitions: Mapping[S, frozenset[S]]) -> frozenset[S]:
    """The states nothing moves on from: an item in one is no longer open."""
    return frozenset(status for status, moves in transitions.items() if not moves)


#: Achieved, not achieved, cancelled.
FINAL_GOAL_STATUSES = final_statuses(GOAL_TRANSITIONS)
#: Done, cancelled.
FINAL_ACTIVITY_STATUSES = final_statuses(ACTIVITY_TRANSITIONS)


def ensure_move(transitions: Mapping[S, frozenset[S]], current: S, new: S, what: str) -> None:
    """Staying put is fine, anything else must be an allowed move (409)."""
    if new is not current and new not in transitions[current]:
        raise Conflict(f"{what} that is {current.value} cannot become {new.value}.")
