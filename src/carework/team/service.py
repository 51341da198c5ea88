"""Care-team use cases: each side names its own people; a named member is in the plan's scope."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access.policy import ensure_may_add_member
from carework.access.sensitivity import GENERAL
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.errors import Conflict
from carework.feed import outbox as feed
from carework.models.team import CareTeamMember
from carework.plans.service import plan_for_writing
from carework.team.schemas import TeamMemberCreate
from carework.vocab import EventType


async def add_member(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, body: TeamMemberCreate
) -> CareTeamMember:
    plan, _ = await plan_for_writing(session, principal, plan_id)
    side = ensure_may_add_member(principal, body.role)
    # ON CONFLICT keeps two concurrent adds of the same person from becoming a 500.
    stmt = (
        insert(CareTeamMember)
        .values(
            id=uuid.uuid4(),
            plan_id=plan.id,
            sub=body.sub,
            name=body.name,
            role=body.role.value,
            org=body.org,
            side=side.value,
            added_by_sub=principal.sub,
        )
        .on_conflict_do_nothing()
        .returning(CareTeamMember)
    )
    member = (await session.execute(stmt)).scalar_one_or_none()
    if member is None:
        raise Conflict("This person is already on the care team.")
    touch(resource=("team_member", member.id))
    await feed.record(
        session, principal, type=EventType.team_member_added, of=GENERAL, plan_id=plan.id,
        resource=("team_member", member.id), data={"role": member.role, "side": member.side},
    )  # fmt: skip
    return member
