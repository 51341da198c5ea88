"""Who may change what, and what each side may do: ownership, the kinds of activity each side
runs, who names whom on the care team, who decides consent, who reads what record.

Services ask the ``ensure_*`` functions before they write (403 with a problem body); the pages
ask the ``may_*`` functions what to offer, so a button and its rule cannot disagree. What a
caller may *read* is ``scope`` (which rows) and ``visibility`` (what of them).
"""

from __future__ import annotations

from carework.access.roles import side_of
from carework.auth.principal import Principal
from carework.errors import Conflict, Forbidden
from carework.vocab import (
    ActivityKind,
    ConsentEvidence,
    GoalDomain,
    GoalStatus,
    Side,
    TeamRole,
)

#: Clinicians own treatment; NAV owns work and education.
OWNER_OF_DOMAIN: dict[GoalDomain, Side] = {
    GoalDomain.treatment: Side.dps,
    GoalDomain.work: Side.nav,
    GoalDomain.education: Side.nav,
}

#: Which side may run which kind of activity. ``other`` belongs to both.
ACTIVITY_KINDS: dict[Side, frozenset[ActivityKind]] = {
    Side.dps: frozenset({ActivityKind.therapy, ActivityKind.medication_review, ActivityKind.other}),
    Side.nav: frozenset(
        {
            ActivityKind.work_training,
            ActivityKind.ips_job_search,
            ActivityKind.ips_employer_contact,
            ActivityKind.ips_follow_along,
            ActivityKind.course,
            ActivityKind.benefit_follow_up,
            ActivityKind.other,
        }
    ),
}

#: The role a care-team member has decides which side they are on. The employment
#: specialist (IPS) follows the patient into work on NAV's side.
TEAM_ROLES: dict[TeamRole, Side] = {
    TeamRole.clinician: Side.dps,
    TeamRole.nav_advisor: Side.nav,
    TeamRole.employment_specialist: Side.nav,
}


def owner_of(domain: GoalDomain | str) -> Side:
    return OWNER_OF_DOMAIN[GoalDomain(domain)]


# --- plans ----------------------------------------------------------------------------------


def may_create_plan(principal: Principal) -> bool:
    """DPS and NAV open plans (each in its own unit or office); the patient does not."""
    return side_of(principal) in (Side.dps, Side.nav)


def units_for_new_plan(
    principal: Principal, dps_unit: str | None, nav_office: str | None
) -> tuple[str | None, str | None]:
    """A plan is created in the caller's own unit (or office): the caller's side may leave it
    out, and naming another one is 403 — no one opens plans in someone else's unit."""
    if not may_create_plan(principal):
        raise Forbidden("Patients do not create plans.")
    side = side_of(principal)
    own = dps_unit if side is Side.dps else nav_office
    if own is not None and own != principal.org:
        raise Forbidden(
            f"Plans are created in your own {'unit' if side is Side.dps else 'office'}."
        )
    if side is Side.dps:
        return principal.org, nav_office
    return dps_unit, principal.org


# --- ownership ------------------------------------------------------------------------------


def may_change(principal: Principal, owner_side: Side | str) -> bool:
    """No side edits the other side's items."""
    return side_of(principal) is Side(owner_side)


def ensure_owns(principal: Principal, owner_side: Side | str, what: str) -> None:
    if not may_change(principal, owner_side):
        raise Forbidden(f"This {what} belongs to {Side(owner_side).value.upper()}.")


def creatable_domains(principal: Principal) -> list[GoalDomain]:
    """The goal domains the caller's side creates outright (the patient proposes any)."""
    side = side_of(principal)
    return [d for d in GoalDomain if side is Side.patient or owner_of(d) is side]


def ensure_may_create_goal(principal: Principal, domain: GoalDomain) -> None:
    """The owning side creates goals; the patient only proposes them (see ``goal_starts_as``)."""
    if domain not in creatable_domains(principal):
        raise Forbidden(f"{domain.value.capitalize()} goals belong to {owner_of(domain).upper()}.")


def may_propose_only(principal: Principal) -> bool:
    """A patient's goal waits as ``proposed`` until the owning side accepts it."""
    return side_of(principal) is Side.patient


def activity_kinds(principal: Principal) -> list[ActivityKind]:
    """The kinds of activity the caller's side runs, in the vocabulary's order."""
    runs = ACTIVITY_KINDS.get(side_of(principal), frozenset())
    return [kind for kind in ActivityKind if kind in runs]


def kind_fits(side: Side | str, kind: ActivityKind) -> bool:
    """Whether activities of this kind are run by this side (``ACTIVITY_KINDS``)."""
    return kind in ACTIVITY_KINDS.get(Side(side), frozenset())


def ensure_may_run_activity(principal: Principal, kind: ActivityKind) -> Side:
    side = side_of(principal)
    if not kind_fits(side, kind):
        raise Forbidden(f"Activities of kind {kind.value} are not run by {side.value.upper()}.")
    return side


def ensure_may_add_member(principal: Principal, member_role: TeamRole) -> Side:
    """Each side names its own people on the team."""
    member_side = TEAM_ROLES[member_role]
    if side_of(principal) is not member_side:
        raise Forbidden(f"Members on the {member_side.value.upper()} side are added by that side.")
    return member_side


# --- consent and the records of who did what ---------------------------------------------------


def may_grant_consent(principal: Principal, evidence: ConsentEvidence | None) -> bool:
    """The patient grants for themself; a clinician records a consent given in person.
    NAV never grants. ``evidence`` None asks about revoking, which the same two may do."""
    side = side_of(principal)
    if side is Side.patient:
        return evidence in (None, ConsentEvidence.digital)
    if side is Side.dps:
        return evidence in (None, ConsentEvidence.verbal, ConsentEvidence.written)
    return False


def ensure_may_grant_consent(principal: Principal, evidence: ConsentEvidence | None) -> None:
    if not may_grant_consent(principal, evidence):
        raise Forbidden("Only the patient, or a clinician recording it in person, decides consent.")


def may_read_consent_records(principal: Principal) -> bool:
    """Who granted what, and when, is the clinic's record and the patient's own: NAV learns
    only which scopes are active (``consent`` in its plan view)."""
    return side_of(principal) in (Side.dps, Side.patient)


def ensure_may_read_consent_records(principal: Principal) -> None:
    if not may_read_consent_records(principal):
        raise Forbidden("NAV reads which consent scopes are active, not the consent records.")


def may_read_access_log(principal: Principal) -> bool:
    """Who read and changed a plan is the clinic's record, like who granted consent: the DPS
    side reads a plan's trail. The patient reads their own plan's (``audit.access_log``). NAV
    does not: the trail of reads and notes on treatment goals would tell what consent withholds."""
    return side_of(principal) is Side.dps


def ensure_may_read_access_log(principal: Principal) -> None:
    if not may_read_access_log(principal):
        raise Forbidden("A plan's access log is read by the DPS side.")


# --- joint meetings and reviews -------------------------------------------------------------


def ensure_may_change_meeting(principal: Principal, created_by_side: Side | str) -> None:
    """A meeting's agenda and minutes are the record of the side that called it: only that
    side changes them and releases the minutes."""
    if side_of(principal) is not Side(created_by_side):
        raise Forbidden(f"This meeting was called by {Side(created_by_side).value.upper()}.")


def ensure_may_assess(principal: Principal, owner_side: Side | str) -> None:
    """At a review each side assesses its own goals: how far a treatment goal has come is the
    clinician's finding, a work or education goal's the advisor's."""
    if side_of(principal) is not Side(owner_side):
        raise Forbidden(f"This goal is assessed by {Side(owner_side).value.upper()}, its owner.")


# --- agreements ---------------------------------------------------------------------------------


def ensure_agreeable(status: GoalStatus | str) -> None:
    """A proposal is first the owning side's to accept: until then there is nothing settled
    to agree to (409, and ``waiting_for`` names the owner). An item the caller cannot see, or
    one entered in error, is not found before this is asked (``access.scope``)."""
    if GoalStatus(status) is GoalStatus.proposed:
        raise Conflict("A proposed goal can be agreed to once the owning side has accepted it.")
