"""Opaque keyset cursors: stable under concurrent inserts, unlike offsets."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query

from carework.errors import RuleViolation
from carework.schema import in_utc

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` from the previous page.")
]


def encode_cursor(at: datetime, id_: uuid.UUID) -> str:
    raw = json.dumps([at.isoformat(), str(id_)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, id_ = json.loads(base64.urlsafe_b64decode(padded))
        # In UTC: an instant past the years 1-9999 there is refused, not sent to PostgreSQL.
        return in_utc(datetime.fromisoformat(at)), uuid.UUID(id_)
    except (ValueError, TypeError, AttributeError):
        raise RuleViolation("The cursor is not one this service issued.") from None
