"""The shapes of the read model: a plan and its items as each party sees them.

Per audience where the views differ (``DpsPlanRead``, ``NavPlanRead``, ``PatientPlanRead``), so
the OpenAPI document itself shows what each side can see. PostgreSQL builds the JSON with
exactly these keys (``readmodel.json``), and the pages and FHIR validate it back into them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from carework.bodies import Output
from carework.vocab import (
    Achievement,
    ActivityKind,
    ActivityStatus,
    ConsentScope,
    GoalDomain,
    GoalStatus,
    JobOutcome,
    PlanStatus,
    Side,
    Visibility,
)


class PatientRef(Output):
    nid: str
    name: str


class AgreementRead(Output):
    """One party's agreement: who agreed for it, to which version, when."""

    party: Side
    name: str
    version: int
    at: datetime


class SeenRead(Output):
    """The version of an item a party last saw, and when."""

    party: Side
    version: int
    at: datetime


class NoteRead(Output):
    id: uuid.UUID
    goal_id: uuid.UUID
    author_name: str
    author_role: str
    author_side: Side
    text: str
    visibility: Visibility
    created_at: datetime


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
    notes: list[NoteRead] = Field(
        default_factory=list,
        description="The newest notes the caller may see (at most 20), oldest first; "
        "`GET .../goals/{goal_id}/notes` pages them all.",
    )
    notes_total: int = Field(0, description="How many notes on the goal the caller may see.")
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


class NoteList(Output):
    items: list[NoteRead] = Field(description="Newest first.")
    next_cursor: str | None = None


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
    start: date | None
    end: date | None
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


class TeamMemberRead(Output):
    id: uuid.UUID
    sub: str
    name: str
    role: str
    org: str
    side: Side
    coordinator: bool = False
    created_at: datetime


class PatientTeamMemberRead(Output):
    """The patient sees who is on their team, not their identifiers in other systems."""

    name: str
    role: str
    org: str
    side: Side
    coordinator: bool = False


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


#: Any audience's plan view.
PlanRead = DpsPlanRead | NavPlanRead | PatientPlanRead
