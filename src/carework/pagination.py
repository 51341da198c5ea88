"""Opaque keyset cursors: stable under concurrent inserts, unlike offsets.

A cursor is the sort key of the last item on a page (a date or an instant, then an id), as
base64 of a JSON list; the next page is what sorts after it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query

from carework.errors import RuleViolation
from carework.schema import in_utc

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` from the previous page.")
]

KeyPart = date | datetime | uuid.UUID
T = TypeVar("T")


def encode_key(*parts: KeyPart) -> str:
    raw = json.dumps([str(p) if isinstance(p, uuid.UUID) else p.isoformat() for p in parts])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(cursor: str, *kinds: type[KeyPart]) -> tuple[Any, ...]:
    """The key parts of a cursor, as ``kinds`` (``date``, ``datetime``, ``uuid.UUID``)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(parts, list) or len(parts) != len(kinds):
            raise ValueError(cursor)
        return tuple(_part(kind, part) for kind, part in zip(kinds, parts, strict=True))
    except (ValueError, TypeError, AttributeError):
        raise RuleViolation("The cursor is not one this service issued.") from None


def _part(kind: type[KeyPart], raw: str) -> KeyPart:
    if kind is uuid.UUID:
        return uuid.UUID(raw)
    if kind is datetime:
        # In UTC: an instant past the years 1-9999 there is refused, not sent to PostgreSQL.
        return in_utc(datetime.fromisoformat(raw))
    return date.fromisoformat(raw)


def encode_cursor(at: datetime, id_: uuid.UUID) -> str:
    return encode_key(at, id_)


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    at, id_ = decode_key(cursor, datetime, uuid.UUID)
    return at, id_


def page(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[KeyPart, ...]]
) -> tuple[Sequence[T], str | None]:
    """The first ``limit`` of ``rows`` (fetch ``limit + 1``), and the cursor after them if
    more follow; ``key`` gives a row's sort key parts."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_key(*key(rows[limit - 1]))
