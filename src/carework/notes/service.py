"""Progress notes: anyone in scope writes on goals they can see; notes are never changed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.roles import side_of
from carework.access.scope import params, scoped
from carework.audit.record import touch
from carework.auth.principal import Principal
from carework.feed import outbox as feed
from carework.models.goal import Goal
from carework.models.note import Note
from carework.paging import decode_key, page
from carework.plans import repository as plans
from carework.plans.service import ensure_open, take_back
from carework.readmodel.schemas import NoteList, NoteRead
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


async def list_notes(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    goal_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> NoteList:
    """Every note on a goal the caller may see, newest first, a page at a time: the plan view
    carries only the newest (``readmodel.items.NOTES_IN_VIEW``)."""
    key = (Note.created_at, Note.id)
    stmt = scoped(principal.role).notes(Note).order_by(*(part.desc() for part in key))
    if cursor is not None:
        stmt = stmt.where(tuple_(*key) < tuple_(*decode_key(cursor, datetime, uuid.UUID)))
    values = params(principal, plan_id=plan_id, goal_id=goal_id)
    rows = (await session.scalars(stmt.limit(limit + 1), values)).all()
    if rows:
        touch(plan_id=plan_id, resource=("goal", goal_id))
    else:  # no note, or no goal the caller sees in a plan in scope: the latter is 404
        await plans.find(session, principal, plan_id, Goal, goal_id)
    notes, next_cursor = page(rows, limit, lambda note: (note.created_at, note.id))
    return NoteList(items=[NoteRead.model_validate(n) for n in notes], next_cursor=next_cursor)


async def list_own_notes(
    session: AsyncSession,
    principal: Principal,
    goal_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> NoteList:
    """The notes on a goal of the patient's own plan."""
    plan_id = await plans.own_plan_id(session, principal)
    return await list_notes(session, principal, plan_id, goal_id, limit=limit, cursor=cursor)
