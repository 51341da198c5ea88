from __future__ import annotations

from pydantic import Field

from carework.bodies import Input, Name, OrgId, Subject
from carework.vocab import TeamRole


class TeamMemberCreate(Input):
    sub: Subject
    name: Name
    role: TeamRole = Field(description="employment_specialist: IPS job support, on NAV's side.")
    org: OrgId
