from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from carework.schema import Output


class Actor(Output):
    name: str
    role: str


class ChangeEventRead(Output):
    cursor: str
    type: str
    plan_id: uuid.UUID
    resource_type: str
    resource_id: uuid.UUID
    version: int | None
    at: datetime
    actor: Actor
    data: dict[str, Any]


class FeedPage(Output):
    """``next_cursor`` is where to continue; with no new events it is the cursor you sent."""

    items: list[ChangeEventRead]
    next_cursor: str | None


class HistoryPage(Output):
    items: list[ChangeEventRead]
    next_cursor: str | None
