from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, in_check
from carework.vocab import Sensitivity, Side, values


class ChangeEvent(Base):
    """Partition-ready like the audit trail: time leads the key, nothing points here."""

    __tablename__ = "change_event"
    __table_args__ = (
        PrimaryKeyConstraint("occurred_at", "id"),
        CheckConstraint(in_check("sensitivity", values(Sensitivity)), name="sensitivity"),
        CheckConstraint(
            f"internal_to IS NULL OR {in_check('internal_to', values(Side))}", name="internal_to"
        ),
        Index("ix_change_event_tx_id", "tx_id", "id"),
        Index("ix_change_event_plan_tx", "plan_id", "tx_id", "id"),
    )

    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True))
    tx_id: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
    plan_id: Mapped[uuid.UUID] = mapped_column()
    type: Mapped[str] = mapped_column(String(48))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[uuid.UUID] = mapped_column()
    version: Mapped[int | None] = mapped_column(Integer)
    actor_sub: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_role: Mapped[str] = mapped_column(String(32))
    sensitivity: Mapped[str] = mapped_column(String(16))
    internal_to: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
