"""Plan bodies. The read views are per audience, so the spec shows what each side can see."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from carework.activities.schemas import ActivityRead
from carework.goals.schemas import GoalRead
from carework.patients.nid import NationalId
from carework.schema import Input, Name, OrgId, Output, Subject, Title
from carework.team.schemas import PatientTeamMemberRead, TeamMemberRead
from carework.vocab import ConsentScope, PlanStatus

#: How often the plan is reviewed, in days (up to two years).
ReviewInterval = Annotated[int, Field(ge=1, le=730, description="Days between reviews.")]


def ensure_period_in_order(start: date | None, end: date | None) -> None:
    """A plan period ends on or after its start (the database refuses it too)."""
    if start is not None and end is not None and end < start:
        raise ValueError("period_end must not be before period_start")


class PatientIn(Input):
    nid: NationalId
    name: Name


class PlanCreate(Input):
    patient: PatientIn
    dps_unit: OrgId | None = Field(None, description="Defaults to the caller's unit (DPS side).")
    nav_office: OrgId | None = Field(
        None, description="Defaults to the caller's office (NAV side)."
    )
    title: Title
    main_goal: str | None = Field(
        None, max_length=2000, description="The patient's own main goal, in their words."
    )
    status: Literal["draft", "active"] = "draft"
    period_start: date | None = Field(None, description="When the plan period begins.")
    period_end: date | None = Field(None, description="When it ends; not before the start.")
    review_interval_days: ReviewInterval | None = Field(
        None,
        description="Days between reviews. The first review is scheduled an interval after "
        "the period starts (after today, if the start has passed).",
    )

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        ensure_period_in_order(self.period_start, self.period_end)
        return self


class PlanUpdate(Input):
    title: Title | None = None
    main_goal: str | None = Field(None, max_length=2000)
    status: PlanStatus | None = None
    coordinator_sub: Subject | None = Field(None, description="A care-team member's sub.")
    next_review_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    review_interval_days: ReviewInterval | None = Field(
        None,
        description="Days between reviews; null stops the cadence. Set while no review is "
        "scheduled (and no next_review_date is sent), it schedules one: an interval after the "
        "last review, or else after the period starts (after today, if the start has passed).",
    )

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        ensure_period_in_order(self.period_start, self.period_end)
        return self


class PlanSearch(Input):
    nid: NationalId


class PatientRef(Output):
    nid: str
    name: str


class PlanSummary(Output):
    id: uuid.UUID
    patient_name: str
    dps_unit: str
    nav_office: str
    title: str
    status: PlanStatus
    next_review_date: date | None
    version: int
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None = Field(
        None, description="When the caller last marked the plan seen (POST .../seen)."
    )
    changed_since_seen: int = Field(
        0,
        description="Changes the caller may see made by others since then (all if never seen).",
    )


class PlanPage(Output):
    items: list[PlanSummary]
    next_cursor: str | None


class PlanSearchResult(Output):
    items: list[PlanSummary]


class _PlanReadBase(Output):
    id: uuid.UUID
    dps_unit: str
    nav_office: str
    title: str
    main_goal: str | None
    status: PlanStatus
    coordinator_sub: str | None
    next_review_date: date | None
    period_start: date | None
    period_end: date | None
    review_interval_days: int | None
    last_reviewed_on: date | None
    review_overdue: bool = Field(False, description="The next review date has passed.")
    first_employer_contact: date | None = Field(
        None, description="IPS: the first contact with an employer, from the activities."
    )
    version: int
    created_at: datetime
    updated_at: datetime
    goals: list[GoalRead]
    activities: list[ActivityRead]
    consent: list[ConsentScope] = Field(
        description="The consent scopes active for this plan at the time of the request."
    )


class DpsPlanRead(_PlanReadBase):
    """The DPS view: every goal and activity; internal notes of the DPS side only."""

    patient: PatientRef
    team: list[TeamMemberRead]


class NavPlanRead(_PlanReadBase):
    """The NAV view: work and education in full; treatment goals, treatment activities and
    their notes appear only while the patient's consent covers them (see ``consent``)."""

    patient: PatientRef
    team: list[TeamMemberRead]


class PatientPlanRead(_PlanReadBase):
    """The patient's own plan: everything shared with them, no internal notes."""

    team: list[PatientTeamMemberRead]
