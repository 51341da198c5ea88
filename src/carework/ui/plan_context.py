"""What a plan page shows beside the plan itself: which goals go in which column, which
columns consent hides, and what this person may do — each asked of ``access``, not decided
here."""

from __future__ import annotations

from typing import Any

from carework.access.policy import activity_kinds, creatable_domains, may_change
from carework.access.visibility import view_for
from carework.auth.principal import Principal
from carework.lifecycle import ACTIVITY_TRANSITIONS, GOAL_TRANSITIONS, PLAN_TRANSITIONS
from carework.readmodel.schemas import GoalRead, PlanRead
from carework.vocab import (
    OPEN_PLAN_STATUSES,
    ActivityStatus,
    ConsentScope,
    GoalDomain,
    GoalStatus,
    PlanStatus,
    Visibility,
)


def plan_context(principal: Principal, plan: PlanRead) -> dict[str, Any]:
    seen = view_for(principal, frozenset(plan.consent))
    goals_by_domain: dict[str, list[GoalRead]] = {d.value: [] for d in GoalDomain}
    for goal in plan.goals:
        goals_by_domain[goal.domain].append(goal)
    open_plan = PlanStatus(plan.status) in OPEN_PLAN_STATUSES
    return {
        "plan": plan,
        #: A completed or closed plan is read-only on the pages: no forms at all.
        "open_plan": open_plan,
        "domains": [d.value for d in GoalDomain],
        "goals_by_domain": goals_by_domain,
        "hidden": {d.value: not seen.sees_goal(d) for d in GoalDomain},
        "creatable": [d.value for d in creatable_domains(principal)] if open_plan else [],
        "moves": {
            goal.id: sorted(s.value for s in GOAL_TRANSITIONS[GoalStatus(goal.status)])
            for goal in plan.goals
            if open_plan and may_change(principal, goal.owner_side)
        },
        # Where the side may change status: staying put is a move too, so dates can change.
        "activity_moves": {
            a.id: sorted(
                {a.status.value} | {s.value for s in ACTIVITY_TRANSITIONS[ActivityStatus(a.status)]}
            )
            for a in plan.activities
            if open_plan and may_change(principal, a.responsible_side)
        },
        "plan_moves": sorted(s.value for s in PLAN_TRANSITIONS[PlanStatus(plan.status)]),
        "activity_kinds": [k.value for k in activity_kinds(principal)] if open_plan else [],
        "visibilities": [v.value for v in Visibility],
        "scopes": [s.value for s in ConsentScope],
    }
