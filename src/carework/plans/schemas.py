"""Plan bodies: what a plan is created and changed with, and the summaries lists show. The
plan view itself is the read model's (``readmodel.schemas``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from carework.bodies import Input, Name, OrgId, Output, Subject, Title
from carework.models.plan import Plan
from carework.nid import NationalId
from carework.vocab import PlanStatus

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


class PlanSummary(Output):
    @classmethod
    def of(
        cls,
        plan: Plan,
        patient_name: str,
        last_seen_at: datetime | None = None,
        changed_since_seen: int = 0,
    ) -> PlanSummary:
        return cls.model_validate(
            {
                **{c.key: getattr(plan, c.key) for c in Plan.__table__.columns},
                "patient_name": patient_name,
                "last_seen_at": last_seen_at,
                "changed_since_seen": changed_since_seen,
            }
        )

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


class PlanStatusQuery(Input):
    nid: NationalId


class PlanStatusRead(Output):
    """Whether the patient has an open plan in the caller's scope: the cheap check an EHR makes
    when a chart opens. ``null``s when there is none."""

    active_plan: bool
    plan_id: uuid.UUID | None
    last_changed: datetime | None
