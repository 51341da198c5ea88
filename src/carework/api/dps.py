"""``/api/v1/dps``: clinicians at a DPS unit, and DPS EHR integrations."""

from fastapi import APIRouter

from carework.access.guards import ClinicianPrincipal
from carework.api._plan_routes import plan_routes
from carework.plans.schemas import DpsPlanRead

router = APIRouter(prefix="/api/v1/dps", tags=["dps"])
router.include_router(plan_routes(side="dps", caller=ClinicianPrincipal, plan_schema=DpsPlanRead))
