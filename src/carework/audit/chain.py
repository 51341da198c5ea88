"""Hash chaining: each event stores the previous event's hash and its own,
``sha256(prev_hash + canonical JSON of its fields)``; the chain head holds the last one.

Any change to a stored field, a deleted or reordered event, or a dropped tail breaks a link
that ``verify`` recomputes. What no link can show, a trail cut back (its newest events deleted
and the head rewound, or a whole chain deleted with its head), the signed checkpoints kept
outside the database show (``audit.checkpoint``): ``verify`` compares every chain with the
newest one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import operator
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
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
    Uuid,
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

from carework.audit import checkpoint
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


#: ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``, without building an encoder
#: per call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    values = [_canonical(fields[name]) for name in HASHED_FIELDS]
    values += [
        _canonical(fields[name]) for name in OPTIONAL_HASHED_FIELDS if fields.get(name) is not None
    ]
    body = _encode(values)
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
    #: What the newest checkpoint said (``checkpoint.Anchor.summary``); None: not asked.
    checkpoint: dict[str, Any] | None = None


#: Told ``(events verified, events in the snapshot)`` as verification goes.
Progress = Callable[[int, int], Awaitable[None]]
PROGRESS_EVERY = 10_000
#: Hashing is CPU work on the server's event loop: let requests in this often.
_YIELD_EVERY = 1_000


async def _batches(session: AsyncSession) -> AsyncIterator[Sequence[Row[Any]]]:
    """Every event in chain order, streamed as plain rows (no ORM objects for a million), a
    batch at a time: row by row, each row cost a hop into SQLAlchemy's greenlet (a third of
    the time verification took)."""
    stream = await session.stream(
        select(_event).order_by(_event.c.chain, _event.c.seq).execution_options(yield_per=5_000)
    )
    async for batch in stream.partitions():
        yield batch


# ``event_hash`` on a streamed row, as ``verify`` runs it a million times: the hashed fields
# picked by position, and only the columns that are no JSON value made canonical.
_picked = operator.itemgetter(*(list(_event.c.keys()).index(name) for name in HASHED_FIELDS))
_NOT_JSON = tuple(
    k for k, name in enumerate(HASHED_FIELDS) if isinstance(_event.c[name].type, DateTime | Uuid)
)
_OPTIONAL_AT = tuple(list(_event.c.keys()).index(name) for name in OPTIONAL_HASHED_FIELDS)


def _link_fault(
    event: Row[Any], seq: int, prev_hash: str, mark: tuple[int, str] | None
) -> str | None:
    """What is wrong with the event that should be number ``seq`` after ``prev_hash``, if
    anything; ``mark`` is its chain's (seq, hash) in the newest checkpoint."""
    if event.seq != seq:
        return "an event is missing or out of order"
    if event.prev_hash != prev_hash:
        return "the link to the previous event is broken"
    if _row_hash(prev_hash, event) != event.hash:
        return "the event was changed"
    if mark is not None and mark[0] == seq and mark[1] != event.hash:
        return "the chain differs from its checkpoint"
    return None


def _row_hash(prev_hash: str, row: Row[Any]) -> str:
    values = list(_picked(row))
    for k in _NOT_JSON:
        values[k] = _canonical(values[k])
    values += [_canonical(row[k]) for k in _OPTIONAL_AT if row[k] is not None]
    return hashlib.sha256((prev_hash + _encode(values)).encode()).hexdigest()


async def verify(
    session: AsyncSession,
    *,
    location: checkpoint.Location | None = None,
    progress: Progress | None = None,
) -> Verification:
    """Recompute every chain from its genesis and compare with the heads and, given a checkpoint
    ``location``, with the newest checkpoint there.

    Heads and events must be read from one snapshot: under READ COMMITTED an append that
    commits between the two reads looks like a broken chain. So the check runs in a
    REPEATABLE READ transaction of its own on the session's engine, never in the caller's
    (a request's own audit append must not run at that isolation level). The checkpoint is read
    before that snapshot is taken, so every chain in it must have got at least as far.
    """
    anchor = await asyncio.to_thread(checkpoint.newest, location) if location else None
    async with AsyncSession(session.bind) as snapshot:
        await snapshot.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        result = await _verify(snapshot, anchor, progress)
    if anchor is not None:
        result.checkpoint = anchor.summary()
    return result


async def _verify(
    session: AsyncSession, anchor: checkpoint.Anchor | None, progress: Progress | None
) -> Verification:
    heads = {h.chain: (h.seq, h.hash) for h in (await session.scalars(select(AuditChainHead)))}
    total = 0
    if progress is not None:
        total = (await session.execute(select(func.count()).select_from(_event))).scalar_one()
        await progress(0, total)
    anchored: Mapping[str, tuple[int, str]] = {}
    if anchor is not None and anchor.checkpoint is not None and not anchor.problem:
        anchored = anchor.checkpoint.chains
    events = 0
    seen: dict[str, int] = {}  # chain → the last seq verified
    chain: str | None = None
    expected_seq, prev = 0, ""

    def broken(
        reason: str, at_chain: str | None, seq: int | None, event_id: Any = None
    ) -> Verification:
        where = {"chain": at_chain, "seq": seq, "event_id": _canonical(event_id), "reason": reason}
        return Verification(False, events, len(seen), where)

    async for batch in _batches(session):
        for event in batch:
            if event.chain != chain:
                if chain is not None and heads.get(chain) != (expected_seq, prev):
                    return broken("the chain ends before its recorded head", chain, expected_seq)
                chain = str(event.chain)
                expected_seq, prev = 0, genesis(chain)
                seen[chain] = 0
            assert chain is not None
            expected_seq += 1
            if reason := _link_fault(event, expected_seq, prev, anchored.get(chain)):
                return broken(reason, chain, expected_seq, event.id)
            prev = event.hash
            seen[chain] = expected_seq
            events += 1
            if events % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if progress is not None and events % PROGRESS_EVERY == 0:
                    await progress(events, total)
    if chain is not None and heads.get(chain) != (expected_seq, prev):
        return broken("the chain ends before its recorded head", chain, expected_seq)
    for missing in sorted(set(heads) - set(seen)):
        if heads[missing][0] > 0:
            return broken("all events of the chain are gone", missing, 1)
    if progress is not None:
        await progress(events, total)
    if anchor is not None and anchor.problem:
        return broken(anchor.problem, None, None)
    for name in sorted(anchored):
        seq = anchored[name][0]
        if name not in seen:
            return broken("the chain is gone", name, seq)
        if seen[name] < seq:
            return broken("the chain is behind its checkpoint", name, seq)
    return Verification(True, events, len(seen))
