"""``/api/v1/audit``: the auditor's view of the trail (supervisory authority, privacy officer)."""

import uuid

from fastapi import Query

from carework.access.guards import AuditorPrincipal
from carework.api import _review_routes as review_routes
from carework.api._common import READ_ERRORS, Session
from carework.api.route import AudienceRouter, UnitOfWorkRoute
from carework.audit import service as audit
from carework.audit.schemas import AuditEventPage, AuditEventRead, VerificationRead
from carework.pagination import Cursor, Limit
from carework.schema import QueryDatetime, QueryText

router = AudienceRouter(
    route_class=UnitOfWorkRoute,
    prefix="/api/v1/audit",
    tags=["audit"],
)
# Issue 7: quality indicators across units.
router.include_router(review_routes.audit_router)


@router.get(
    "/events",
    response_model=AuditEventPage,
    operation_id="audit_list_events",
    responses=READ_ERRORS,
    summary="Audit events by plan, actor and time window, oldest first",
)
async def list_events(
    principal: AuditorPrincipal,
    session: Session,
    plan_id: uuid.UUID | None = None,
    actor: QueryText | None = Query(None, max_length=128, description="The actor's sub."),
    since: QueryDatetime | None = Query(None, alias="from"),
    until: QueryDatetime | None = Query(None, alias="to"),
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AuditEventPage:
    events, next_cursor = await audit.search_events(
        session,
        principal,
        plan_id=plan_id,
        actor=actor,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return AuditEventPage(
        items=[AuditEventRead.model_validate(e) for e in events], next_cursor=next_cursor
    )


@router.get(
    "/verify",
    response_model=VerificationRead,
    operation_id="audit_verify",
    responses=READ_ERRORS,
    summary="Recompute every hash chain and report the first broken link",
)
async def verify(principal: AuditorPrincipal, session: Session) -> VerificationRead:
    result = await audit.verify(session, principal)
    return VerificationRead.model_validate(result, from_attributes=True)
