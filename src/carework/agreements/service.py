"""Three-way agreement: the patient, DPS and NAV each say they stand behind a goal or an
activity as it is written. An agreement names the version agreed to; a change of substance
empties them all (``clear_on_substance``), a status move does not.

Agreeing is not a change to the item: its version and ETag stay, and agreeing twice keeps the
first agreement. The answer is the item as the caller sees it, from the read model, so
``agreed_by`` and ``waiting_for`` are those just stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from carework.access import sensitivity
from carework.access.policy import ensure_agreeable
from carework.access.roles import side_of
from carework.access.sensitivity import EventClass
from carework.auth.principal import Principal
from carework.feed import outbox as feed
from carework.models.activity import Activity
from carework.models.agreement import Agreement
from carework.models.goal import Goal
from carework.plans import repository as plans
from carework.plans.service import ensure_open
from carework.readmodel import PlanJson, read_activity, read_goal
from carework.versions import Versions, ensure_version
from carework.vocab import EventType

ItemType = Literal["goal", "activity"]
Item = Goal | Activity

#: The fields whose change makes an agreement stale (API field → column).
SUBSTANCE: dict[ItemType, dict[str, str]] = {
    "goal": {"title": "title", "description": "description", "target_date": "target_date"},
    "activity": {
        "title": "title",
        "description": "description",
        "start": "start_date",
        "end": "end_date",
        "kind": "kind",
        "responsible_person": "responsible_person",
    },
}


def _type_of(item: Item) -> ItemType:
    return "goal" if isinstance(item, Goal) else "activity"


def _event_class(item: Item, goal_domain: str | None) -> EventClass:
    if isinstance(item, Goal):
        return sensitivity.of_goal(item.domain)
    return sensitivity.of_activity(item.responsible_side, goal_domain)


async def _agreeable(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    item_type: ItemType,
    item_id: uuid.UUID,
) -> plans.LockedItem[Any]:
    """The item, locked, if the caller may agree to it in an open plan (the lock read finds
    only an item the caller sees and that is in use)."""
    model: type[Item] = Goal if item_type == "goal" else Activity
    locked = await plans.lock_item(session, principal, plan_id, model, item_id)
    if isinstance(locked.item, Goal):
        ensure_agreeable(locked.item.status)
    ensure_open(locked.plan)
    return locked


async def _answer(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, item: Item
) -> PlanJson:
    if isinstance(item, Goal):
        return await read_goal(session, principal, plan_id, item.id)
    return await read_activity(session, principal, plan_id, item.id)


async def agree(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    item_type: ItemType,
    item_id: uuid.UUID,
    expected_version: Versions,
) -> PlanJson:
    """The caller's side agrees to the item at the version named in If-Match."""
    locked = await _agreeable(session, principal, plan_id, item_type, item_id)
    item = locked.item
    ensure_version(item.version, expected_version)
    party = side_of(principal).value
    stmt = (
        insert(Agreement)
        .values(
            id=uuid.uuid4(),
            plan_id=plan_id,
            item_type=item_type,
            item_id=item.id,
            party=party,
            item_version=item.version,
            agreed_by_sub=principal.sub,
            agreed_by_name=principal.name,
        )
        .on_conflict_do_nothing(index_elements=[Agreement.item_id, Agreement.party])
        .returning(Agreement.id)
    )
    conn = await session.connection()  # Core, not the ORM's bulk paths
    if (await conn.execute(stmt)).first() is not None:
        await feed.record(
            session, principal, type=EventType(f"{item_type}.agreed"), plan_id=plan_id,
            resource=(item_type, item.id), of=_event_class(item, locked.goal_domain),
            version=item.version, data={"party": party},
        )  # fmt: skip
    return await _answer(session, principal, plan_id, item)


async def withdraw(
    session: AsyncSession,
    principal: Principal,
    plan_id: uuid.UUID,
    item_type: ItemType,
    item_id: uuid.UUID,
) -> PlanJson:
    """The caller's side no longer agrees. Nothing to withdraw is not an error."""
    locked = await _agreeable(session, principal, plan_id, item_type, item_id)
    item = locked.item
    party = side_of(principal).value
    stmt = (
        delete(Agreement)
        .where(Agreement.item_id == item.id, Agreement.party == party)
        .returning(Agreement.id)
    )
    conn = await session.connection()  # Core, not the ORM's bulk paths
    if (await conn.execute(stmt)).first() is not None:
        await feed.record(
            session, principal, type=EventType(f"{item_type}.agreement_withdrawn"),
            plan_id=plan_id, resource=(item_type, item.id),
            of=_event_class(item, locked.goal_domain), version=item.version, data={"party": party},
        )  # fmt: skip
    return await _answer(session, principal, plan_id, item)


async def agree_in_own_plan(
    session: AsyncSession,
    principal: Principal,
    item_type: ItemType,
    item_id: uuid.UUID,
    expected_version: Versions,
) -> PlanJson:
    plan_id = await plans.own_plan_id(session, principal)
    return await agree(session, principal, plan_id, item_type, item_id, expected_version)


async def withdraw_in_own_plan(
    session: AsyncSession, principal: Principal, item_type: ItemType, item_id: uuid.UUID
) -> PlanJson:
    plan_id = await plans.own_plan_id(session, principal)
    return await withdraw(session, principal, plan_id, item_type, item_id)


async def clear_on_substance(
    session: AsyncSession,
    principal: Principal,
    item: Item,
    changes: Mapping[str, Any],
    goal_domain: str | None,
) -> None:
    """An agreement is to the item as it was written: a change of substance empties them, in
    the change's own transaction, and the feed keeps who had agreed. Call it before the change
    is stored (the goal's PATCH answer reads ``agreed_by`` in its own UPDATE); the event carries
    the version the change is about to make. ``goal_domain``: the goal an activity is tied to."""
    item_type = _type_of(item)
    changed = sorted(
        field
        for field, column in SUBSTANCE[item_type].items()
        if field in changes and changes[field] != getattr(item, column)
    )
    if not changed:
        return
    stmt = delete(Agreement).where(Agreement.item_id == item.id).returning(Agreement.party)
    conn = await session.connection()
    parties = sorted((await conn.execute(stmt)).scalars())
    if not parties:
        return
    await feed.record(
        session, principal, type=EventType(f"{item_type}.agreements_cleared"),
        plan_id=item.plan_id, resource=(item_type, item.id), of=_event_class(item, goal_domain),
        version=item.version + 1, data={"parties": parties, "changed": changed},
    )  # fmt: skip
