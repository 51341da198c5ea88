from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, EnteredInError, created_at, in_check, updated_at, uuid_pk
from carework.vocab import Achievement, GoalDomain, GoalStatus, Side, values


class Goal(EnteredInError, Base):
    __tablename__ = "goal"
    __table_args__ = (
        CheckConstraint(in_check("domain", values(GoalDomain)), name="domain"),
        CheckConstraint(in_check("owner_side", (Side.dps, Side.nav)), name="owner_side"),
        CheckConstraint(in_check("status", values(GoalStatus)), name="status"),
        CheckConstraint(
            f"achievement_status IS NULL OR {in_check('achievement_status', values(Achievement))}",
            name="achievement_status",
        ),
        Index("ix_goal_plan_created", "plan_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(16))
    owner_side: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(4000))
    status: Mapped[str] = mapped_column(String(16))
    target_date: Mapped[date | None] = mapped_column(Date)
    proposed_by_side: Mapped[str | None] = mapped_column(String(16))
    #: What the latest evaluation found (the history is in ``goal_evaluation``).
    achievement_status: Mapped[str | None] = mapped_column(String(24))
    created_by_sub: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
