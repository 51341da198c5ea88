"""``/api/v1/nav``: NAV advisors and NAV case systems. Treatment content only under consent."""

from fastapi import APIRouter

from carework.access.guards import AdvisorPrincipal
from carework.api._plan_routes import plan_routes
from carework.plans.schemas import NavPlanRead

router = APIRouter(prefix="/api/v1/nav", tags=["nav"])
router.include_router(plan_routes(side="nav", caller=AdvisorPrincipal, plan_schema=NavPlanRead))
