"""The API: handlers at module level by feature (``plans``, ``goals``, ``activities``,
``agreements``, ``reviews``, ``meetings``, ``consents``, ``changes``, ``trail``), mounted per
audience by ``dps``, ``nav``, ``patient`` and ``audit``, each router admitting its own role."""

from __future__ import annotations

from carework.api import activities, agreements, changes, goals, meetings, plans, reviews

#: What the care team serves alike, DPS and NAV, in the order the spec lists it.
CARE_TEAM_ROUTES = (
    plans.routes,
    goals.routes,
    activities.routes,
    changes.routes,
    reviews.routes,
    agreements.routes,
    meetings.routes,
)
