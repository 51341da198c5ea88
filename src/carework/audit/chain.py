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

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Integer,
    Row,
    Table,
    Text,
    Update,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from carework.audit.record import AuditRecord
from carework.db import direct
from carework.models.audit import AuditChainHead, AuditEvent

SHARED_CHAINS = 16

#: The fields a hash covers, in order; everything an event says except its own hash.
HASHED_FIELDS = (
    "occurred_at", "id", "chain", "seq", "actor_sub", "actor_name", "actor_role", "actor_org",
    "action", "outcome", "status", "plan_id", "resource_type", "resource_id", "request_id",
    "client_ip",
)  # fmt: skip
#: Fields added later, hashed after those above only when set: the events written before a
#: field existed keep the hash they were written with, and setting or clearing one later
#: changes the list's length, so it breaks the link like any other change.
OPTIONAL_HASHED_FIELDS = ("occurrences",)


def genesis(chain: str) -> str:
    return hashlib.sha256(f"carework-audit:{chain}".encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    values = [_canonical(fields[name]) for name in HASHED_FIELDS]
    values += [
        _canonical(fields[name]) for name in OPTIONAL_HASHED_FIELDS if fields.get(name) is not None
    ]
    body = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def chain_for(record: AuditRecord) -> str:
    if record.plan_id is not None and record.outcome == "allowed":
        return str(record.plan_id)
    digest = hashlib.sha256(record.request_id.encode()).digest()
    return f"shared-{digest[0] % SHARED_CHAINS}"


# The append runs on every request, so it is ONE statement, built once: lock the chain's head,
# compute the event's hash in PostgreSQL, insert the event and move the head on. The hash is the
# same ``event_hash`` as above, written in SQL (``_json`` renders each value exactly as
# ``json.dumps`` does); ``verify`` recomputes it in Python, so any drift between the two shows
# up as a broken chain, and tests/test_audit.py appends awkward text to prove they agree.
_head: Table = AuditChainHead.__table__  # type: ignore[assignment]
_event: Table = AuditEvent.__table__  # type: ignore[assignment]
_STORED = (*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS)
_GIVEN = tuple(name for name in _STORED if name not in ("occurred_at", "seq"))
_ISO_UTC = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'


def _json(value: ColumnElement[Any], column: Column[Any]) -> ColumnElement[str]:
    """The value as ``json.dumps`` writes it; NULL stays NULL (``concat_ws`` leaves it out)."""
    if isinstance(column.type, Integer):
        return cast(value, Text)
    if isinstance(column.type, DateTime):
        return cast(func.to_json(func.to_char(func.timezone("UTC", value), _ISO_UTC)), Text)
    return cast(func.to_json(cast(value, Text)), Text)


def _json_or_null(value: ColumnElement[Any], column: Column[Any]) -> ColumnElement[str]:
    return func.coalesce(_json(value, column), literal_column("'null'"))


def _append_statement() -> Update:
    head = (
        select(
            (_head.c.seq + 1).label("seq"),
            _head.c.hash.label("prev_hash"),
            func.clock_timestamp().label("occurred_at"),
        )
        .where(_head.c.chain == bindparam("the_chain"))
        .with_for_update()
        .cte("head")
    )
    value: dict[str, ColumnElement[Any]] = {
        name: bindparam(f"e_{name}", type_=_event.c[name].type) for name in _GIVEN
    }
    value |= {"occurred_at": head.c.occurred_at, "seq": head.c.seq}
    parts = [_json_or_null(value[n], _event.c[n]) for n in HASHED_FIELDS]
    parts += [_json(value[n], _event.c[n]) for n in OPTIONAL_HASHED_FIELDS]
    body = func.concat("[", func.concat_ws(",", *parts), "]")
    digest = func.encode(
        func.sha256(func.convert_to(func.concat(head.c.prev_hash, body), "UTF8")), "hex"
    )
    event = select(*(value[n].label(n) for n in _STORED), head.c.prev_hash, digest.label("hash"))
    inserted = (
        insert(_event)
        .from_select([*_STORED, "prev_hash", "hash"], event)
        .returning(_event.c.chain, _event.c.seq, _event.c.hash)
        .cte("inserted")
    )
    return (
        update(_head)
        .where(_head.c.chain == inserted.c.chain)
        .values(seq=inserted.c.seq, hash=inserted.c.hash)
        .returning(_head.c.seq)
    )


_APPEND = _append_statement()
_START = (
    pg_insert(_head)
    .values(chain=bindparam("the_chain"), seq=0, hash=bindparam("genesis"))
    .on_conflict_do_nothing()
)


async def append(session: AsyncSession, record: AuditRecord) -> None:
    chain = chain_for(record)
    principal = record.principal
    params: dict[str, Any] = {
        "the_chain": chain,
        "e_id": uuid.uuid4(),
        "e_chain": chain,
        "e_actor_sub": principal.sub if principal else None,
        "e_actor_name": principal.name if principal else None,
        "e_actor_role": principal.role.value if principal else None,
        "e_actor_org": principal.org if principal else None,
        "e_action": record.action,
        "e_outcome": record.outcome,
        "e_status": record.status,
        "e_plan_id": record.plan_id,
        "e_resource_type": record.resource_type,
        "e_resource_id": record.resource_id,
        "e_request_id": record.request_id,
        "e_client_ip": record.client_ip,
        "e_occurrences": record.occurrences,
    }
    if await direct.fetchrow(session, _APPEND, params) is None:  # a chain's very first event
        await direct.fetch(session, _START, {"the_chain": chain, "genesis": genesis(chain)})
        if await direct.fetchrow(session, _APPEND, params) is None:
            raise RuntimeError(f"audit chain {chain} has no head")


@dataclass
class Verification:
    ok: bool
    events: int
    chains: int
    first_broken: dict[str, Any] | None = None


async def _rows(session: AsyncSession) -> AsyncIterator[Row[Any]]:
    """Every event in chain order, streamed as plain rows (no ORM objects for a million)."""
    stream = await session.stream(
        select(_event).order_by(_event.c.chain, _event.c.seq).execution_options(yield_per=10_000)
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
    chain: str | None = None
    expected_seq, prev = 0, ""

    def broken(reason: str, at_chain: str, seq: int | None, event_id: Any = None) -> Verification:
        where = {"chain": at_chain, "seq": seq, "event_id": _canonical(event_id), "reason": reason}
        return Verification(False, events, len(seen), where)

    async for event in _rows(session):
        if event.chain != chain:
            if chain is not None and heads.get(chain) != (expected_seq, prev):
                return broken("the chain ends before its recorded head", chain, expected_seq)
            chain = str(event.chain)
            expected_seq, prev = 0, genesis(chain)
            seen.add(chain)
        assert chain is not None
        expected_seq += 1
        if event.seq != expected_seq:
            return broken("an event is missing or out of order", chain, expected_seq, event.id)
        if event.prev_hash != prev:
            return broken("the link to the previous event is broken", chain, event.seq, event.id)
        fields = {name: getattr(event, name) for name in _STORED}
        if event_hash(prev, fields) != event.hash:
            return broken("the event was changed", chain, event.seq, event.id)
        prev = event.hash
        events += 1
    if chain is not None and heads.get(chain) != (expected_seq, prev):
        return broken("the chain ends before its recorded head", chain, expected_seq)
    for missing in sorted(set(heads) - seen):
        if heads[missing][0] > 0:
            return broken("all events of the chain are gone", missing, 1)
    return Verification(True, events, len(seen))
