from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, EnteredInError, created_at, in_check, updated_at, uuid_pk
from carework.vocab import ActivityKind, ActivityStatus, JobOutcome, Side, values


class Activity(EnteredInError, Base):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint(in_check("kind", values(ActivityKind)), name="kind"),
        CheckConstraint(in_check("status", values(ActivityStatus)), name="status"),
        CheckConstraint(in_check("responsible_side", (Side.dps, Side.nav)), name="side"),
        CheckConstraint(
            f"outcome IS NULL OR {in_check('outcome', values(JobOutcome))}", name="outcome"
        ),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date",
            name="dates_in_order",
        ),
        Index("ix_activity_plan_created", "plan_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    goal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("goal.id", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(4000))
    responsible_side: Mapped[str] = mapped_column(String(16))
    responsible_person: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    #: IPS: where a job-search step got to, and with which employer.
    outcome: Mapped[str | None] = mapped_column(String(24))
    employer: Mapped[str | None] = mapped_column(String(200))
    #: The joint meeting whose agreed action this activity is, if any.
    meeting_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("meeting.id", ondelete="RESTRICT"), index=True
    )
    created_by_sub: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
