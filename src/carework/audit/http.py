"""The request-side of the trail: one event per request, in the request's own transaction.

Mounted as a router dependency ahead of authentication, so a refused token, a wrong role and
an out-of-scope plan are recorded too. Success is appended to the request's session just
before it commits; if that append fails, the request fails. A refused or failed request has
rolled its work back, so its event is written in a transaction of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException

from carework.api._common import Session
from carework.audit import chain
from carework.audit.record import AuditRecord, current
from carework.db.session import unit_of_work
from carework.errors import CareworkError

DENIED = frozenset({401, 403, 404})


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, CareworkError):
        return exc.status
    if isinstance(exc, RequestValidationError):
        return 422
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 500


def _attempted_plan(request: Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.path_params["plan_id"]))
    except (KeyError, ValueError):
        return None


async def audit_request(request: Request, session: Session) -> AsyncIterator[AuditRecord]:
    route = request.scope.get("route")
    record = AuditRecord(
        action=_action(getattr(route, "operation_id", None) or request.url.path),
        request_id=getattr(request.state, "request_id", None) or uuid.uuid4().hex,
        client_ip=request.client.host if request.client else None,
    )
    current.set(record)
    try:
        yield record
    except BaseException as exc:
        record.principal = getattr(request.state, "principal", None)
        record.status = _status_of(exc)
        record.outcome = "denied" if record.status in DENIED else "failed"
        record.plan_id = record.plan_id or _attempted_plan(request)
        sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
        async with unit_of_work(sessionmaker) as own:
            await chain.append(own, record)
        raise
    else:
        record.principal = getattr(request.state, "principal", None)
        record.status = getattr(route, "status_code", None) or 200
        if record.plan_id is not None and record.resource_type is None:
            record.resource_type, record.resource_id = "plan", str(record.plan_id)
        await chain.append(session, record)
    finally:
        # set, not reset: the exit may run in a copy of the context that set the token
        current.set(None)


def _action(operation_id: str) -> str:
    """``dps_read_plan`` → ``read_plan``: the role and org already say which side acted."""
    side, _, rest = operation_id.partition("_")
    return rest if side in {"dps", "nav", "patient", "audit"} and rest else operation_id
