from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, created_at, in_check, uuid_pk
from carework.vocab import Achievement, Side, values


class Evaluation(Base):
    """A review of the plan: held on a day, by one side, with a finding per goal."""

    __tablename__ = "evaluation"
    __table_args__ = (
        CheckConstraint(in_check("recorded_by_side", values(Side)), name="side"),
        Index("ix_evaluation_plan_held", "plan_id", "held_on"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    held_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(String(4000))
    recorded_by_sub: Mapped[str] = mapped_column(String(128))
    recorded_by_name: Mapped[str] = mapped_column(String(200))
    recorded_by_side: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at()


class GoalEvaluation(Base):
    """What one evaluation found for one goal, and what happens next: the goal's
    achievement history."""

    __tablename__ = "goal_evaluation"
    __table_args__ = (
        CheckConstraint(in_check("achievement", values(Achievement)), name="achievement"),
        Index("ix_goal_evaluation_goal_created", "goal_id", "created_at"),
        Index("ix_goal_evaluation_evaluation_id", "evaluation_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evaluation.id", ondelete="CASCADE")
    )
    goal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("goal.id", ondelete="CASCADE"))
    achievement: Mapped[str] = mapped_column(String(24))
    next_step: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = created_at()
