from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, created_at, in_check, updated_at, uuid_pk
from carework.vocab import MinutesStatus, Side, values


class Meeting(Base):
    """A joint meeting (samarbeidsmøte): participants, agenda, and minutes that stay the
    writing side's draft until released."""

    __tablename__ = "meeting"
    __table_args__ = (
        CheckConstraint(in_check("minutes_status", values(MinutesStatus)), name="minutes_status"),
        CheckConstraint(in_check("created_by_side", values(Side)), name="side"),
        Index("ix_meeting_plan_scheduled", "plan_id", "scheduled_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[str | None] = mapped_column(String(200))
    agenda: Mapped[str | None] = mapped_column(String(4000))
    participants: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    minutes: Mapped[str | None] = mapped_column(String(10000))
    minutes_status: Mapped[str] = mapped_column(
        String(16), server_default=MinutesStatus.draft.value
    )
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by_sub: Mapped[str | None] = mapped_column(String(128))
    created_by_sub: Mapped[str] = mapped_column(String(128))
    created_by_side: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
