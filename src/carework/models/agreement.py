from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, created_at, in_check, uuid_pk
from carework.vocab import Side, values

ITEM_TYPES = ("goal", "activity")


class Agreement(Base):
    """One party's agreement to one version of a goal or activity. A change of substance
    removes the item's agreements (the change feed keeps that they were cleared)."""

    __tablename__ = "agreement"
    __table_args__ = (
        UniqueConstraint("item_id", "party"),
        CheckConstraint(in_check("item_type", ITEM_TYPES), name="item_type"),
        CheckConstraint(in_check("party", values(Side)), name="party"),
        Index("ix_agreement_plan_id", "plan_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    item_type: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[uuid.UUID] = mapped_column()
    party: Mapped[str] = mapped_column(String(16))
    item_version: Mapped[int] = mapped_column(Integer)
    agreed_by_sub: Mapped[str] = mapped_column(String(128))
    agreed_by_name: Mapped[str] = mapped_column(String(200))
    agreed_at: Mapped[datetime] = created_at()
