"""Opaque keyset cursors — stable under concurrent inserts, unlike offsets — and the one way a
list is cut into pages.

A cursor is the sort key of the last item on a page (dates, instants, ids, integers), as base64
of a JSON list; the next page is what sorts after it. Every list in the API pages with it: plan
lists, the change feed and a plan's history, the trail, reviews, meetings.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from carework.bodies import in_utc
from carework.errors import RuleViolation

KeyPart = date | datetime | uuid.UUID | int
T = TypeVar("T")
_BIGINT = 2**63


def encode_key(*parts: KeyPart) -> str:
    raw = json.dumps(
        [p if isinstance(p, int) else str(p) if isinstance(p, uuid.UUID) else p.isoformat()
         for p in parts]
    )  # fmt: skip
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_key(cursor: str, *kinds: type[KeyPart]) -> tuple[Any, ...]:
    """The key parts of a cursor, as ``kinds`` (``date``, ``datetime``, ``uuid.UUID``, ``int``);
    a cursor this service did not issue is 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(parts, list) or len(parts) != len(kinds):
            raise ValueError(cursor)
        return tuple(_part(kind, part) for kind, part in zip(kinds, parts, strict=True))
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError):
        raise RuleViolation("The cursor is not one this service issued.") from None


def _part(kind: type[KeyPart], raw: Any) -> KeyPart:
    if kind is int:
        if type(raw) is not int or not 0 <= raw < _BIGINT:  # bigint columns
            raise ValueError(raw)
        return raw
    if not isinstance(raw, str):
        raise ValueError(raw)
    if kind is uuid.UUID:
        return uuid.UUID(raw)
    if kind is datetime:
        # In UTC: an instant past the years 1-9999 there is refused, not sent to PostgreSQL.
        return in_utc(datetime.fromisoformat(raw))
    return date.fromisoformat(raw)


def page(
    rows: Sequence[T], limit: int, key: Callable[[T], tuple[KeyPart, ...]]
) -> tuple[Sequence[T], str | None]:
    """The first ``limit`` of ``rows`` (fetch ``limit + 1``), and the cursor after them if
    more follow; ``key`` gives a row's sort key parts."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_key(*key(rows[limit - 1]))
