"""``/api/v1/dps``: clinicians at a DPS unit, and DPS EHR integrations."""

from __future__ import annotations

from carework.api import CARE_TEAM_ROUTES, consents
from carework.http.route import AudienceRouter
from carework.vocab import Role

router = AudienceRouter(prefix="/api/v1/dps", tag="dps", roles=(Role.clinician,))
for table in (*CARE_TEAM_ROUTES, consents.dps_routes):
    table.mount(router, "dps")
