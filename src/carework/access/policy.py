"""Who may see and change what: object scope, ownership, consent and note visibility.

Every rule of the access model lives here so that it can be read, reviewed and tested in one
place. Repositories ask ``plan_scope`` for a SQL predicate (out of scope reads as not found);
services ask the ``ensure_*`` functions before they write, and filter what they read through a
``View``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    and_,
    any_,
    bindparam,
    exists,
    false,
    literal,
    or_,
    select,
    true,
)

from carework.auth.principal import Principal
from carework.consent.repository import scope_active
from carework.errors import Conflict, Forbidden, NotFound
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.team import CareTeamMember
from carework.vocab import (
    ActivityKind,
    ConsentEvidence,
    ConsentScope,
    GoalDomain,
    GoalStatus,
    MinutesStatus,
    Role,
    Sensitivity,
    Side,
    TeamRole,
    Visibility,
)

SIDE_OF_ROLE: dict[Role, Side] = {
    Role.clinician: Side.dps,
    Role.nav_advisor: Side.nav,
    Role.patient: Side.patient,
}

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


def ensure_role(principal: Principal, role: Role) -> Principal:
    """Each audience router serves exactly one role; any other gets 403."""
    if principal.role is not role:
        raise Forbidden(f"This endpoint is for the {role.value} role.")
    return principal


def side_of(principal: Principal) -> Side:
    side = SIDE_OF_ROLE.get(principal.role)
    if side is None:
        raise Forbidden("This role takes no part in plans.")
    return side


def owner_of(domain: GoalDomain | str) -> Side:
    return OWNER_OF_DOMAIN[GoalDomain(domain)]


def units_for_new_plan(
    principal: Principal, dps_unit: str | None, nav_office: str | None
) -> tuple[str | None, str | None]:
    """A plan is created in the caller's own unit (or office): the caller's side may leave it
    out, and naming another one is 403 — no one opens plans in someone else's unit."""
    side = side_of(principal)
    if side is Side.patient:
        raise Forbidden("Patients do not create plans.")
    own = dps_unit if side is Side.dps else nav_office
    if own is not None and own != principal.org:
        raise Forbidden(
            f"Plans are created in your own {'unit' if side is Side.dps else 'office'}."
        )
    if side is Side.dps:
        return principal.org, nav_office
    return dps_unit, principal.org


# --- object scope -------------------------------------------------------------------------


def plan_scope(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on ``Plan``: the plans this caller may know exist.

    The caller's identifiers are named bind parameters and the predicate's shape depends on
    the role alone, so a statement built with it can be kept and run for any caller of that
    role with ``scope_params`` (see ``plans.view``)."""
    side = SIDE_OF_ROLE.get(principal.role)
    if side is Side.patient:
        # A patient token without a national id matches nothing (``nid = NULL``).
        own_patient = (
            select(Patient.id)
            .where(Patient.nid == bindparam("scope_pid", principal.pid, type_=String))
            .scalar_subquery()
        )
        return Plan.patient_id == own_patient
    if side is None:
        return false()
    unit = Plan.dps_unit if side is Side.dps else Plan.nav_office
    named_on_team = exists().where(
        CareTeamMember.plan_id == Plan.id,
        CareTeamMember.side == side.value,
        CareTeamMember.sub == bindparam("scope_sub", principal.sub, type_=String),
    )
    return or_(unit == bindparam("scope_org", principal.org, type_=String), named_on_team)


def scope_params(principal: Principal) -> dict[str, str | None]:
    """The values of ``plan_scope``'s parameters for this caller."""
    return {"scope_pid": principal.pid, "scope_sub": principal.sub, "scope_org": principal.org}


def anyone_with(role: Role) -> Principal:
    """A caller with this role and no identity, to build a statement once per role. Run it
    with ``scope_params`` of the real caller; left without them it matches no plan."""
    return Principal(sub="", name="", role=role, org=None, pid=None)


# --- ownership ----------------------------------------------------------------------------


def ensure_owns(principal: Principal, owner_side: Side | str, what: str) -> None:
    """No side edits the other side's items."""
    if side_of(principal) is not Side(owner_side):
        raise Forbidden(f"This {what} belongs to {Side(owner_side).value.upper()}.")


def ensure_may_create_goal(principal: Principal, domain: GoalDomain) -> None:
    """The owning side creates goals; the patient only proposes them (see ``goal_starts_as``)."""
    side = side_of(principal)
    if side is not Side.patient and owner_of(domain) is not side:
        raise Forbidden(f"{domain.value.capitalize()} goals belong to {owner_of(domain).upper()}.")


def ensure_may_run_activity(principal: Principal, kind: ActivityKind) -> Side:
    side = side_of(principal)
    if kind not in ACTIVITY_KINDS.get(side, frozenset()):
        raise Forbidden(f"Activities of kind {kind.value} are not run by {side.value.upper()}.")
    return side


def ensure_may_add_member(principal: Principal, member_role: TeamRole) -> Side:
    """Each side names its own people on the team."""
    member_side = TEAM_ROLES[member_role]
    if side_of(principal) is not member_side:
        raise Forbidden(f"Members on the {member_side.value.upper()} side are added by that side.")
    return member_side


def ensure_may_grant_consent(principal: Principal, evidence: ConsentEvidence | None) -> None:
    """The patient grants for themself; a clinician records a consent given in person.
    NAV never grants. ``evidence`` None asks about revoking, which the same two may do."""
    side = side_of(principal)
    if side is Side.patient and evidence in (None, ConsentEvidence.digital):
        return
    if side is Side.dps and evidence in (None, ConsentEvidence.verbal, ConsentEvidence.written):
        return
    raise Forbidden("Only the patient, or a clinician recording it in person, decides consent.")


def may_read_access_log(principal: Principal) -> bool:
    """Who read and changed a plan is the clinic's record, like who granted consent: the DPS
    side reads a plan's trail. The patient reads their own plan's (``audit.access_log``). NAV
    does not: the trail of reads and notes on treatment goals would tell what consent withholds."""
    return SIDE_OF_ROLE.get(principal.role) is Side.dps


def ensure_may_read_access_log(principal: Principal) -> None:
    if not may_read_access_log(principal):
        raise Forbidden("A plan's access log is read by the DPS side.")


def may_propose_only(principal: Principal) -> bool:
    """A patient's goal waits as ``proposed`` until the owning side accepts it."""
    return side_of(principal) is Side.patient


# --- what a caller sees inside a plan in scope -------------------------------------------------


@dataclass(frozen=True, slots=True)
class View:
    """What one caller may see of one plan, given the consents active at this request."""

    side: Side
    consent: frozenset[ConsentScope]

    def sees_goal(self, domain: GoalDomain | str) -> bool:
        if GoalDomain(domain) is not GoalDomain.treatment or self.side is not Side.nav:
            return True
        return ConsentScope.treatment_goals in self.consent

    def sees_activity(self, responsible_side: Side | str, goal_domain: str | None) -> bool:
        """A DPS activity is treatment, and so is anything tied to a treatment goal."""
        if goal_domain is not None and not self.sees_goal(goal_domain):
            return False
        if Side(responsible_side) is Side.dps:
            return self.sees_goal(GoalDomain.treatment)
        return True

    def sees_note(
        self, visibility: Visibility | str, author_side: Side | str, goal_domain: str
    ) -> bool:
        if not self.sees_goal(goal_domain):
            return False
        if Visibility(visibility) is Visibility.internal and Side(author_side) is not self.side:
            return False
        return not (
            self.side is Side.nav
            and GoalDomain(goal_domain) is GoalDomain.treatment
            and ConsentScope.treatment_notes not in self.consent
        )


def view_for(principal: Principal, consent: frozenset[ConsentScope]) -> View:
    return View(side=side_of(principal), consent=consent)


@dataclass(frozen=True, slots=True)
class SqlView:
    """``View`` as SQL, for reading a whole plan in one statement: the same rules, applied to
    columns. ``consent`` is an array expression of the scopes active at this request.
    (tests/test_access_sql.py holds the two to the same answers for every combination.)"""

    side: Side
    consent: ColumnElement[Any]

    def _consented(self, scope: ConsentScope) -> ColumnElement[bool]:
        return literal(scope.value) == any_(self.consent)

    def sees_goal(self, domain: SQLColumnExpression[str]) -> ColumnElement[bool]:
        if self.side is not Side.nav:
            return true()
        return or_(
            domain != GoalDomain.treatment.value, self._consented(ConsentScope.treatment_goals)
        )

    def sees_activity(
        self,
        responsible_side: SQLColumnExpression[str],
        goal_domain: SQLColumnExpression[str | None],
    ) -> ColumnElement[bool]:
        if self.side is not Side.nav:
            return true()
        goals = self._consented(ConsentScope.treatment_goals)
        return and_(
            or_(goal_domain.is_(None), goal_domain != GoalDomain.treatment.value, goals),
            or_(responsible_side != Side.dps.value, goals),
        )

    def sees_note(
        self,
        visibility: SQLColumnExpression[str],
        author_side: SQLColumnExpression[str],
        goal_domain: SQLColumnExpression[str],
    ) -> ColumnElement[bool]:
        own_or_shared = or_(visibility != Visibility.internal.value, author_side == self.side.value)
        if self.side is not Side.nav:
            return own_or_shared
        treatment_notes = and_(
            self._consented(ConsentScope.treatment_goals),
            self._consented(ConsentScope.treatment_notes),
        )
        return and_(own_or_shared, or_(goal_domain != GoalDomain.treatment.value, treatment_notes))


def sql_view_for(principal: Principal, consent: ColumnElement[Any]) -> SqlView:
    return SqlView(side=side_of(principal), consent=consent)


# --- joint meetings -----------------------------------------------------------------------------


def kind_fits(side: Side | str, kind: ActivityKind) -> bool:
    """Whether activities of this kind are run by this side (``ACTIVITY_KINDS``)."""
    return kind in ACTIVITY_KINDS.get(Side(side), frozenset())


def ensure_may_change_meeting(principal: Principal, created_by_side: Side | str) -> None:
    """A meeting's agenda and minutes are the record of the side that called it: only that
    side changes them and releases the minutes."""
    if side_of(principal) is not Side(created_by_side):
        raise Forbidden(f"This meeting was called by {Side(created_by_side).value.upper()}.")


def sees_minutes(
    view: View, created_by_side: Side | str, minutes_status: MinutesStatus | str
) -> bool:
    """Minutes stay the writing side's draft until released. Released minutes of a DPS
    meeting are health information: NAV reads them only as it reads notes on treatment goals
    (the same consent), so the minutes and the feed (``sensitivity.of_meeting_minutes``)
    agree."""
    if Side(created_by_side) is view.side:
        return True
    if MinutesStatus(minutes_status) is not MinutesStatus.released:
        return False
    if Side(created_by_side) is Side.dps:
        return view.sees_note(Visibility.shared, Side.dps, GoalDomain.treatment)
    return True


# --- reviews and quality indicators -----------------------------------------------------------


def ensure_may_assess(principal: Principal, owner_side: Side | str) -> None:
    """At a review each side assesses its own goals: how far a treatment goal has come is the
    clinician's finding, a work or education goal's the advisor's."""
    if side_of(principal) is not Side(owner_side):
        raise Forbidden(f"This goal is assessed by {Side(owner_side).value.upper()}, its owner.")


def sees_review_summary(view: View, recorded_by_side: Side | str) -> bool:
    """A review's summary written by DPS is health information: NAV reads it only as it reads
    notes on treatment goals (the same consent). The review itself (when, by whom) and the
    findings on goals NAV may see are not."""
    if Side(recorded_by_side) is not Side.dps:
        return True
    return view.sees_note(Visibility.shared, Side.dps, GoalDomain.treatment)


def own_unit(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on ``Plan`` for quality indicators: the plans of the caller's own DPS unit
    or NAV office. Not care-team membership: a unit measures its own work, and one
    clinician named on another unit's plan must not open that unit's figures."""
    side = side_of(principal)
    if side is Side.patient or principal.org is None:
        return false()
    unit = Plan.dps_unit if side is Side.dps else Plan.nav_office
    return unit == principal.org


def audited_unit(principal: Principal, org: str | None) -> ColumnElement[bool]:
    """The auditor's indicators: across every unit, or the one DPS unit or NAV office named."""
    ensure_role(principal, Role.auditor)
    if org is None:
        return true()
    return or_(Plan.dps_unit == org, Plan.nav_office == org)


# --- the same rules for set-based reads (change feed, history) --------------------------------


def change_visible(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on ``ChangeEvent``: the ``View`` rules, for reading events in bulk."""
    from carework.models.change_event import ChangeEvent  # the feed builds on this module

    side = side_of(principal)
    in_scope = ChangeEvent.plan_id.in_(select(Plan.id).where(plan_scope(principal)))
    not_internal = or_(ChangeEvent.internal_to.is_(None), ChangeEvent.internal_to == side.value)
    if side is not Side.nav:
        return and_(in_scope, not_internal)
    goals = scope_active(ChangeEvent.plan_id, ConsentScope.treatment_goals)
    notes = and_(goals, scope_active(ChangeEvent.plan_id, ConsentScope.treatment_notes))
    return and_(
        in_scope,
        not_internal,
        or_(
            ChangeEvent.sensitivity == Sensitivity.general.value,
            and_(ChangeEvent.sensitivity == Sensitivity.treatment.value, goals),
            and_(ChangeEvent.sensitivity == Sensitivity.treatment_note.value, notes),
        ),
    )


# --- agreements and read receipts ---------------------------------------------------------------


def ensure_may_agree_to_goal(view: View, domain: str, status: str, in_error: bool) -> None:
    """A party agrees to (or withdraws from) a goal it can see; one it cannot see, or one
    entered in error, is not there (404). A proposal is first the owning side's to accept:
    until then there is nothing settled to agree to (409, and ``waiting_for`` names the owner)."""
    if in_error or not view.sees_goal(domain):
        raise NotFound("No such goal.")
    if GoalStatus(status) is GoalStatus.proposed:
        raise Conflict("A proposed goal can be agreed to once the owning side has accepted it.")


def ensure_may_agree_to_activity(
    view: View, responsible_side: str, goal_domain: str | None, in_error: bool
) -> None:
    """As for goals: only an activity the caller can see, and that is in use."""
    if in_error or not view.sees_activity(responsible_side, goal_domain):
        raise NotFound("No such activity.")
