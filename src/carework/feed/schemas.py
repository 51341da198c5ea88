from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from carework.bodies import Output
from carework.models.change_event import ChangeEvent
from carework.paging import encode_key


class Actor(Output):
    name: str
    role: str


class ChangeEventRead(Output):
    @classmethod
    def of(cls, event: ChangeEvent) -> ChangeEventRead:
        return cls(
            cursor=encode_key(event.tx_id, event.id),
            type=event.type,
            plan_id=event.plan_id,
            resource_type=event.resource_type,
            resource_id=event.resource_id,
            version=event.version,
            at=event.occurred_at,
            actor=Actor(name=event.actor_name, role=event.actor_role),
            data=event.data,
        )

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
