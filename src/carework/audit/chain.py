"""Hash chaining: each event stores the previous event's hash and its own,
``sha256(prev_hash + canonical JSON of its fields)``; the chain head holds the last one.

Any change to a stored field, a deleted or reordered event, or a dropped tail breaks a link
that ``verify`` recomputes. (Someone who can rewrite both tables and recompute every hash can
still forge a chain; publishing head hashes elsewhere closes that, and is a later step.)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from carework.audit.models import AuditChainHead, AuditEvent
from carework.audit.record import AuditRecord

SHARED_CHAINS = 16

#: The fields a hash covers, in order; everything an event says except its own hash.
HASHED_FIELDS = (
    "occurred_at", "id", "chain", "seq", "actor_sub", "actor_name", "actor_role", "actor_org",
    "action", "outcome", "status", "plan_id", "resource_type", "resource_id", "request_id",
    "client_ip",
)  # fmt: skip


def genesis(chain: str) -> str:
    return hashlib.sha256(f"carework-audit:{chain}".encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = json.dumps(
        [_canonical(fields[name]) for name in HASHED_FIELDS], separators=(",", ":"),
        ensure_ascii=False,
    )  # fmt: skip
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def chain_for(record: AuditRecord) -> str:
    if record.plan_id is not None and record.outcome == "allowed":
        return str(record.plan_id)
    digest = hashlib.sha256(record.request_id.encode()).digest()
    return f"shared-{digest[0] % SHARED_CHAINS}"


# The append runs on every request: its statements are built once, with bind parameters, and
# run on the session's connection as plain Core (no ORM bookkeeping on the hot path).
_head: Table = AuditChainHead.__table__  # type: ignore[assignment]
_event: Table = AuditEvent.__table__  # type: ignore[assignment]

_ADVANCE = (
    update(_head)
    .where(_head.c.chain == bindparam("the_chain"))
    .values(seq=_head.c.seq + 1)
    .returning(_head.c.seq, _head.c.hash, func.clock_timestamp())
)
_START = (
    pg_insert(_head)
    .values(chain=bindparam("the_chain"), seq=0, hash=bindparam("genesis"))
    .on_conflict_do_nothing()
)
# The event and the head's new hash in one round trip (the head row is locked already).
_APPEND = (
    update(_head)
    .where(_head.c.chain == bindparam("the_chain"))
    .values(hash=bindparam("new_hash"))
    .add_cte(
        insert(_event)
        .values({c.name: bindparam(f"e_{c.name}", type_=c.type) for c in _event.columns})
        .cte("appended")
    )
)


async def _advance_head(conn: AsyncConnection, chain: str) -> tuple[int, str, datetime]:
    """Lock the chain's head and move it on; returns (new seq, previous hash, now)."""
    row = (await conn.execute(_ADVANCE, {"the_chain": chain})).one_or_none()
    if row is None:
        await conn.execute(_START, {"the_chain": chain, "genesis": genesis(chain)})
        row = (await conn.execute(_ADVANCE, {"the_chain": chain})).one()
    return int(row[0]), str(row[1]), row[2]


async def append(session: AsyncSession, record: AuditRecord) -> None:
    conn = await session.connection()
    chain = chain_for(record)
    seq, prev_hash, now = await _advance_head(conn, chain)
    principal = record.principal
    fields: dict[str, Any] = {
        "occurred_at": now,
        "id": uuid.uuid4(),
        "chain": chain,
        "seq": seq,
        "actor_sub": principal.sub if principal else None,
        "actor_name": principal.name if principal else None,
        "actor_role": principal.role.value if principal else None,
        "actor_org": principal.org if principal else None,
        "action": record.action,
        "outcome": record.outcome,
        "status": record.status,
        "plan_id": record.plan_id,
        "resource_type": record.resource_type,
        "resource_id": record.resource_id,
        "request_id": record.request_id,
        "client_ip": record.client_ip,
    }
    digest = event_hash(prev_hash, fields)
    params = {f"e_{name}": value for name, value in fields.items()}
    params |= {"e_prev_hash": prev_hash, "e_hash": digest, "the_chain": chain, "new_hash": digest}
    await conn.execute(_APPEND, params)


@dataclass
class Verification:
    ok: bool
    events: int
    chains: int
    first_broken: dict[str, Any] | None = None


async def _rows(session: AsyncSession) -> AsyncIterator[AuditEvent]:
    stream = await session.stream_scalars(
        select(AuditEvent)
        .order_by(AuditEvent.chain, AuditEvent.seq)
        .execution_options(yield_per=5000)
    )
    async for event in stream:
        yield event


async def verify(session: AsyncSession) -> Verification:
    """Recompute every chain from its genesis and compare with the heads.

    Heads and events must be read from one snapshot: under READ COMMITTED an append that
    commits between the two reads looks like a broken chain. So the check runs in a
    REPEATABLE READ transaction of its own on the session's engine, never in the caller's
    (a request's own audit append must not run at that isolation level).
    """
    async with AsyncSession(session.bind) as snapshot:
        await snapshot.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return await _verify(snapshot)


async def _verify(session: AsyncSession) -> Verification:
    heads = {h.chain: (h.seq, h.hash) for h in (await session.scalars(select(AuditChainHead)))}
    events = 0
    seen: set[str] = set()
    chain, expected_seq, prev = None, 0, ""

    def broken(reason: str, at_chain: str, seq: int | None, event_id: Any = None) -> Verification:
        where = {"chain": at_chain, "seq": seq, "event_id": _canonical(event_id), "reason": reason}
        return Verification(False, events, len(seen), where)

    async for event in _rows(session):
        if event.chain != chain:
            if chain is not None and heads.get(chain) != (expected_seq, prev):
                return broken("the chain ends before its recorded head", chain, expected_seq)
            chain, expected_seq, prev = event.chain, 0, genesis(event.chain)
            seen.add(chain)
        expected_seq += 1
        if event.seq != expected_seq:
            return broken("an event is missing or out of order", chain, expected_seq, event.id)
        if event.prev_hash != prev:
            return broken("the link to the previous event is broken", chain, event.seq, event.id)
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        if event_hash(prev, fields) != event.hash:
            return broken("the event was changed", chain, event.seq, event.id)
        prev = event.hash
        events += 1
        session.expunge(event)
    if chain is not None and heads.get(chain) != (expected_seq, prev):
        return broken("the chain ends before its recorded head", chain, expected_seq)
    for missing in sorted(set(heads) - seen):
        if heads[missing][0] > 0:
            return broken("all events of the chain are gone", missing, 1)
    return Verification(True, events, len(seen))
