"""Which rows a caller may read: every statement that reads patient data starts here.

A plan is in scope for the clinicians of its DPS unit, the advisors of its NAV office, the
people named on its care team and its own patient (``plan_scope``); out of scope reads as not
found (404), never 403 — no one learns that a plan exists. ``Scoped`` builds, per role, the
statements the features and the read model run: the plans in scope, one plan, and within it the
goals, activities, notes, meetings, reviews and consent records the caller may see, each joined
to the consent active at this request so that visibility (``visibility.SqlView``) is decided in
the same statement. An item id is only ever looked up together with a plan in scope: there is
no way to read a goal, an activity or a note by its id alone.

The caller's identifiers are bind parameters (``params``), so each statement is built once per
role and compiled once; run without them, a statement matches no plan. The trail and the feed
are read through ``readable_audit_events`` and ``readable_change_events``.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import LateralFromClause

from carework.access.consent import active_scopes_lateral, scope_active
from carework.access.roles import SIDE_OF_ROLE, ensure_role, side_of
from carework.access.visibility import SqlView, in_use
from carework.auth.principal import Principal
from carework.models.activity import Activity
from carework.models.audit import AuditEvent
from carework.models.change_event import ChangeEvent
from carework.models.consent import Consent
from carework.models.goal import Goal
from carework.models.meeting import Meeting
from carework.models.note import Note
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.review import Evaluation
from carework.models.team import CareTeamMember
from carework.vocab import OPEN_PLAN_STATUSES, ConsentScope, Role, Sensitivity, Side

# --- the plans a caller may know exist -------------------------------------------------------


def plan_scope(principal: Principal) -> ColumnElement[bool]:
    """SQL predicate on ``Plan``: the plans this caller may know exist.

    The caller's identifiers are named bind parameters and the predicate's shape depends on
    the role alone, so a statement built with it can be kept and run for any caller of that
    role with ``params``."""
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


def params(principal: Principal, **ids: Any) -> dict[str, Any]:
    """The bind parameters of a ``Scoped`` statement: the caller's identifiers, and the ids
    the statement looks up (``plan_id``, ``goal_id``, ...)."""
    return {
        "scope_pid": principal.pid,
        "scope_sub": principal.sub,
        "scope_org": principal.org,
    } | ids


def anyone_with(role: Role) -> Principal:
    """A caller with this role and no identity, to build a statement once per role. Run it
    with ``params`` of the real caller; left without them it matches no plan."""
    return Principal(sub="", name="", role=role, org=None, pid=None)


def _id(name: str) -> BindParameter[uuid.UUID]:
    return bindparam(name, type_=Uuid)


@dataclass(frozen=True, eq=False)
class Scoped:
    """The statements one role reads through. Each method takes the columns to select and
    returns a ``Select`` whose FROM and WHERE are the access rules: add columns, order and
    locks, never a way around the scope."""

    role: Role
    #: The consent active per plan at this request (a LATERAL subquery on ``Plan``).
    consent: LateralFromClause = field(default_factory=active_scopes_lateral)
    #: The goal an activity is tied to, if any: its domain decides who sees the activity.
    activity_goal: Any = field(default_factory=lambda: aliased(Goal, name="activity_goal"))

    @property
    def scopes(self) -> ColumnElement[list[str]]:
        """The active consent scopes of the plan, a sorted array."""
        return self.consent.c.scopes

    @property
    def view(self) -> SqlView:
        """What this role sees inside a plan, under the consent of ``consent``."""
        return SqlView(side=SIDE_OF_ROLE[self.role], consent=self.scopes)

    # plans

    def plans(self, *columns: Any, with_consent: bool = False) -> Select[Any]:
        """The plans in scope (with the consent active on each, if asked)."""
        stmt = select(*columns).select_from(Plan)
        if with_consent:
            stmt = stmt.join(self.consent, true())
        return stmt.where(plan_scope(anyone_with(self.role)))

    def plan(self, *columns: Any, with_consent: bool = True) -> Select[Any]:
        """One plan (``plan_id``) in scope, with its consent."""
        return self.plans(*columns, with_consent=with_consent).where(Plan.id == _id("plan_id"))

    def own_plan(self, *columns: Any, with_consent: bool = True) -> Select[Any]:
        """The patient's open plan, or else their most recent one."""
        is_open = Plan.status.in_([s.value for s in OPEN_PLAN_STATUSES])
        return (
            self.plans(*columns, with_consent=with_consent)
            .order_by(is_open.desc(), Plan.created_at.desc())
            .limit(1)
        )

    # items of one plan, as the caller sees them

    def goals(self, *columns: Any, in_error_too: bool = False) -> Select[Any]:
        """The goals of one plan the caller sees (those entered in error too, if asked)."""
        stmt = (
            self.plan(*columns)
            .join(Goal, Goal.plan_id == Plan.id)
            .where(self.view.sees_goal(Goal.domain))
        )
        return stmt if in_error_too else stmt.where(in_use(Goal))

    def goal(self, *columns: Any, in_error_too: bool = False) -> Select[Any]:
        """One goal (``goal_id``) of one plan, if the caller sees it."""
        return self.goals(*columns, in_error_too=in_error_too).where(Goal.id == _id("goal_id"))

    def activities(self, *columns: Any, in_error_too: bool = False) -> Select[Any]:
        """The activities of one plan the caller sees. An activity may hang on a goal entered
        in error: that goal's domain still decides who sees it."""
        goal = self.activity_goal
        stmt = (
            self.plan(*columns)
            .join(Activity, Activity.plan_id == Plan.id)
            .outerjoin(goal, goal.id == Activity.goal_id)
            .where(self.view.sees_activity(Activity.responsible_side, goal.domain))
        )
        return stmt if in_error_too else stmt.where(in_use(Activity))

    def activity(self, *columns: Any, in_error_too: bool = False) -> Select[Any]:
        """One activity (``activity_id``) of one plan, if the caller sees it."""
        stmt = self.activities(*columns, in_error_too=in_error_too)
        return stmt.where(Activity.id == _id("activity_id"))

    def notes(self, *columns: Any, in_error_too: bool = False) -> Select[Any]:
        """The notes the caller sees on one goal (``goal_id``, in use and seen by the
        caller)."""
        stmt = (
            self.goal(*columns)
            .join(Note, and_(Note.goal_id == Goal.id, Note.plan_id == Plan.id))
            .where(self.view.sees_note(Note.visibility, Note.author_side, Goal.domain))
        )
        return stmt if in_error_too else stmt.where(in_use(Note))

    def note(self, *columns: Any, in_error_too: bool = False) -> Select[Any]:
        """One note (``note_id``) on one goal (``goal_id``, in use and seen by the caller)."""
        return self.notes(*columns, in_error_too=in_error_too).where(Note.id == _id("note_id"))

    def meetings(self, *columns: Any) -> Select[Any]:
        """The joint meetings of one plan (what of their minutes a caller reads is
        ``View.sees_minutes``)."""
        return self.plan(*columns).join(Meeting, Meeting.plan_id == Plan.id)

    def meeting(self, *columns: Any) -> Select[Any]:
        return self.meetings(*columns).where(Meeting.id == _id("meeting_id"))

    def evaluations(self, *columns: Any) -> Select[Any]:
        """The reviews of one plan (the summary is ``View.sees_review_summary``'s)."""
        return self.plan(*columns).join(Evaluation, Evaluation.plan_id == Plan.id)

    def consent_records(self, *columns: Any) -> Select[Any]:
        """The consent records of one plan: the clinic's and the patient's to read, never
        NAV's (``policy.may_read_consent_records``)."""
        stmt = self.plan(*columns).join(Consent, Consent.plan_id == Plan.id)
        reads = SIDE_OF_ROLE[self.role] in (Side.dps, Side.patient)
        return stmt if reads else stmt.where(false())

    def consent_record(self, *columns: Any) -> Select[Any]:
        return self.consent_records(*columns).where(Consent.id == _id("consent_id"))

    def patients_consent_records(self, *columns: Any) -> Select[Any]:
        """A consent record (``consent_id``) on any of the patient's plans, not only the open
        one: a consent on an earlier plan still opens it to NAV until revoked."""
        stmt = self.plans(*columns).join(Consent, Consent.plan_id == Plan.id)
        return stmt.where(Consent.id == _id("consent_id"))


@functools.cache
def scoped(role: Role) -> Scoped:
    """The statements of ``role``, built once."""
    if role not in SIDE_OF_ROLE:
        raise ValueError(f"{role.value} reads no plans")
    return Scoped(role)


# --- reading across plans: units, the feed, the trail -----------------------------------------


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


def readable_change_events(role: Role) -> ColumnElement[bool]:
    """SQL predicate on ``ChangeEvent``: the events of plans in scope that a caller of
    ``role`` may read — the ``View`` rules, by each event's class (``sensitivity``), for
    reading in bulk. Run with ``params`` of the caller."""
    side = SIDE_OF_ROLE[role]
    in_scope = ChangeEvent.plan_id.in_(select(Plan.id).where(plan_scope(anyone_with(role))))
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


def readable_audit_events(role: Role) -> ColumnElement[bool]:
    """SQL predicate on ``AuditEvent``. The auditor reads the whole trail; the DPS side reads
    what was done to its plans (``policy.may_read_access_log``); the patient reads what others
    did to their own; NAV reads none of it. Run with ``params`` of the caller."""
    if role is Role.auditor:
        return true()
    side = SIDE_OF_ROLE[role]
    if side is Side.nav:
        return false()
    in_scope = AuditEvent.plan_id.in_(select(Plan.id).where(plan_scope(anyone_with(role))))
    done = and_(in_scope, AuditEvent.outcome == "allowed")
    if side is Side.patient:
        me = bindparam("scope_sub", "", type_=String)
        return and_(done, AuditEvent.actor_sub.is_distinct_from(me))
    return done
