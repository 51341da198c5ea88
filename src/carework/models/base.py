"""Declarative base with a naming convention, so Alembic sees stable constraint names."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carework.errors import Conflict

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Fetch server-set columns (version, timestamps) with RETURNING instead of a lazy load,
    # which async sessions cannot do.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=uuid.uuid4)


def created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def updated_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


def in_check(column: str, values: tuple[str, ...]) -> str:
    """SQL for a CHECK that keeps a text column inside its enumeration."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class EnteredInError:
    """Goals, activities and notes are never deleted: one recorded by mistake is marked, drops
    out of the views and stays in history and the audit trail."""

    entered_in_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    entered_in_error_reason: Mapped[str | None] = mapped_column(String(1000))
    entered_in_error_by_sub: Mapped[str | None] = mapped_column(String(128))

    def mark_in_error(self, by_sub: str, reason: str, what: str) -> None:
        """Mark it recorded by mistake, once: a second time is 409."""
        if self.entered_in_error_at is not None:
            raise Conflict(f"This {what} is already entered in error.")
        self.entered_in_error_at = func.now()
        self.entered_in_error_reason = reason
        self.entered_in_error_by_sub = by_sub
