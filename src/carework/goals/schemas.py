from __future__ import annotations

from datetime import date

from carework.bodies import Input, Text, Title
from carework.vocab import GoalDomain, GoalStatus


class GoalCreate(Input):
    domain: GoalDomain
    title: Title
    description: Text | None = None
    target_date: date | None = None


class PatientGoalProposal(Input):
    domain: GoalDomain
    title: Title
    description: Text | None = None


class GoalUpdate(Input):
    status: GoalStatus | None = None
    title: Title | None = None
    description: Text | None = None
    target_date: date | None = None
