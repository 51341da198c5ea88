"""The audit trail: the auditor's queries and check, and the patient's access log."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from carework.audit import service as audit
from carework.audit.schemas import (
    AccessLog,
    AccessLogEntry,
    AuditEventPage,
    AuditEventRead,
    VerificationProgress,
    VerificationRead,
    VerificationRun,
)
from carework.audit.verification import Run, Verifier
from carework.bodies import QueryDatetime, QueryText
from carework.http.params import Cursor, Limit, Page, Session
from carework.http.principal import Caller
from carework.http.responses import READ_ERRORS, problems
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


async def verifications(request: Request) -> Verifier:
    """This process's verification runs (``app.state.audit_runs``)."""
    runs: Verifier = request.app.state.audit_runs
    return runs


Runs = Annotated[Verifier, Depends(verifications)]
_ACCEPTED = {
    202: {
        "model": VerificationProgress,
        "description": "No verification has finished yet: the run is going in the background "
        "(`Location` names it; ask again after `Retry-After` seconds).",
    }
}


def _accepted(run: Run, request: Request) -> JSONResponse:
    body = VerificationProgress.model_validate(run).model_dump(mode="json")
    location = f"{request.scope.get('root_path', '')}/api/v1/audit/verifications/{run.id}"
    return JSONResponse(body, status_code=202, headers={"Location": location, "Retry-After": "2"})


@audit_routes.get(
    "/verify", response_model=VerificationRead, responses={**READ_ERRORS, **_ACCEPTED},
    summary="Recompute every hash chain, compare with the newest checkpoint, report the first "
    "broken link",
    description="Starts a verification run in the background (or joins the one going) and "
    "waits up to 2 s for it: a small trail gets a fresh answer. Otherwise the answer is the "
    "newest finished run's report, with `run` showing the progress of the one going; with no "
    "finished run at all, 202 and the run.",
)  # fmt: skip
async def audit_verify(principal: Caller, runs: Runs, request: Request) -> Any:
    run, answered = await audit.verify(principal, runs)
    if answered is None or answered.report is None:
        return _accepted(run, request)
    return VerificationRead.model_validate(
        {**answered.report, "verified_at": answered.started_at,
         "run": VerificationProgress.model_validate(run)}
    )  # fmt: skip


@audit_routes.post(
    "/verifications", status_code=202, response_model=VerificationProgress,
    responses=problems(401, 403),
    summary="Start a verification run in the background (or join the one going)",
)  # fmt: skip
async def audit_start_verification(principal: Caller, runs: Runs, request: Request) -> Any:
    return _accepted(await audit.start_verification(principal, runs), request)


@audit_routes.read(
    "/verifications/{verification_id}", VerificationRun,
    "A verification run: its progress, and its report once it has finished",
)  # fmt: skip
async def audit_read_verification(
    principal: Caller, runs: Runs, verification_id: uuid.UUID
) -> VerificationRun:
    run = await audit.read_verification(principal, runs, verification_id)
    return VerificationRun.model_validate(run)


@patient_routes.read("/access-log", AccessLog, "Who read or changed my plan, newest first")
async def patient_access_log(principal: Caller, session: Session, page: Page) -> AccessLog:
    events, next_cursor = await audit.access_log(
        session, principal, limit=page.limit, cursor=page.cursor
    )
    return AccessLog(
        items=[AccessLogEntry.model_validate(e) for e in events], next_cursor=next_cursor
    )
