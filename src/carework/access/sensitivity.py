"""How each change is classed in the change feed — decided here, from the resource, and nowhere
else. The outbox takes an ``EventClass`` and has no default: a writer who forgot would
otherwise publish treatment details to NAV (``scope.readable_change_events`` reads it back)."""

from __future__ import annotations

from dataclasses import dataclass

from carework.vocab import GoalDomain, Sensitivity, Side, Visibility


@dataclass(frozen=True, slots=True)
class EventClass:
    """Who may read one change event: its sensitivity, and the side an internal note is for."""

    sensitivity: Sensitivity
    internal_to: Side | None = None


#: The plan itself, its care team, its consents and its reviews as events: dates, names and
#: scopes, no health information. Everyone in scope reads them (NAV included).
GENERAL = EventClass(Sensitivity.general)
_TREATMENT = EventClass(Sensitivity.treatment)


def of_goal(domain: GoalDomain | str) -> EventClass:
    """A treatment goal is health information; work and education goals are not."""
    return _TREATMENT if GoalDomain(domain) is GoalDomain.treatment else GENERAL


def of_activity(responsible_side: Side | str, goal_domain: GoalDomain | str | None) -> EventClass:
    """A DPS activity is treatment, and so is anything tied to a treatment goal."""
    treatment = Side(responsible_side) is Side.dps or (
        goal_domain is not None and GoalDomain(goal_domain) is GoalDomain.treatment
    )
    return _TREATMENT if treatment else GENERAL


def of_note(
    goal_domain: GoalDomain | str, visibility: Visibility | str, author_side: Side | str
) -> EventClass:
    """A note on a treatment goal needs consent to treatment notes; an internal note is for
    its author's side alone, whatever the goal."""
    internal_to = Side(author_side) if Visibility(visibility) is Visibility.internal else None
    treatment = GoalDomain(goal_domain) is GoalDomain.treatment
    sensitivity = Sensitivity.treatment_note if treatment else Sensitivity.general
    return EventClass(sensitivity, internal_to)


def of_meeting_minutes(created_by_side: Side | str) -> EventClass:
    """Released minutes of a DPS meeting are read by NAV only as treatment notes are
    (``visibility.sees_minutes``); the meeting's time and agenda are general."""
    return EventClass(Sensitivity.treatment_note) if Side(created_by_side) is Side.dps else GENERAL
