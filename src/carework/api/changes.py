"""The change feed for integrations, and one plan's history."""

from __future__ import annotations

import uuid

from fastapi import Query

from carework.feed import service as feed
from carework.feed.schemas import ChangeEventRead, FeedPage, HistoryPage
from carework.http.params import Cursor, Limit, Session
from carework.http.principal import Caller
from carework.http.route import RouteTable

#: Mounted by DPS and by NAV.
routes = RouteTable()


@routes.read(
    "/events", FeedPage,
    "Changes to plans in the caller's scope, in a stable order, for integrations",
)  # fmt: skip
async def read_change_feed(
    principal: Caller,
    session: Session,
    after: str | None = Query(None, max_length=100, description="`next_cursor` from before."),
    limit: Limit = 100,
) -> FeedPage:
    events, next_cursor = await feed.read_feed(session, principal, after=after, limit=limit)
    return FeedPage(items=[ChangeEventRead.of(e) for e in events], next_cursor=next_cursor)


@routes.read(
    "/plans/{plan_id}/history", HistoryPage,
    "What changed in a plan, oldest first (what the caller may see)",
)  # fmt: skip
async def read_plan_history(
    plan_id: uuid.UUID,
    principal: Caller,
    session: Session,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> HistoryPage:
    events, next_cursor = await feed.plan_history(
        session, principal, plan_id, after=cursor, limit=limit
    )
    return HistoryPage(items=[ChangeEventRead.of(e) for e in events], next_cursor=next_cursor)
