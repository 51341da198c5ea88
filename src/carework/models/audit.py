from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, in_check


class AuditEvent(Base):
    """Append-only and partition-ready: the time column leads the primary key, nothing
    points at this table, and no index must span all partitions."""

    __tablename__ = "audit_event"
    __table_args__ = (
        PrimaryKeyConstraint("occurred_at", "id"),
        Index("ix_audit_event_chain_seq", "chain", "seq"),
        Index("ix_audit_event_plan_occurred", "plan_id", "occurred_at"),
        Index("ix_audit_event_actor_occurred", "actor_sub", "occurred_at"),
    )

    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    id: Mapped[uuid.UUID] = mapped_column()
    chain: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    actor_sub: Mapped[str | None] = mapped_column(String(128))
    actor_name: Mapped[str | None] = mapped_column(String(200))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    actor_org: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(SmallInteger)
    plan_id: Mapped[uuid.UUID | None] = mapped_column()
    resource_type: Mapped[str | None] = mapped_column(String(32))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    #: How many refusals one event stands for: NULL is one, the ordinary case; a summary of
    #: repeated anonymous refusals or 429s in a window (``audit.refusals``) holds their count.
    occurrences: Mapped[int | None] = mapped_column(Integer)


class AuditChainHead(Base):
    """The last link of each chain: the lock appenders take, and what verification ends at
    (so deleting the newest events is detected too)."""

    __tablename__ = "audit_chain_head"

    chain: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


VERIFICATION_STATES = ("running", "done", "failed")


class AuditVerification(Base):
    """One run of the trail's verification (``audit.verification``). The API answers from these
    rather than re-hash the whole trail inside a request; a run whose process died stops
    beating (``heartbeat_at``) and is then failed by whoever looks next."""

    __tablename__ = "audit_verification"
    __table_args__ = (
        CheckConstraint(in_check("state", VERIFICATION_STATES), name="state"),
        Index("ix_audit_verification_state_started", "state", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    heartbeat_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    events_done: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    events_total: Mapped[int | None] = mapped_column(BigInteger)
    #: The report of a finished run (``chain.Verification``), or why it failed.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
