"""The request side of the trail, used by ``http.route.UnitOfWorkRoute``."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable
from typing import Protocol

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException

from carework.audit import chain
from carework.audit.record import AuditRecord
from carework.audit.refusals import RefusalTally, writer
from carework.db.session import unit_of_work
from carework.errors import CareworkError

DENIED = frozenset({401, 403, 404, 429})
#: The status recorded for a request whose client left before its answer (nginx's code): its
#: work was cancelled and rolled back (``http.abandon``).
CLIENT_CLOSED_REQUEST = 499
# FHIR keeps its prefix: the trail should show a read came through the EHR integration.
_SIDES = frozenset({"dps", "nav", "patient", "audit"})


class Observer(Protocol):
    """Where an append's duration goes: ``app.state.audit_append_seconds``, a histogram of
    ``operations.metrics``."""

    def observe(self, amount: float) -> None: ...


async def _append(session: AsyncSession, request: Request, record: AuditRecord) -> None:
    started = time.perf_counter()
    try:
        await chain.append(session, record)
    finally:
        observer: Observer | None = getattr(request.app.state, "audit_append_seconds", None)
        if observer is not None:
            observer.observe(time.perf_counter() - started)


def action_of(operation_id: str) -> str:
    """``dps_read_plan`` → ``read_plan``: the role and org already say which side acted."""
    side, _, rest = operation_id.partition("_")
    return rest if side in _SIDES and rest else operation_id


def open_record(request: Request, action: str) -> AuditRecord:
    return AuditRecord(
        action=action,
        request_id=getattr(request.state, "request_id", None) or uuid.uuid4().hex,
        client_ip=request.client.host if request.client else None,
    )


async def close_allowed(
    session: AsyncSession, request: Request, record: AuditRecord, status: int
) -> None:
    """Append the event to the request's own transaction, just before it commits."""
    record.principal = getattr(request.state, "principal", None)
    record.status = status
    if record.plan_id is not None and record.resource_type is None:
        record.resource_type, record.resource_id = "plan", str(record.plan_id)
    await _append(session, request, record)


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, asyncio.CancelledError):
        return CLIENT_CLOSED_REQUEST
    if isinstance(exc, CareworkError):
        return exc.status
    if isinstance(exc, RequestValidationError):
        return 422
    if isinstance(exc, HTTPException):
        return exc.status_code
    return 500


async def close_refused(
    sessionmaker: async_sessionmaker[AsyncSession],
    request: Request,
    record: AuditRecord,
    exc: BaseException,
) -> None:
    """The work was rolled back; the attempt is still recorded, in a transaction of its own
    (anonymous refusals counted per client and window: ``audit.refusals``)."""
    record.principal = getattr(request.state, "principal", None)
    record.status = _status_of(exc)
    record.outcome = "denied" if record.status in DENIED else "failed"
    if record.plan_id is None:
        # The plan asked for: in the path, or as FHIR's search parameter ``?plan=``.
        asked = request.path_params.get("plan_id") or request.query_params.get("plan")
        with contextlib.suppress(ValueError):
            record.plan_id = uuid.UUID(str(asked)) if asked else None
    tally: RefusalTally = request.app.state.refusals
    written: Awaitable[None]
    if tally.tallied(record):
        written = tally.refused(writer(sessionmaker), record)
    else:
        written = _append_alone(sessionmaker, request, record)
    # Shielded: a client that leaves now (``http.abandon`` cancels its request) must not
    # cancel the record of what it tried.
    await asyncio.shield(written)


async def _append_alone(
    sessionmaker: async_sessionmaker[AsyncSession], request: Request, record: AuditRecord
) -> None:
    async with unit_of_work(sessionmaker) as session:
        await _append(session, request, record)
