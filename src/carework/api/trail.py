"""The audit trail: the auditor's queries and check, and the patient's access log."""

from __future__ import annotations

import uuid

from fastapi import Query

from carework.audit import service as audit
from carework.audit.schemas import (
    AccessLog,
    AccessLogEntry,
    AuditEventPage,
    AuditEventRead,
    VerificationRead,
)
from carework.bodies import QueryDatetime, QueryText
from carework.http.params import Cursor, Limit, Page, Session
from carework.http.principal import Caller
from carework.http.route import RouteTable

#: The auditor's.
audit_routes = RouteTable(shared=False)
#: The patient's.
patient_routes = RouteTable(shared=False)


@audit_routes.read(
    "/events", AuditEventPage, "Audit events by plan, actor and time window, oldest first"
)
async def audit_list_events(
    principal: Caller,
    session: Session,
    plan_id: uuid.UUID | None = None,
    actor: QueryText | None = Query(None, max_length=128, description="The actor's sub."),
    since: QueryDatetime | None = Query(None, alias="from"),
    until: QueryDatetime | None = Query(None, alias="to"),
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AuditEventPage:
    events, next_cursor = await audit.search_events(
        session, principal, plan_id=plan_id, actor=actor, since=since, until=until,
        limit=limit, cursor=cursor,
    )  # fmt: skip
    return AuditEventPage(
        items=[AuditEventRead.model_validate(e) for e in events], next_cursor=next_cursor
    )


@audit_routes.read(
    "/verify", VerificationRead, "Recompute every hash chain and report the first broken link"
)
async def audit_verify(principal: Caller, session: Session) -> VerificationRead:
    result = await audit.verify(session, principal)
    return VerificationRead.model_validate(result, from_attributes=True)


@patient_routes.read("/access-log", AccessLog, "Who read or changed my plan, newest first")
async def patient_access_log(principal: Caller, session: Session, page: Page) -> AccessLog:
    events, next_cursor = await audit.access_log(
        session, principal, limit=page.limit, cursor=page.cursor
    )
    return AccessLog(
        items=[AccessLogEntry.model_validate(e) for e in events], next_cursor=next_cursor
    )
