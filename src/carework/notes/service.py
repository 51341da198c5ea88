"""Progress notes: anyone in scope writes on goals they can see; notes are never changed."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.roles import side_of
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.feed import outbox as feed
from carework.models.goal import Goal
from carework.models.note import Note
from carework.plans import repository as plans
from carework.plans.service import ensure_open, take_back
from carework.vocab import EventType, Visibility


async def add_note(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    text: str,
    visibility: Visibility,
) -> Note:
    found = await plans.find(session, principal, plan_id, Goal, goal_id)
    ensure_open(found.plan)
    goal = found.item
    note = Note(
        id=uuid.uuid4(),
        plan_id=plan_id,
        goal_id=goal.id,
        author_sub=principal.sub,
        author_name=principal.name,
        author_role=principal.role.value,
        author_side=side_of(principal).value,
        text=text,
        visibility=visibility.value,
    )
    session.add(note)
    touch(resource=("note", note.id))
    await session.flush()
    await feed.record(
        session, principal, type=EventType.note_added, plan_id=plan_id, resource=("note", note.id),
        of=sensitivity.of_note(goal.domain, note.visibility, note.author_side),
        data={"goal_id": str(goal.id), "visibility": note.visibility},
    )  # fmt: skip
    return note


async def add_patient_note(
    session: AsyncSession, principal: Principal, goal_id: uuid.UUID, text: str
) -> Note:
    plan_id = await plans.own_plan_id(session, principal)
    return await add_note(session, principal, plan_id, goal_id, text, Visibility.shared)


async def mark_entered_in_error(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    note_id: uuid.UUID,
    reason: str,
) -> Note:
    """Notes are never changed, but one written by mistake (wrong patient, wrong goal) can be
    taken back by its author's side: it leaves every view, its row and event stay."""
    found = await plans.find(
        session, principal, plan_id, Note, note_id, goal_id=goal_id, lock=True, in_error_too=True
    )
    note = found.item
    assert found.goal_domain is not None, "a note is on a goal"
    await take_back(
        session, principal, found, owner_side=note.author_side, expected_version=None,
        reason=reason, type=EventType.note_entered_in_error,
        of=sensitivity.of_note(found.goal_domain, note.visibility, note.author_side),
    )  # fmt: skip
    return note
