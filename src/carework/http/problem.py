"""Render every error, ours and the framework's, as ``application/problem+json`` (RFC 9457)."""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from carework.errors import CareworkError, MissingCredentials, Unauthorized, Unavailable
from carework.http.headers import SecurityHeaders

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://carework.example/problems/"

log = logging.getLogger("carework.http.problem")
#: For an app that did not say (``create_app`` sets ``app.state.security_headers``).
_DEFAULT_SECURITY = SecurityHeaders.build("'none'")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_response(
    status: int,
    detail: str | None,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or phrase.lower().replace(" ", "-")),
        "title": title or phrase,
        "status": status,
        "detail": detail,
        **extensions,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Deliberately drop pydantic's "input" and "ctx": they would echo what the caller sent,
    # and what they sent may be a national id number.
    return [
        {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type")}
        for err in exc.errors()
    ]


async def _carework_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, CareworkError)
    headers = None
    if isinstance(exc, MissingCredentials):
        headers = {"WWW-Authenticate": 'Bearer realm="carework"'}
    elif isinstance(exc, Unauthorized):
        headers = {"WWW-Authenticate": 'Bearer realm="carework", error="invalid_token"'}
    elif isinstance(exc, Unavailable):
        # Answered here, inside Starlette's exception middleware, the connection stays open;
        # only the catch-all 500 goes out through the server, which then closes it.
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(
        exc.status, exc.detail, slug=exc.slug, title=exc.title, headers=headers, **exc.extensions
    )


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422,
        "The request does not match the schema; see errors.",
        slug="validation",
        errors=_field_errors(exc),
    )


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such resource."
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed here."
    return problem_response(
        exc.status_code,
        detail,
        # One problem type for a body too large, however the limit was found out.
        slug="payload-too-large" if exc.status_code == 413 else None,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected_error(request: Request, exc: Exception) -> ProblemResponse:
    correlation_id = getattr(request.state, "request_id", None) or str(uuid.uuid4())
    log.exception("unhandled error", extra={"request_id": correlation_id})
    # This answer is sent from outside every middleware, which so cannot add their headers.
    security: SecurityHeaders = getattr(request.app.state, "security_headers", _DEFAULT_SECURITY)
    headers = {name.decode(): value.decode() for name, value in security.for_path(request.url.path)}
    return problem_response(
        500,
        "Something went wrong on our side. Quote the correlation id when reporting it.",
        headers={"X-Request-ID": correlation_id, **headers},
        correlation_id=correlation_id,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CareworkError, _carework_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
