"""Write side of the feed: one change event per change, in the change's own transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from carework.auth.principal import Principal
from carework.feed.models import ChangeEvent


async def record(
    session: AsyncSession,
    principal: Principal,
    *,
    type: str,
    plan_id: uuid.UUID,
    resource: tuple[str, uuid.UUID],
    version: int | None = None,
    sensitivity: str = "general",
    internal_to: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one change event to the current transaction: it commits with the change."""
    await session.execute(
        insert(ChangeEvent).values(
            plan_id=plan_id,
            type=type,
            resource_type=resource[0],
            resource_id=resource[1],
            version=version,
            actor_sub=principal.sub,
            actor_name=principal.name,
            actor_role=principal.role.value,
            sensitivity=sensitivity,
            internal_to=internal_to,
            data=data or {},
        )
    )
