from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, in_check
from carework.vocab import Side, values


class ItemSeen(Base):
    """Which version of an item each party has seen last (a read receipt)."""

    __tablename__ = "item_seen"
    __table_args__ = (
        CheckConstraint(in_check("party", values(Side)), name="party"),
        Index("ix_item_seen_plan_id", "plan_id"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    party: Mapped[str] = mapped_column(String(16), primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    item_type: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    seen_by_sub: Mapped[str] = mapped_column(String(128))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlanSeen(Base):
    """When one person last looked at a plan: what changed since is theirs to see.

    ``seen_snapshot`` is PostgreSQL's snapshot at the look (``pg_current_snapshot()``, as
    text): a change is new to the looker if its transaction was not visible in it — also one
    that began before the look and committed after, which a comparison of times would miss.
    """

    __tablename__ = "plan_seen"

    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("plan.id", ondelete="CASCADE"), primary_key=True
    )
    sub: Mapped[str] = mapped_column(String(128), primary_key=True)
    party: Mapped[str] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    seen_snapshot: Mapped[str | None] = mapped_column(Text)
