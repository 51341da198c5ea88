"""How far the feed is behind its outbox, for monitoring.

The feed (``feed.service.read_feed``) serves a change event only once its transaction id is
below ``pg_snapshot_xmin``: the oldest transaction still running anywhere in the cluster. A
committed event at or above that horizon exists but no reader gets it yet; one long
transaction holds back every event committed after it began. ``held_back`` counts those events
and gives the age of the oldest: how long a feed reader has been kept from it. Zero and zero
when the feed serves everything committed.

One index range scan (``ix_change_event_tx_id``) over the events above the horizon, which are
few unless something is wrong; no patient data leaves the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_HELD_BACK = text(
    "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(occurred_at)), 0)"
    " FROM change_event"
    " WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
)


@dataclass(frozen=True, slots=True)
class HeldBack:
    events: int
    oldest_seconds: float


async def held_back(connection: AsyncConnection) -> HeldBack:
    """Committed change events the feed cannot serve yet, and the age of the oldest."""
    row = (await connection.execute(_HELD_BACK)).one()
    return HeldBack(events=int(row[0]), oldest_seconds=max(0.0, float(row[1])))
