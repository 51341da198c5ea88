"""``/api/v1/nav``: NAV advisors and NAV case systems. Treatment content only under consent."""

from __future__ import annotations

from carework.api import CARE_TEAM_ROUTES, consents
from carework.http.route import AudienceRouter
from carework.vocab import Role

router = AudienceRouter(prefix="/api/v1/nav", tag="nav", roles=(Role.nav_advisor,))
for table in (*CARE_TEAM_ROUTES, consents.nav_routes):
    table.mount(router, "nav")
