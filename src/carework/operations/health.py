"""Liveness and readiness, for orchestrators.

``GET /healthz``
    The process is alive and serving. It touches nothing else, so a database outage does not
    make an orchestrator restart every replica.
``GET /readyz``
    The database answers and its schema serves this code: its Alembic revision is the one this
    code was built for, or a later one whose migrations declared this code still served
    (``db.compatibility``: expand migrations during a rolling deploy). A replica that is not
    ready should get no traffic (before ``carework migrate``, while the database is down, or
    once a migration this code cannot run on is applied). Otherwise 503 problem+json naming
    what is wrong.

Neither needs a token or touches patient data, so they run outside
``http.route.UnitOfWorkRoute``: no session, no audit event.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from carework.db import compatibility, migrate
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
    migrations: str = Field(description="The database's migration revision.")
    code_head: str = Field(
        description="The revision this code was built for: `migrations` itself, or one the "
        "database's later migrations declared compatible."
    )


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
    summary="Readiness: the database answers and its schema serves this code",
    responses={
        503: {
            "model": Problem,
            "description": "Not ready: the database does not answer, or its schema does not "
            "serve this code (behind it, or a later migration that did not declare it "
            "compatible). `database` says `ok` or `unreachable`; `migrations` is the "
            "database's revision, `code_head` this code's.",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    },
)
async def readyz(request: Request) -> Response | Readiness:
    engine: AsyncEngine = request.app.state.engine
    head = _head_revision()
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            schema = await compatibility.schema_state(engine, head)
    except Exception:  # whatever keeps the database from answering, we are not ready
        log.warning("readiness: the database does not answer", exc_info=True)
        return problem_response(
            503,
            "The database does not answer.",
            slug="not-ready",
            title="Not Ready",
            database="unreachable",
            migrations=None,
            code_head=head,
        )
    current = schema.revision
    if current is None or not schema.serves_code:  # an unmigrated database is never ready
        return problem_response(
            503,
            _not_served(current, head),
            slug="not-ready",
            title="Not Ready",
            database="ok",
            migrations=current,
            code_head=head,
        )
    assert head is not None  # a database at a revision serves code that has one
    return Readiness(status="ready", database="ok", migrations=current, code_head=head)


def _not_served(current: str | None, head: str | None) -> str:
    if current is None or migrate.knows_revision(current):
        return (
            f"The database is at migration {current or 'none'}, this code needs {head}: "
            "run `carework migrate`."
        )
    return (
        f"The database is at migration {current}, which this code ({head}) does not know and "
        "which does not declare it compatible: replace this replica with newer code."
    )
