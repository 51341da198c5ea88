"""What a PATCH may change: the shared rules for plans, goals and activities, and how an item
recorded by mistake is marked."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func

from carework.errors import Conflict, RuleViolation
from carework.models.base import EnteredInError

S = TypeVar("S", bound=StrEnum)


def sent_changes(
    body: BaseModel, *, required: tuple[str, ...] = ("status", "title")
) -> dict[str, Any]:
    """The fields the caller sent; a required field may change but not be emptied."""
    changes = body.model_dump(exclude_unset=True)
    for name in required:
        if name in changes and changes[name] is None:
            raise RuleViolation(f"{name} cannot be emptied.")
    return changes


def ensure_move(transitions: Mapping[S, frozenset[S]], current: S, new: S, what: str) -> None:
    """Status machines: staying put is fine, anything else must be an allowed move (409)."""
    if new is not current and new not in transitions[current]:
        raise Conflict(f"{what} that is {current.value} cannot become {new.value}.")


def mark_in_error(item: EnteredInError, by_sub: str, reason: str, what: str) -> None:
    """Mark a goal, activity or note as recorded by mistake (once: a second time is 409)."""
    if item.entered_in_error_at is not None:
        raise Conflict(f"This {what} is already entered in error.")
    item.entered_in_error_at = func.now()
    item.entered_in_error_reason = reason
    item.entered_in_error_by_sub = by_sub
