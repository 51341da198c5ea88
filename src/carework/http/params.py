"""What routes declare about a request beyond its body: the session of the unit of work,
If-Match, Idempotency-Key, a list's page, and the configured bounds of a plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from carework.config import PlanLimits, Settings
from carework.errors import PreconditionRequired
from carework.versions import Versions, version_of


async def request_session(request: Request) -> AsyncSession:
    """The session ``http.route.UnitOfWorkRoute`` opened for this request."""
    session: AsyncSession = request.state.session
    return session


Session = Annotated[AsyncSession, Depends(request_session)]


# async although it awaits nothing: FastAPI runs a plain ``def`` dependency in a thread pool,
# a thread hand-off on every write.
async def if_match_versions(
    if_match: Annotated[
        str | None,
        Header(description='The ETag you last read, e.g. `"3"`. Required on every change.'),
    ] = None,
) -> Versions:
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("Send If-Match with the ETag you last read.")
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags:
        raise PreconditionRequired("If-Match must name a version, not *.")
    # Weak tags (W/"3") never match: If-Match uses strong comparison (RFC 9110 13.1.1). A tag
    # no item can have matches nothing: with none left, the change is refused with 412.
    strong = (tag[1:-1] for tag in tags if len(tag) > 1 and tag[0] == tag[-1] == '"')
    return frozenset(v for v in map(version_of, strong) if v is not None)


#: The versions If-Match names (428 without one); ``versions.ensure_version`` checks them.
ExpectedVersion = Annotated[Versions, Depends(if_match_versions)]


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=255,
            description="Retry-safe POST: a retry with the same key and body gets the first "
            "response; the same key with another body is 422. Keys expire after 24 h. A "
            "first response the service can no longer read (its key changed) is 409: read "
            "the result, or send a new key.",
        ),
    ] = None,
) -> None:
    """Declares the header in the spec; ``http.route.UnitOfWorkRoute`` acts on it."""


IDEMPOTENT = [Depends(idempotency_key)]

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` from the previous page.")
]


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Which page of a list: at most ``limit`` items, after ``cursor``."""

    limit: int
    cursor: str | None


async def page_query(limit: Limit = 50, cursor: Cursor = None) -> PageQuery:
    return PageQuery(limit, cursor)


#: ``?limit=&cursor=`` of a list (50 a page unless asked).
Page = Annotated[PageQuery, Depends(page_query)]


async def plan_limits(request: Request) -> PlanLimits:
    """The app's ``CAREWORK_MAX_OPEN_GOALS`` and ``CAREWORK_MAX_OPEN_ACTIVITIES``, handed to
    the services that add items, which know nothing of HTTP or settings."""
    settings: Settings = request.app.state.settings
    return settings.plan_limits


#: How many open goals and activities a plan may hold.
Limits = Annotated[PlanLimits, Depends(plan_limits)]
