from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from carework.bodies import Input, LongText, Name, Output, Text, Title
from carework.vocab import ActivityKind, MinutesStatus, Side

#: What someone does at the meeting ("psykolog", "arbeidsgiver", "IPS-jobbspesialist").
ParticipantRole = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Participant(Input):
    name: Name
    role: ParticipantRole
    side: Side


class MeetingCreate(Input):
    scheduled_at: AwareDatetime
    location: Name | None = None
    agenda: Text | None = None
    participants: list[Participant] = Field(default_factory=list, max_length=50)


class MeetingUpdate(Input):
    """Changes while the minutes are a draft; ``minutes`` is written here, released apart."""

    scheduled_at: AwareDatetime | None = None
    location: Name | None = None
    agenda: Text | None = None
    participants: list[Participant] | None = Field(None, max_length=50)
    minutes: LongText | None = None


class MeetingAction(Input):
    """An action agreed at the meeting; it becomes an activity of ``responsible_side``."""

    title: Title
    kind: ActivityKind
    responsible_side: Literal["dps", "nav"]
    responsible_person: Name
    goal_id: uuid.UUID | None = None
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _in_order(self) -> MeetingAction:
        if self.start and self.end and self.end < self.start:
            raise ValueError("end must not be before start")
        return self


class MeetingRelease(Input):
    actions: list[MeetingAction] = Field(default_factory=list, max_length=50)


class ParticipantRead(Output):
    name: str
    role: str
    side: Side


class MeetingRead(Output):
    id: uuid.UUID
    plan_id: uuid.UUID
    scheduled_at: datetime
    location: str | None
    agenda: str | None
    participants: list[ParticipantRead]
    minutes: str | None = Field(
        description="null until written, and for callers who may not read them yet: the other "
        "parties once released, NAV for a DPS meeting only with consent to treatment notes."
    )
    minutes_status: MinutesStatus
    released_at: datetime | None
    created_by_side: Side
    version: int
    created_at: datetime
    updated_at: datetime


class MeetingList(Output):
    items: list[MeetingRead] = Field(description="By scheduled time.")
    next_cursor: str | None = None


class MeetingReleased(MeetingRead):
    activity_ids: list[uuid.UUID] = Field(
        description="The activities created from the agreed actions, in the order sent."
    )
