"""The errors carework raises on purpose; each maps to one RFC 9457 problem.

CareworkError
├── Unauthorized          401  no valid bearer token
│   └── MissingCredentials     none was sent
├── Forbidden             403  right plan, wrong role or side (e.g. editing the other side's goal)
├── NotFound              404  missing *or out of scope*: no one learns that a plan exists
├── Conflict              409  the state forbids it (status machine, a second open plan)
├── PreconditionFailed    412  If-Match names a version that is no longer current
├── PayloadTooLarge       413  request body over the limit
├── RuleViolation         422  well-formed but breaks a domain rule
├── PreconditionRequired  428  a PATCH without If-Match
└── Unavailable           503  the database does not answer, or no connection is free in time;
                               sent with Retry-After (``db.faults`` says which errors these are)

Anything else that escapes a request is a bug and becomes a 500 problem with a correlation id.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CareworkError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"
    slug: ClassVar[str] = "internal"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class Unauthorized(CareworkError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class MissingCredentials(Unauthorized):
    """No token at all: the challenge carries no error code (RFC 6750 section 3.1)."""


class Forbidden(CareworkError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(CareworkError):
    status, title, slug = 404, "Not Found", "not-found"


class Conflict(CareworkError):
    status, title, slug = 409, "Conflict", "conflict"


class PreconditionFailed(CareworkError):
    status, title, slug = 412, "Precondition Failed", "precondition-failed"


class PayloadTooLarge(CareworkError):
    status, title, slug = 413, "Content Too Large", "payload-too-large"


class RuleViolation(CareworkError):
    status, title, slug = 422, "Unprocessable Content", "rule-violation"


class PreconditionRequired(CareworkError):
    status, title, slug = 428, "Precondition Required", "precondition-required"


class Unavailable(CareworkError):
    """Not the request's fault and not a bug: the database cannot serve it now. The work was
    rolled back (only a connection lost during the commit itself leaves the outcome unknown,
    which is what Idempotency-Key is for); send the request again after ``retry_after``
    seconds."""

    status, title, slug = 503, "Service Unavailable", "unavailable"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
