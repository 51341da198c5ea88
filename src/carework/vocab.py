"""The closed vocabularies of the domain, shared by models, schemas and the access policy."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    clinician = "clinician"
    nav_advisor = "nav_advisor"
    patient = "patient"
    auditor = "auditor"


class Side(StrEnum):
    """Which party owns or wrote something."""

    dps = "dps"
    nav = "nav"
    patient = "patient"


class PlanStatus(StrEnum):
    draft = "draft"
    active = "active"
    completed = "completed"
    closed = "closed"


OPEN_PLAN_STATUSES = (PlanStatus.draft, PlanStatus.active)


class GoalDomain(StrEnum):
    treatment = "treatment"
    work = "work"
    education = "education"


class GoalStatus(StrEnum):
    proposed = "proposed"
    active = "active"
    on_hold = "on_hold"
    achieved = "achieved"
    not_achieved = "not_achieved"
    cancelled = "cancelled"


class ActivityKind(StrEnum):
    therapy = "therapy"
    medication_review = "medication_review"
    work_training = "work_training"
    ips_job_search = "ips_job_search"
    course = "course"
    benefit_follow_up = "benefit_follow_up"
    other = "other"


class ActivityStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class Visibility(StrEnum):
    shared = "shared"
    internal = "internal"


class ConsentScope(StrEnum):
    treatment_goals = "treatment_goals"
    treatment_notes = "treatment_notes"


class ConsentEvidence(StrEnum):
    """How the consent was given: by the patient's own login, or in person to a clinician."""

    digital = "digital"
    verbal = "verbal"
    written = "written"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)
