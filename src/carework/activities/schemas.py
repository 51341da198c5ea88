from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from carework.agreements.schemas import AgreementRead
from carework.receipts.schemas import SeenRead
from carework.schema import Input, Name, Output, Text, Title
from carework.vocab import ActivityKind, ActivityStatus, JobOutcome, Side


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


class ActivityRead(Output):
    id: uuid.UUID
    plan_id: uuid.UUID
    goal_id: uuid.UUID | None
    kind: ActivityKind
    title: str
    description: str | None
    responsible_side: Side
    responsible_person: str | None
    status: ActivityStatus
    start: date | None = Field(validation_alias="start_date")
    end: date | None = Field(validation_alias="end_date")
    version: int
    created_at: datetime
    updated_at: datetime
    outcome: JobOutcome | None = Field(None, description="IPS: where a job-search step got to.")
    employer: str | None = None
    meeting_id: uuid.UUID | None = Field(
        None, description="The joint meeting that agreed this activity, if one did."
    )
    agreed_by: list[AgreementRead] = Field(default_factory=list)
    seen_by: list[SeenRead] = Field(default_factory=list)
    waiting_for: list[Side] = Field(default_factory=list)
