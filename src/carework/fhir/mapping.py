"""A caller's plan view (the read model's ``DpsPlanRead``) as FHIR R4 resources: plain
JSON-ready dicts, no I/O.

The view is what the read model built for the caller, so everything here is shaping only: what
the caller may see was decided by ``access`` before these functions are called.

Shape, for an EHR that reads one request:

- ``CarePlan`` holds its Goals and a ``CareTeam`` as ``contained`` resources; ``CarePlan.goal``
  and each ``activity.detail.goal`` point at them as ``#<goal id>``. Contained resources carry no
  ``meta`` and no narrative (FHIR invariants dom-1 and dom-4).
- Activities are ``activity[].detail`` (never ``reference``: there is no resource to point to).
- The patient is a logical reference by national id, never a literal one: carework serves no
  ``Patient`` resource, and the EHR already knows the patient by that number.
- ``GET /fhir/r4/Goal?plan=`` answers a ``searchset`` Bundle of stand-alone Goals. carework
  serves no ``Goal/{id}`` read, so ``fullUrl`` is ``urn:uuid:<goal id>`` rather than a URL that
  would answer 404.
- ``meta.versionId`` is a digest of the resource itself, so it changes whenever anything in
  it changes — a contained Goal, a note, the team, what consent lets the caller see — and a
  client that caches by version (or by the ``ETag`` that carries it) never misses a change.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any, Final

from carework.readmodel.schemas import (
    ActivityRead,
    DpsPlanRead,
    GoalRead,
    NavPlanRead,
    NoteRead,
    PatientRef,
    TeamMemberRead,
)
from carework.vocab import (
    Achievement,
    ActivityKind,
    ActivityStatus,
    GoalDomain,
    GoalStatus,
    PlanStatus,
    Role,
    Side,
    TeamRole,
)

Resource = dict[str, Any]

#: The plan views FHIR serves (the care team's, with the patient's national id).
CarePlanView = DpsPlanRead | NavPlanRead

# --- identifier systems ------------------------------------------------------------------------

#: The Norwegian national id systems (the OIDs the Norwegian FHIR profiles, no-basis, use), so an
#: EHR can match the patient against its own records without a Patient resource from us.
#: A D-nummer (for people without a fødselsnummer) has 40 added to the day: first digit 4-7.
FODSELSNUMMER_SYSTEM: Final = "urn:oid:2.16.578.1.12.4.1.4.1"
D_NUMMER_SYSTEM: Final = "urn:oid:2.16.578.1.12.4.1.4.2"

#: CarePlan.identifier: the plan id as a URI, the same value in every system that stores it.
URI_SYSTEM: Final = "urn:ietf:rfc:3986"

#: carework's own vocabularies (no standard code system covers NAV's measures or our goal
#: domains). The codes are the API's own enum values, so an integrator can match both surfaces.
ACTIVITY_KIND_SYSTEM: Final = "https://carework.example/fhir/CodeSystem/activity-kind"
GOAL_DOMAIN_SYSTEM: Final = "https://carework.example/fhir/CodeSystem/goal-domain"

#: Goal and activity descriptions have no core FHIR element (Goal.description is the goal itself,
#: CarePlan.activity.detail.description holds the title); this extension keeps them.
DESCRIPTION_EXTENSION: Final = "https://carework.example/fhir/StructureDefinition/description"

#: http://hl7.org/fhir/R4/valueset-goal-achievement.html
GOAL_ACHIEVEMENT_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/goal-achievement"

# --- status tables -----------------------------------------------------------------------------

#: Plan status → CarePlan.status (R4 value set request-status: draft | active | on-hold | revoked |
#: completed | entered-in-error | unknown). ``closed`` means stopped before completion, which R4
#: calls ``revoked``; R5's ``ended`` does not exist in R4.
CARE_PLAN_STATUS: Final[dict[PlanStatus, str]] = {
    PlanStatus.draft: "draft",
    PlanStatus.active: "active",
    PlanStatus.completed: "completed",
    PlanStatus.closed: "revoked",
}

#: Plan status → status of the contained CareTeam (R4: proposed | active | suspended | inactive |
#: entered-in-error): the team works while the plan is open.
CARE_TEAM_STATUS: Final[dict[PlanStatus, str]] = {
    PlanStatus.draft: "active",
    PlanStatus.active: "active",
    PlanStatus.completed: "inactive",
    PlanStatus.closed: "inactive",
}

#: Goal status → Goal.lifecycleStatus (R4 goal-status). R4's ``completed`` means "no longer
#: being sought", whether it was reached or not; achievementStatus tells which.
GOAL_LIFECYCLE_STATUS: Final[dict[GoalStatus, str]] = {
    GoalStatus.proposed: "proposed",
    GoalStatus.active: "active",
    GoalStatus.on_hold: "on-hold",
    GoalStatus.achieved: "completed",
    GoalStatus.not_achieved: "completed",
    GoalStatus.cancelled: "cancelled",
}

#: Goal status → Goal.achievementStatus code and display (goal-achievement). Left out where
#: carework knows nothing about progress: a proposed goal is not being worked on yet, and
#: on hold or cancelled says nothing about how far it got (``no-progress`` would claim it).
GOAL_ACHIEVEMENT: Final[dict[GoalStatus, tuple[str, str]]] = {
    GoalStatus.active: ("in-progress", "In Progress"),
    GoalStatus.achieved: ("achieved", "Achieved"),
    GoalStatus.not_achieved: ("not-achieved", "Not Achieved"),
}

#: Activity status → CarePlan.activity.detail.status (R4 care-plan-activity-status).
ACTIVITY_STATUS: Final[dict[ActivityStatus, str]] = {
    ActivityStatus.planned: "scheduled",
    ActivityStatus.in_progress: "in-progress",
    ActivityStatus.done: "completed",
    ActivityStatus.cancelled: "cancelled",
}

#: What an evaluation found (``Goal.achievement_status``, the goal-achievement codes) → display.
ACHIEVEMENT_DISPLAY: Final[dict[Achievement, str]] = {
    Achievement.in_progress: "In Progress",
    Achievement.improving: "Improving",
    Achievement.worsening: "Worsening",
    Achievement.no_change: "No Change",
    Achievement.achieved: "Achieved",
    Achievement.sustaining: "Sustaining",
    Achievement.not_achieved: "Not Achieved",
    Achievement.no_progress: "No Progress",
    Achievement.not_attainable: "Not Attainable",
}

# --- display texts -----------------------------------------------------------------------------

GOAL_DOMAIN_DISPLAY: Final[dict[GoalDomain, str]] = {
    GoalDomain.treatment: "Treatment",
    GoalDomain.work: "Work",
    GoalDomain.education: "Education",
}

ACTIVITY_KIND_DISPLAY: Final[dict[ActivityKind, str]] = {
    ActivityKind.therapy: "Therapy",
    ActivityKind.medication_review: "Medication review",
    ActivityKind.work_training: "Work training",
    ActivityKind.ips_job_search: "IPS job search",
    ActivityKind.course: "Course",
    ActivityKind.benefit_follow_up: "Benefit follow-up",
    ActivityKind.ips_employer_contact: "IPS employer contact",
    ActivityKind.ips_follow_along: "IPS follow-along support",
    ActivityKind.other: "Other",
}

ROLE_DISPLAY: Final[dict[str, str]] = {
    Role.clinician: "Clinician",
    Role.nav_advisor: "NAV advisor",
    Role.patient: "Patient",
    Role.auditor: "Auditor",
    TeamRole.employment_specialist: "Employment specialist (IPS)",
}

SIDE_DISPLAY: Final[dict[Side, str]] = {Side.dps: "DPS", Side.nav: "NAV", Side.patient: "Patient"}

#: The id of the contained CareTeam, referenced as ``#careteam``.
CARE_TEAM_ID: Final = "careteam"


# --- small pieces ------------------------------------------------------------------------------


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _date(value: date) -> str:
    return value.isoformat()


def _description(text: str | None) -> list[Resource]:
    return [{"url": DESCRIPTION_EXTENSION, "valueString": text}] if text else []


def identifier_system(nid: str) -> str:
    """The system URI for a national id: D-nummer when the first digit is 4 or more."""
    return D_NUMMER_SYSTEM if int(nid[0]) >= 4 else FODSELSNUMMER_SYSTEM


def patient_reference(patient: PatientRef) -> Resource:
    return {
        "type": "Patient",
        "identifier": {"system": identifier_system(patient.nid), "value": patient.nid},
        "display": patient.name,
    }


def _unit_display(side: Side | str, view: CarePlanView) -> str:
    side = Side(side)
    unit = {Side.dps: view.dps_unit, Side.nav: view.nav_office}.get(side)
    return f"{SIDE_DISPLAY[side]} {unit}" if unit else SIDE_DISPLAY[side]


def _period(plan: CarePlanView, *, finished: bool) -> Resource:
    """The plan period as set; else from the plan's creation, and for a finished plan up to
    its last change (it is read-only, so that change ended it)."""
    start, end = plan.period_start, plan.period_end
    period = {"start": _date(start) if start is not None else _instant(plan.created_at)}
    if end is not None:
        period["end"] = _date(end)
    elif finished and (start is None or start <= plan.updated_at.date()):
        period["end"] = _instant(plan.updated_at)
    return period


def _annotation(note: NoteRead) -> Resource:
    return {"authorString": note.author_name, "time": _instant(note.created_at), "text": note.text}


# --- resources ---------------------------------------------------------------------------------


def version_id(resource: Resource) -> str:
    """A digest of the resource without its ``meta``: the same content, the same version."""
    content = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _with_meta(resource: Resource, *moments: datetime) -> Resource:
    """``meta`` first, as FHIR JSON shows it: the content's version and its latest change."""
    meta = {"versionId": version_id(resource), "lastUpdated": _instant(max(moments))}
    return {"resourceType": resource["resourceType"], "id": resource["id"], "meta": meta} | {
        key: value for key, value in resource.items() if key not in ("resourceType", "id")
    }


def _achievement(goal: GoalRead) -> tuple[str, str] | None:
    """What the latest evaluation found; before any, what the goal's status says."""
    if goal.achievement_status is not None:
        found = Achievement(goal.achievement_status)
        return found.value, ACHIEVEMENT_DISPLAY[found]
    return GOAL_ACHIEVEMENT.get(GoalStatus(goal.status))


def goal_resource(goal: GoalRead, patient: PatientRef, *, contained: bool = False) -> Resource:
    """One goal as a FHIR R4 Goal, with the notes the caller may see as ``note``."""
    status = GoalStatus(goal.status)
    domain = GoalDomain(goal.domain)
    resource: Resource = {"resourceType": "Goal", "id": str(goal.id)}
    if extension := _description(goal.description):
        resource["extension"] = extension
    resource["lifecycleStatus"] = GOAL_LIFECYCLE_STATUS[status]
    achievement = _achievement(goal)
    if achievement is not None:
        code, display = achievement
        resource["achievementStatus"] = {
            "coding": [{"system": GOAL_ACHIEVEMENT_SYSTEM, "code": code, "display": display}],
            "text": display,
        }
    resource["category"] = [
        {
            "coding": [
                {
                    "system": GOAL_DOMAIN_SYSTEM,
                    "code": domain.value,
                    "display": GOAL_DOMAIN_DISPLAY[domain],
                }
            ],
            "text": GOAL_DOMAIN_DISPLAY[domain],
        }
    ]
    resource["description"] = {"text": goal.title}
    resource["subject"] = patient_reference(patient)
    if goal.target_date is not None:
        resource["target"] = [{"dueDate": _date(goal.target_date)}]
    if goal.proposed_by_side == Side.patient:
        resource["expressedBy"] = patient_reference(patient)
    if goal.notes:
        resource["note"] = [_annotation(n) for n in goal.notes]
    if contained:
        return resource
    return _with_meta(resource, goal.updated_at, *(n.created_at for n in goal.notes))


def _activity(activity: ActivityRead, view: CarePlanView, goal_ids: frozenset[str]) -> Resource:
    kind = ActivityKind(activity.kind)
    detail: Resource = {}
    if extension := _description(activity.description):
        detail["extension"] = extension
    detail["code"] = {
        "coding": [
            {
                "system": ACTIVITY_KIND_SYSTEM,
                "code": kind.value,
                "display": ACTIVITY_KIND_DISPLAY[kind],
            }
        ],
        "text": ACTIVITY_KIND_DISPLAY[kind],
    }
    if activity.goal_id is not None and str(activity.goal_id) in goal_ids:
        detail["goal"] = [{"reference": f"#{activity.goal_id}"}]
    detail["status"] = ACTIVITY_STATUS[ActivityStatus(activity.status)]
    period = {
        key: _date(value)
        for key, value in (("start", activity.start), ("end", activity.end))
        if value is not None
    }
    if period:
        detail["scheduledPeriod"] = period
    performers = [{"display": activity.responsible_person}] if activity.responsible_person else []
    performers.append({"display": _unit_display(activity.responsible_side, view)})
    detail["performer"] = performers
    detail["description"] = activity.title
    return {"id": str(activity.id), "detail": detail}


def _participant(member: TeamMemberRead, view: CarePlanView) -> Resource:
    roles = [{"text": ROLE_DISPLAY.get(member.role, member.role)}]
    if member.coordinator:
        roles.append({"text": "Coordinator"})
    participant: Resource = {"role": roles, "member": {"display": member.name}}
    if member.side in (Side.dps, Side.nav):
        participant["onBehalfOf"] = {
            "type": "Organization",
            "display": _unit_display(member.side, view),
        }
    return participant


def care_team_resource(view: CarePlanView) -> Resource:
    """The plan's care team, contained in the CarePlan (it has no life of its own here)."""
    team: Resource = {
        "resourceType": "CareTeam",
        "id": CARE_TEAM_ID,
        "status": CARE_TEAM_STATUS[PlanStatus(view.status)],
        "subject": patient_reference(view.patient),
    }
    if view.team:  # FHIR JSON has no empty arrays
        team["participant"] = [_participant(m, view) for m in view.team]
    return team


def care_plan_resource(view: CarePlanView) -> Resource:
    """The caller's view of a plan as one FHIR R4 CarePlan with its Goals and CareTeam inside."""
    plan = view
    status = PlanStatus(plan.status)
    goal_ids = frozenset(str(g.id) for g in view.goals)
    period = _period(plan, finished=CARE_PLAN_STATUS[status] in ("completed", "revoked"))
    resource: Resource = {
        "resourceType": "CarePlan",
        "id": str(plan.id),
        "contained": [
            care_team_resource(view),
            *(goal_resource(g, view.patient, contained=True) for g in view.goals),
        ],
        "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{plan.id}"}],
        "status": CARE_PLAN_STATUS[status],
        "intent": "plan",
        "title": plan.title,
    }
    if plan.main_goal:
        resource["description"] = plan.main_goal
    resource["subject"] = patient_reference(view.patient)
    resource["period"] = period
    resource["created"] = _instant(plan.created_at)
    coordinator = next((m for m in view.team if m.coordinator), None)
    if coordinator is not None:
        resource["author"] = {"display": coordinator.name}
    resource["careTeam"] = [{"reference": f"#{CARE_TEAM_ID}"}]
    if view.goals:
        resource["goal"] = [{"reference": f"#{g.id}"} for g in view.goals]
    if view.activities:
        resource["activity"] = [_activity(a, view, goal_ids) for a in view.activities]
    return _with_meta(resource, *_moments(view))


def _moments(view: CarePlanView) -> list[datetime]:
    """When the plan and everything in its CarePlan last changed."""
    moments = [view.updated_at, *(m.created_at for m in view.team)]
    moments += [a.updated_at for a in view.activities]
    for goal in view.goals:
        moments += [goal.updated_at, *(n.created_at for n in goal.notes)]
    return moments


def goal_search_bundle(view: CarePlanView, *, self_url: str) -> Resource:
    """``Goal?plan=``: a searchset Bundle of the plan's Goals the caller may see."""
    bundle: Resource = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(view.goals),
        "link": [{"relation": "self", "url": self_url}],
    }
    if view.goals:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"urn:uuid:{g.id}",
                "resource": goal_resource(g, view.patient),
                "search": {"mode": "match"},
            }
            for g in view.goals
        ]
    return bundle
