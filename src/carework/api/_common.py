"""What every audience router shares: the session, declared error responses, shaping."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Response
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from carework.concurrency import etag
from carework.consent.schemas import ConsentRead
from carework.db.session import request_session
from carework.feed.schemas import Actor, ChangeEventRead
from carework.feed.service import encode_cursor
from carework.models.change_event import ChangeEvent
from carework.models.consent import Consent
from carework.models.plan import Plan
from carework.plans.schemas import PlanSummary
from carework.problem import PROBLEM_MEDIA_TYPE, Problem
from carework.readmodel import PlanJson

Session = Annotated[AsyncSession, Depends(request_session)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Retry-safe POST: a retry with the same key and body gets the first "
            "response; the same key with another body is 422. Keys expire after 24 h.",
        ),
    ] = None,
) -> None:
    """Declares the header in the spec; ``api.route.UnitOfWorkRoute`` acts on it."""


IDEMPOTENT = [Depends(idempotency_key)]

_DESCRIPTIONS = {
    400: "The body is not JSON (or not UTF-8).",
    401: "No valid bearer token.",
    403: "Wrong role, or the item belongs to the other side.",
    404: "No such item in the caller's scope.",
    409: "The item's state does not allow this.",
    412: "If-Match names a stale version.",
    413: "The request body is too large.",
    422: "The body or parameters are invalid.",
    428: "If-Match is required.",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Declare error responses with the problem+json schema."""
    return {
        code: {
            "model": Problem,
            "description": _DESCRIPTIONS[code],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code in codes
    }


READ_ERRORS = problems(401, 403, 404, 422)
#: A read whose criteria come in a body (national ids stay out of the URL).
SEARCH_ERRORS = problems(400, 401, 403, 404, 413, 422)
WRITE_ERRORS = problems(400, 401, 403, 404, 409, 413, 422)
PATCH_ERRORS = problems(400, 401, 403, 404, 409, 412, 413, 422, 428)
DELETE_ERRORS = problems(401, 403, 404, 422)


def with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def plan_json(found: PlanJson, status_code: int = 200, **headers: str) -> Response:
    """The plan view as PostgreSQL built it, sent as is (``plans.view``)."""
    return Response(
        found.body, status_code=status_code, media_type="application/json",
        headers={"ETag": etag(found.version), **headers},
    )  # fmt: skip


def consent_read(row: Row[Consent, bool]) -> ConsentRead:
    consent, active = row
    return ConsentRead.model_validate(
        {**{c.key: getattr(consent, c.key) for c in Consent.__table__.columns}, "active": active}
    )


def change_read(event: ChangeEvent) -> ChangeEventRead:
    return ChangeEventRead(
        cursor=encode_cursor(event.tx_id, event.id),
        type=event.type,
        plan_id=event.plan_id,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        version=event.version,
        at=event.occurred_at,
        actor=Actor(name=event.actor_name, role=event.actor_role),
        data=event.data,
    )


def plan_summary(
    plan: Plan, patient_name: str, last_seen_at: datetime | None = None, changed_since_seen: int = 0
) -> PlanSummary:
    return PlanSummary.model_validate(
        {
            **{c.key: getattr(plan, c.key) for c in Plan.__table__.columns},
            "patient_name": patient_name,
            "last_seen_at": last_seen_at,
            "changed_since_seen": changed_since_seen,
        }
    )
