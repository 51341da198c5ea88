from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, created_at, in_check, uuid_pk
from carework.vocab import ConsentEvidence, ConsentScope, values

_SCOPES = "ARRAY[" + ", ".join(f"'{s}'" for s in values(ConsentScope)) + "]::varchar[]"


class Consent(Base):
    __tablename__ = "consent"
    __table_args__ = (
        CheckConstraint(in_check("evidence", values(ConsentEvidence)), name="evidence"),
        CheckConstraint(f"cardinality(scopes) > 0 AND scopes <@ {_SCOPES}", name="scopes"),
        Index("ix_consent_plan_granted", "plan_id", "granted_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    evidence: Mapped[str] = mapped_column(String(16))
    granted_by_sub: Mapped[str] = mapped_column(String(128))
    granted_by_name: Mapped[str] = mapped_column(String(200))
    granted_by_role: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = created_at()
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by_sub: Mapped[str | None] = mapped_column(String(128))
    revoked_by_role: Mapped[str | None] = mapped_column(String(32))
