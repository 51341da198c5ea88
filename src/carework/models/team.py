from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, created_at, in_check, uuid_pk
from carework.vocab import Side, values


class CareTeamMember(Base):
    __tablename__ = "care_team_member"
    __table_args__ = (
        UniqueConstraint("plan_id", "side", "sub"),
        CheckConstraint(in_check("side", values(Side)), name="side"),
        # Scope look-ups go from the caller's sub to the plans they are named on.
        Index("ix_care_team_member_sub_side", "sub", "side", "plan_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    org: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(16))
    added_by_sub: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_at()
