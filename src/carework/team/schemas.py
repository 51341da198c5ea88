from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from carework.schema import Input, Name, OrgId, Output, Subject
from carework.vocab import Side


class TeamMemberCreate(Input):
    sub: Subject
    name: Name
    role: Literal["clinician", "nav_advisor"]
    org: OrgId


class TeamMemberRead(Output):
    id: uuid.UUID
    sub: str
    name: str
    role: str
    org: str
    side: Side
    coordinator: bool = False
    created_at: datetime


class PatientTeamMemberRead(Output):
    """The patient sees who is on their team, not their identifiers in other systems."""

    name: str
    role: str
    org: str
    side: Side
    coordinator: bool = False
