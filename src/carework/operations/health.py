"""Liveness and readiness, for orchestrators.

``GET /healthz``
    The process is alive and serving. It touches nothing else, so a database outage does not
    make an orchestrator restart every replica.
``GET /readyz``
    The database answers and its Alembic revision is the one this code was built for: a
    replica that is not ready should get no traffic (before ``carework migrate``, or while the
    database is down). Otherwise 503 problem+json naming what is wrong.

Neither needs a token or touches patient data, so they run outside
``http.route.UnitOfWorkRoute``: no session, no audit event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from carework.db import migrate
from carework.http.problem import PROBLEM_MEDIA_TYPE, Problem, problem_response

log = logging.getLogger("carework.health")

#: How long readiness waits for the database before it calls it unreachable.
READY_TIMEOUT_SECONDS = 5.0

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    migrations: str


@functools.cache
def _head_revision() -> str | None:
    """The revision this code expects; the migration scripts do not change while it runs."""
    return migrate.head_revision()


@router.get(
    "/healthz",
    response_model=Health,
    operation_id="healthz",
    summary="Liveness: the process serves requests (no database involved)",
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    operation_id="readyz",
    summary="Readiness: the database answers and its migrations are at head",
    responses={
        503: {
            "model": Problem,
            "description": "Not ready: the database does not answer or is not at head. "
            "`database` says `ok` or `unreachable`; `migrations` is the database's revision.",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    },
)
async def readyz(request: Request) -> Response | Readiness:
    engine: AsyncEngine = request.app.state.engine
    head = _head_revision()
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            current = await migrate.current_revision(engine)
    except Exception:  # whatever keeps the database from answering, we are not ready
        log.warning("readiness: the database does not answer", exc_info=True)
        return problem_response(
            503,
            "The database does not answer.",
            slug="not-ready",
            title="Not Ready",
            database="unreachable",
            migrations=None,
        )
    if current is None or current != head:  # an unmigrated database is never ready
        return problem_response(
            503,
            f"The database is at migration {current or 'none'}, this code needs {head}: "
            "run `carework migrate`.",
            slug="not-ready",
            title="Not Ready",
            database="ok",
            migrations=current,
        )
    return Readiness(status="ready", database="ok", migrations=current)
