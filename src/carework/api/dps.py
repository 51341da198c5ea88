"""``/api/v1/dps``: clinicians at a DPS unit, and DPS EHR integrations."""

import uuid

from fastapi import Response, status

from carework.access.guards import ClinicianPrincipal
from carework.api._agreement_routes import agreement_routes
from carework.api._common import (
    DELETE_ERRORS,
    IDEMPOTENT,
    READ_ERRORS,
    WRITE_ERRORS,
    Session,
    consent_read,
)
from carework.api._meeting_routes import meeting_routes
from carework.api._plan_routes import plan_routes
from carework.api._review_routes import review_routes
from carework.api.route import AudienceRouter, UnitOfWorkRoute
from carework.consent import service as consent
from carework.consent.schemas import ConsentList, ConsentRead, RecordedConsentCreate
from carework.readmodel.schemas import DpsPlanRead

router = AudienceRouter(
    route_class=UnitOfWorkRoute,
    prefix="/api/v1/dps",
    tags=["dps"],
)
router.include_router(plan_routes(side="dps", caller=ClinicianPrincipal, plan_schema=DpsPlanRead))
router.include_router(agreement_routes(side="dps", caller=ClinicianPrincipal))
router.include_router(review_routes(side="dps", caller=ClinicianPrincipal))
router.include_router(meeting_routes(side="dps", caller=ClinicianPrincipal))


@router.post(
    "/plans/{plan_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=ConsentRead,
    operation_id="dps_record_consent",
    dependencies=IDEMPOTENT,
    responses=WRITE_ERRORS,
    summary="Record a consent the patient gave in person (verbal or written)",
)
async def record_consent(
    plan_id: uuid.UUID, body: RecordedConsentCreate, principal: ClinicianPrincipal, session: Session
) -> ConsentRead:
    return consent_read(await consent.record_in_person(session, principal, plan_id, body))


@router.get(
    "/plans/{plan_id}/consents",
    response_model=ConsentList,
    operation_id="dps_list_consents",
    responses=READ_ERRORS,
    summary="Every consent of the plan, active or not",
)
async def list_consents(
    plan_id: uuid.UUID, principal: ClinicianPrincipal, session: Session
) -> ConsentList:
    rows = await consent.list_for_plan(session, principal, plan_id)
    return ConsentList(items=[consent_read(row) for row in rows])


@router.delete(
    "/plans/{plan_id}/consents/{consent_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="dps_revoke_consent",
    responses=DELETE_ERRORS,
    summary="Record that the patient withdrew a consent in person",
)
async def revoke_consent(
    plan_id: uuid.UUID, consent_id: uuid.UUID, principal: ClinicianPrincipal, session: Session
) -> Response:
    await consent.revoke(session, principal, plan_id, consent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
