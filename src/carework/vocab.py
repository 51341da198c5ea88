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
    # Individual placement and support (IPS): contacts with employers, and the support that
    # follows a person into work with no end date set in advance.
    ips_employer_contact = "ips_employer_contact"
    ips_follow_along = "ips_follow_along"
    other = "other"


#: The IPS kinds: job-search outcomes are recorded on these.
IPS_KINDS = frozenset(
    {ActivityKind.ips_job_search, ActivityKind.ips_employer_contact, ActivityKind.ips_follow_along}
)


class JobOutcome(StrEnum):
    """Where a job-search step got to (IPS)."""

    application_sent = "application_sent"
    interview = "interview"
    rejected = "rejected"
    offer = "offer"
    hired = "hired"


class ActivityStatus(StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class Achievement(StrEnum):
    """How far a goal has come, as an evaluation finds it (FHIR R4 ``goal-achievement``)."""

    in_progress = "in-progress"
    improving = "improving"
    worsening = "worsening"
    no_change = "no-change"
    achieved = "achieved"
    sustaining = "sustaining"
    not_achieved = "not-achieved"
    no_progress = "no-progress"
    not_attainable = "not-attainable"


class MinutesStatus(StrEnum):
    """Meeting minutes are the writer's draft until released to everyone at the meeting."""

    draft = "draft"
    released = "released"


class TeamRole(StrEnum):
    """Roles on a plan's care team; the employment specialist (IPS) works on NAV's side."""

    clinician = "clinician"
    nav_advisor = "nav_advisor"
    employment_specialist = "employment_specialist"


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


class Sensitivity(StrEnum):
    """How a change event is classed, which decides who may read it in the feed: ``general``
    for everyone in scope; ``treatment`` for NAV only under consent to treatment goals;
    ``treatment_note`` only under consent to treatment notes as well."""

    general = "general"
    treatment = "treatment"
    treatment_note = "treatment_note"


class EventType(StrEnum):
    """Every kind of change the outbox records (``resource.what_happened``)."""

    plan_created = "plan.created"
    plan_updated = "plan.updated"
    plan_reviewed = "plan.reviewed"
    goal_created = "goal.created"
    goal_updated = "goal.updated"
    goal_entered_in_error = "goal.entered_in_error"
    goal_agreed = "goal.agreed"
    goal_agreement_withdrawn = "goal.agreement_withdrawn"
    goal_agreements_cleared = "goal.agreements_cleared"
    activity_created = "activity.created"
    activity_updated = "activity.updated"
    activity_entered_in_error = "activity.entered_in_error"
    activity_agreed = "activity.agreed"
    activity_agreement_withdrawn = "activity.agreement_withdrawn"
    activity_agreements_cleared = "activity.agreements_cleared"
    note_added = "note.added"
    note_entered_in_error = "note.entered_in_error"
    consent_granted = "consent.granted"
    consent_revoked = "consent.revoked"
    team_member_added = "team.member_added"
    meeting_created = "meeting.created"
    meeting_updated = "meeting.updated"
    meeting_released = "meeting.released"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)
