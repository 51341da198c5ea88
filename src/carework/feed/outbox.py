"""Write side of the feed: one change event per change, in the change's own transaction."""

from __future__ import annotations

import uuid
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import ColumnElement, FromClause, Insert, Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.sensitivity import EventClass
from carework.auth.principal import Principal
from carework.db import direct
from carework.models.change_event import ChangeEvent
from carework.vocab import EventType

_table: Table = ChangeEvent.__table__  # type: ignore[assignment]
_COLUMNS = (
    "plan_id", "type", "resource_type", "resource_id", "version", "actor_sub", "actor_name",
    "actor_role", "sensitivity", "internal_to", "data",
)  # fmt: skip
# Every change writes one: built once, run as Core on the session's connection.
_INSERT = insert(_table).values({c: bindparam(f"e_{c}", type_=_table.c[c].type) for c in _COLUMNS})


class Change(TypedDict):
    """One change, as its event records it. Who may read it is ``of``, from
    ``access.sensitivity``: required, so no event is readable by default."""

    type: EventType
    plan_id: uuid.UUID
    resource: tuple[str, uuid.UUID]
    of: EventClass
    version: NotRequired[int | None]
    data: NotRequired[dict[str, Any] | None]


def event_params(principal: Principal, **change: Unpack[Change]) -> dict[str, Any]:
    """The bind parameters of one change event (``e_<column>``)."""
    of, (resource_type, resource_id) = change["of"], change["resource"]
    values = {
        "plan_id": change["plan_id"], "type": change["type"].value,
        "resource_type": resource_type, "resource_id": resource_id,
        "version": change.get("version"), "actor_sub": principal.sub,
        "actor_name": principal.name, "actor_role": principal.role.value,
        "sensitivity": of.sensitivity.value,
        "internal_to": of.internal_to.value if of.internal_to else None,
        "data": change.get("data") or {},
    }  # fmt: skip
    return {f"e_{name}": value for name, value in values.items()}


async def record(session: AsyncSession, principal: Principal, **change: Unpack[Change]) -> None:
    """Append one change event to the current transaction: it commits with the change."""
    await direct.fetch(session, _INSERT, event_params(principal, **change), joining=True)


def logged_with(change: FromClause, version: ColumnElement[int]) -> Insert:
    """The change event of a change made in the same statement: ``change`` is its CTE, the
    event's ``version`` comes from it, everything else from ``event_params`` (one round trip
    for a change and its event)."""
    columns = [
        version if c == "version" else bindparam(f"e_{c}", type_=_table.c[c].type) for c in _COLUMNS
    ]
    return insert(_table).from_select(list(_COLUMNS), select(*columns).select_from(change))
