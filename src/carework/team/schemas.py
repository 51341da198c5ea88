from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from carework.schema import Input, Name, OrgId, Output, Subject
from carework.vocab import Side, TeamRole


class TeamMemberCreate(Input):
    sub: Subject
    name: Name
    role: TeamRole = Field(description="employment_specialist: IPS job support, on NAV's side.")
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
