"""What a PATCH may change: the shared rules for plans, goals and activities."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel

from carework.errors import Conflict, RuleViolation

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
