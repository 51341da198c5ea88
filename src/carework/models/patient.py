from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from carework.models.base import Base, created_at, uuid_pk


class Patient(Base):
    __tablename__ = "patient"

    id: Mapped[uuid.UUID] = uuid_pk()
    nid: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at()
