"""What a caller sees inside a plan in scope: goals, activities, notes, minutes and review
summaries, given the caller's side and the consents active at this request.

The rules exist twice on purpose: ``View`` for an item already in hand, ``SqlView`` for
statements that read a whole plan or many items at once. ``tests/test_access_sql.py`` holds the
two to the same answers for every combination of side, consent, domain and visibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, any_, literal, or_, true

from carework.access.roles import side_of
from carework.auth.principal import Principal
from carework.vocab import ConsentScope, GoalDomain, MinutesStatus, Side, Visibility


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

    def sees_minutes(
        self, created_by_side: Side | str, minutes_status: MinutesStatus | str
    ) -> bool:
        """Minutes stay the writing side's draft until released. Released minutes of a DPS
        meeting are health information: NAV reads them only as it reads notes on treatment
        goals (the same consent), so the minutes and the feed (``sensitivity``) agree."""
        if Side(created_by_side) is self.side:
            return True
        if MinutesStatus(minutes_status) is not MinutesStatus.released:
            return False
        if Side(created_by_side) is Side.dps:
            return self.sees_note(Visibility.shared, Side.dps, GoalDomain.treatment)
        return True

    def sees_review_summary(self, recorded_by_side: Side | str) -> bool:
        """A review's summary written by DPS is health information: NAV reads it only as it
        reads notes on treatment goals. The review itself (when, by whom) and the findings on
        goals NAV may see are not."""
        if Side(recorded_by_side) is not Side.dps:
            return True
        return self.sees_note(Visibility.shared, Side.dps, GoalDomain.treatment)


def view_for(principal: Principal, consent: frozenset[ConsentScope]) -> View:
    return View(side=side_of(principal), consent=consent)


@dataclass(frozen=True, slots=True)
class SqlView:
    """``View`` as SQL, for reading a whole plan in one statement: the same rules, applied to
    columns. ``consent`` is an array expression of the scopes active at this request."""

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


def in_use(model: type[Any]) -> ColumnElement[bool]:
    """Not marked entered in error: such items leave every view (history keeps them)."""
    return model.entered_in_error_at.is_(None)  # type: ignore[no-any-return]
