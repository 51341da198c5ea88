"""``/api/v1/audit``: the auditor's view of the trail (supervisory authority, privacy officer)
and quality indicators across units."""

from __future__ import annotations

from carework.api import reviews, trail
from carework.http.route import AudienceRouter
from carework.vocab import Role

router = AudienceRouter(prefix="/api/v1/audit", tag="audit", roles=(Role.auditor,))
for table in (trail.audit_routes, reviews.audit_routes):
    table.mount(router, "audit")
