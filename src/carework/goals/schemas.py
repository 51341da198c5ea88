from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from carework.agreements.schemas import AgreementRead
from carework.notes.schemas import NoteRead
from carework.receipts.schemas import SeenRead
from carework.schema import Input, Output, Text, Title
from carework.vocab import Achievement, GoalDomain, GoalStatus, Side


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
    achievement_status: Achievement | None = Field(
        None, description="What the latest evaluation found (FHIR goal-achievement)."
    )
    agreed_by: list[AgreementRead] = Field(
        default_factory=list, description="The parties that have agreed to the goal as it is."
    )
    seen_by: list[SeenRead] = Field(
        default_factory=list, description="The version each party last saw (read receipts)."
    )
    waiting_for: list[Side] = Field(
        default_factory=list,
        description="Whose move it is: the owning side for a proposal, else the parties that "
        "have not agreed yet.",
    )
