from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, created_at, in_check, updated_at, uuid_pk
from carework.vocab import OPEN_PLAN_STATUSES, PlanStatus, values


class Plan(Base):
    __tablename__ = "plan"
    __table_args__ = (
        CheckConstraint(in_check("status", values(PlanStatus)), name="status"),
        # At most one open plan per patient, decided by the database, not by a read-then-write.
        Index(
            "uq_plan_one_open_per_patient",
            "patient_id",
            unique=True,
            postgresql_where=text(
                "status IN (" + ", ".join(f"'{s}'" for s in OPEN_PLAN_STATUSES) + ")"
            ),
        ),
        CheckConstraint(
            "period_end IS NULL OR period_start IS NULL OR period_end >= period_start",
            name="period_in_order",
        ),
        CheckConstraint("review_interval_days IS NULL OR review_interval_days > 0", name="cadence"),
        Index("ix_plan_dps_unit_created", "dps_unit", "created_at", "id"),
        Index("ix_plan_nav_office_created", "nav_office", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    patient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("patient.id", ondelete="RESTRICT"), index=True
    )
    dps_unit: Mapped[str] = mapped_column(String(64))
    nav_office: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    main_goal: Mapped[str | None] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), server_default=PlanStatus.draft.value)
    coordinator_sub: Mapped[str | None] = mapped_column(String(128))
    next_review_date: Mapped[date | None] = mapped_column(Date)
    # The plan period and how often it is reviewed (individual-plan regulation: a plan is
    # revised; an evaluation sets the next review from the cadence).
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    review_interval_days: Mapped[int | None] = mapped_column(Integer)
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_by_sub: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
