from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, EnteredInError, created_at, in_check, uuid_pk
from carework.vocab import Side, Visibility, values


class Note(EnteredInError, Base):
    __tablename__ = "note"
    __table_args__ = (
        CheckConstraint(in_check("visibility", values(Visibility)), name="visibility"),
        CheckConstraint(in_check("author_side", values(Side)), name="author_side"),
        Index("ix_note_plan_created", "plan_id", "created_at"),
        Index("ix_note_goal_created", "goal_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goal.id", ondelete="CASCADE"))
    author_sub: Mapped[str] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str] = mapped_column(String(32))
    author_side: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(String(10000))
    visibility: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at()
