"""How routes answer: the error responses they declare (problem+json), and a read-model view
sent as PostgreSQL built it."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from carework.http.problem import PROBLEM_MEDIA_TYPE, Problem
from carework.readmodel import PlanJson
from carework.versions import etag

_DESCRIPTIONS = {
    400: "The body is not JSON (or not UTF-8).",
    401: "No valid bearer token.",
    403: "Wrong role, or the item belongs to the other side.",
    404: "No such item in the caller's scope.",
    409: "The item's state does not allow this.",
    412: "If-Match names a stale version.",
    408: "The request body did not arrive in time.",
    413: "The request body is too large.",
    422: "The body or parameters are invalid.",
    428: "If-Match is required.",
    429: "Too many requests from this caller (or address, without a valid token): "
    "wait Retry-After seconds.",
    503: "The database cannot serve the request now; send it again after Retry-After seconds.",
}


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
_HEADERS: dict[int, dict[str, Any]] = {429: _RETRY_AFTER, 503: _RETRY_AFTER}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Declare error responses with the problem+json schema; every route may meet the rate
    limit (429)."""
    return {
        code: {
            "model": Problem,
            "description": _DESCRIPTIONS[code],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": _HEADERS[code]} if code in _HEADERS else {}),
        }
        for code in sorted({*codes, 429})
    }


#: What every route on the database may answer (``http.route.AudienceRouter`` declares it).
#: Without ``model``, which would list the problem under a FHIR route's own media type too.
UNAVAILABLE = {
    code: {k: v for k, v in spec.items() if k != "model"} for code, spec in problems(503).items()
}


READ_ERRORS = problems(401, 403, 404, 422)
#: A read whose criteria come in a body (national ids stay out of the URL).
SEARCH_ERRORS = problems(400, 401, 403, 404, 408, 413, 422)
WRITE_ERRORS = problems(400, 401, 403, 404, 408, 409, 413, 422)
PATCH_ERRORS = problems(400, 401, 403, 404, 408, 409, 412, 413, 422, 428)
DELETE_ERRORS = problems(401, 403, 404, 422)
AGREE_ERRORS = problems(401, 403, 404, 409, 412, 422, 428)
WITHDRAW_ERRORS = problems(401, 403, 404, 409, 422)


def with_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def plan_json(found: PlanJson, status_code: int = 200, **headers: str) -> Response:
    """A read-model view as PostgreSQL built it, sent as is, with its version as ETag."""
    return Response(
        found.body, status_code=status_code, media_type="application/json",
        headers={"ETag": etag(found.version), **headers},
    )  # fmt: skip


def created(found: PlanJson, request: Request) -> Response:
    """201 with the new item's address (the collection it was posted to, and its id)."""
    return plan_json(found, 201, Location=f"{request.url.path}/{found.id}")
