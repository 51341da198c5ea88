from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from carework.bodies import Input, Name, Text, Title
from carework.vocab import ActivityKind, ActivityStatus, JobOutcome


class _Dates(Input):
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> _Dates:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class ActivityCreate(_Dates):
    goal_id: uuid.UUID | None = None
    kind: ActivityKind
    title: Title
    description: Text | None = None
    responsible_person: Name | None = None
    status: ActivityStatus = ActivityStatus.planned
    outcome: JobOutcome | None = Field(None, description="IPS kinds only.")
    employer: Name | None = Field(None, description="IPS kinds only.")


class ActivityUpdate(_Dates):
    status: ActivityStatus | None = None
    title: Title | None = None
    description: Text | None = None
    responsible_person: Name | None = None
    outcome: JobOutcome | None = Field(None, description="IPS kinds only.")
    employer: Name | None = Field(None, description="IPS kinds only.")


class EnteredInErrorMark(Input):
    """Why a goal, activity or note is taken back (kept with the row, never in the feed)."""

    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
