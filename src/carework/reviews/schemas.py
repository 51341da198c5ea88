"""Review bodies: an evaluation of the plan with a finding per goal, the achievement history of
one goal, and the status check an EHR makes when a chart opens (the follow-up surface)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from carework.bodies import Input, Output, Text
from carework.vocab import Achievement, Side

NextStep = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class GoalFindingIn(Input):
    goal_id: uuid.UUID
    achievement: Achievement = Field(description="FHIR goal-achievement code.")
    next_step: NextStep | None = None


class EvaluationCreate(Input):
    held_on: date = Field(description="The day the review was held; not in the future.")
    summary: Text | None = None
    goals: list[GoalFindingIn] = Field(default_factory=list, max_length=200)

    @field_validator("held_on")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("must not be in the future")
        return value

    @model_validator(mode="after")
    def _each_goal_once(self) -> Self:
        ids = [finding.goal_id for finding in self.goals]
        if len(ids) != len(set(ids)):
            raise ValueError("a goal may be assessed only once per evaluation")
        return self


class GoalFindingRead(Output):
    goal_id: uuid.UUID
    achievement: Achievement
    next_step: str | None


class EvaluationRead(Output):
    id: uuid.UUID
    plan_id: uuid.UUID
    held_on: date
    due_on: date | None = Field(
        description="When the review was due (the plan's next review date)."
    )
    summary: str | None = Field(
        description="Left out (null) where the caller may not read it: a DPS summary is health "
        "information."
    )
    recorded_by: str
    recorded_by_side: Side
    created_at: datetime
    goals: list[GoalFindingRead] = Field(description="Findings on the goals the caller may see.")


class EvaluationList(Output):
    items: list[EvaluationRead] = Field(description="Newest first.")
    next_cursor: str | None = None


class AchievementRead(Output):
    evaluation_id: uuid.UUID
    held_on: date
    achievement: Achievement
    next_step: str | None
    recorded_by: str


class AchievementHistory(Output):
    items: list[AchievementRead] = Field(description="Oldest first.")
    next_cursor: str | None = None
