"""Page sessions ended by signing out, so that every replica refuses their cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base


class UiSignedOut(Base):
    """A page session's token, by its SHA-256, signed out before it expired. The token itself
    is never kept; the row goes once the token would have expired anyway."""

    __tablename__ = "ui_signed_out"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
