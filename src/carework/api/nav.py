"""``/api/v1/nav``: NAV advisors and NAV case systems. Treatment content only under consent."""

import uuid

from carework.access.guards import AdvisorPrincipal
from carework.api._agreement_routes import agreement_routes
from carework.api._common import READ_ERRORS, Session
from carework.api._meeting_routes import meeting_routes
from carework.api._plan_routes import plan_routes
from carework.api._review_routes import review_routes
from carework.api.route import AudienceRouter, UnitOfWorkRoute
from carework.consent import service as consent
from carework.consent.schemas import ActiveConsent
from carework.readmodel.schemas import NavPlanRead

router = AudienceRouter(
    route_class=UnitOfWorkRoute,
    prefix="/api/v1/nav",
    tags=["nav"],
)
router.include_router(plan_routes(side="nav", caller=AdvisorPrincipal, plan_schema=NavPlanRead))
router.include_router(agreement_routes(side="nav", caller=AdvisorPrincipal))
router.include_router(review_routes(side="nav", caller=AdvisorPrincipal))
router.include_router(meeting_routes(side="nav", caller=AdvisorPrincipal))


@router.get(
    "/plans/{plan_id}/consent",
    response_model=ActiveConsent,
    operation_id="nav_read_active_consent",
    responses=READ_ERRORS,
    summary="Which consent scopes are active now (NAV reads, never grants)",
)
async def read_active_consent(
    plan_id: uuid.UUID, principal: AdvisorPrincipal, session: Session
) -> ActiveConsent:
    scopes = await consent.active_for_plan(session, principal, plan_id)
    return ActiveConsent(plan_id=plan_id, scopes=sorted(scopes))
