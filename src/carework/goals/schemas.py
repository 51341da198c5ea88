from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from carework.notes.schemas import NoteRead
from carework.schema import Input, Output, Text, Title
from carework.vocab import GoalDomain, GoalStatus, Side


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


class GoalRead(Output):
    id: uuid.UUID
    plan_id: uuid.UUID
    domain: GoalDomain
    owner_side: Side
    title: str
    description: str | None
    status: GoalStatus
    target_date: date | None
    proposed_by_side: Side | None
    version: int
    created_at: datetime
    updated_at: datetime
    notes: list[NoteRead] = Field(default_factory=list)
