"""Write side of the feed: one change event per change, in the change's own transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Insert, Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from carework.auth.principal import Principal
from carework.db import direct
from carework.models.change_event import ChangeEvent

_table: Table = ChangeEvent.__table__  # type: ignore[assignment]
_COLUMNS = (
    "plan_id", "type", "resource_type", "resource_id", "version", "actor_sub", "actor_name",
    "actor_role", "sensitivity", "internal_to", "data",
)  # fmt: skip
# Every change writes one: built once, run as Core on the session's connection.
_INSERT = insert(_table).values({c: bindparam(f"e_{c}", type_=_table.c[c].type) for c in _COLUMNS})


def event_params(
    principal: Principal,
    *,
    type: str,
    plan_id: uuid.UUID,
    resource: tuple[str, uuid.UUID],
    version: int | None = None,
    sensitivity: str = "general",
    internal_to: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The bind parameters of one change event (``e_<column>``)."""
    values = {
        "plan_id": plan_id, "type": type, "resource_type": resource[0],
        "resource_id": resource[1], "version": version, "actor_sub": principal.sub,
        "actor_name": principal.name, "actor_role": principal.role.value,
        "sensitivity": sensitivity, "internal_to": internal_to, "data": data or {},
    }  # fmt: skip
    return {f"e_{name}": value for name, value in values.items()}


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
    params = event_params(
        principal, type=type, plan_id=plan_id, resource=resource, version=version,
        sensitivity=sensitivity, internal_to=internal_to, data=data,
    )  # fmt: skip
    await direct.fetch(session, _INSERT, params)


def logged_with(change: FromClause, version: ColumnElement[int]) -> Insert:
    """The change event of a change made in the same statement: ``change`` is its CTE, the
    event's ``version`` comes from it, everything else from ``event_params`` (one round trip
    for a change and its event)."""
    columns = [
        version if c == "version" else bindparam(f"e_{c}", type_=_table.c[c].type) for c in _COLUMNS
    ]
    return insert(_table).from_select(list(_COLUMNS), select(*columns).select_from(change))
