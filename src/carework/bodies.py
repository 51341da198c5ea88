"""Base classes and field types for request and response bodies, and what a PATCH sent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
)

from carework.errors import RuleViolation


class Input(BaseModel):
    """Request bodies reject unknown fields: a typo must not be silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        """What PostgreSQL would refuse is invalid input (422), never a 500 from the database."""
        if isinstance(value, str):
            refuse_nul(value)
        elif isinstance(value, datetime) and value.tzinfo is not None:
            in_utc(value)
        return value


def sent_changes(
    body: BaseModel, *, required: tuple[str, ...] = ("status", "title")
) -> dict[str, Any]:
    """The fields a PATCH body sent; a required field may change but not be emptied."""
    changes = body.model_dump(exclude_unset=True)
    for name in required:
        if name in changes and changes[name] is None:
            raise RuleViolation(f"{name} cannot be emptied.")
    return changes


def refuse_nul(value: str) -> str:
    """PostgreSQL text cannot hold U+0000: refuse it as invalid input (422), not with a 500."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def in_utc(value: datetime) -> datetime:
    """The same instant in UTC; refused if that falls outside the years 1-9999."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=10000)]
OrgId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=128)]
#: Free text in a query parameter (a body's strings are checked by ``Input``).
QueryText = Annotated[str, AfterValidator(refuse_nul)]
#: A moment in a query parameter, with its offset, as PostgreSQL can store it.
QueryDatetime = Annotated[AwareDatetime, AfterValidator(in_utc)]
