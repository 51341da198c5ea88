"""Claim a key, replay a stored response, or store the first one; and forget expired keys."""

from __future__ import annotations

import functools
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Delete, Integer, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.auth.principal import Principal
from carework.db.session import unit_of_work
from carework.errors import Conflict, RuleViolation
from carework.idempotency.sealing import ResponseSeal
from carework.models.idempotency import IdempotencyKey

log = logging.getLogger("carework.idempotency")

TTL = timedelta(hours=24)
#: Rows deleted per transaction by ``purge_expired``: short transactions, short row locks.
PURGE_BATCH = 1000
#: Response headers worth replaying; the rest (date, request id) belong to the retry.
REPLAYED_HEADERS = ("content-type", "location", "etag")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    plan_id: uuid.UUID | None


def owner_of(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.sub}"[:200]


class StoredResponseUnreadable(Conflict):
    """The first request under this key succeeded, but its stored answer no longer opens:
    the key file was replaced (or differs between replicas), or the row was stored before
    answers were sealed.

    409, and not a second run of the request: the first one was carried out, and running it
    again (as if the key had expired) could do it twice — a second goal, a second plan. Not
    422 either: the request is not at fault, the key's state is. The caller reads the result
    (``location`` names it when the first answer had one) or sends a new key on purpose."""

    slug = "idempotency-key-unreadable"


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise RuleViolation("Idempotency-Key must be 1 to 255 visible ASCII characters.")
    return key


async def claim(
    session: AsyncSession, seal: ResponseSeal, owner: str, key: str, print_: str
) -> StoredResponse | None:
    """Claim the key for this request, or return the response stored under it (opened).

    ``None`` means the claim is ours: go on and ``store`` the response before committing.
    """
    # An expired key is forgotten first, so it can be claimed anew.
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.owner == owner,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < func.now() - TTL,
        )
    )
    claimed = await session.scalar(
        insert(IdempotencyKey)
        .values(owner=owner, key=key, fingerprint=print_)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if claimed is not None:
        return None
    # Someone else holds it, and their transaction has ended (the insert waited for that).
    row = await session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    )
    if row is None or row.status is None:  # vanished (expired meanwhile): our own claim again
        return await claim(session, seal, owner, key, print_)
    headers = dict(row.headers or {})
    body = seal.open(owner, key, row.body or b"")
    if body is None:  # before the fingerprint: another secret makes other fingerprints too
        location = {"location": headers["location"]} if "location" in headers else {}
        raise StoredResponseUnreadable(
            "A request with this Idempotency-Key succeeded before, but its stored answer can "
            "no longer be read. Read the result instead of repeating the request, or send it "
            "with a new Idempotency-Key.",
            **location,
        )
    if row.fingerprint != print_:
        raise RuleViolation("This Idempotency-Key was used before with another request.")
    return StoredResponse(row.status, headers, body, row.plan_id)


async def store(
    session: AsyncSession,
    seal: ResponseSeal,
    owner: str,
    key: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    plan_id: uuid.UUID | None,
) -> None:
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == owner, IdempotencyKey.key == key)
        .values(status=status, headers=headers, body=seal.seal(owner, key, body), plan_id=plan_id)
    )


@functools.cache
def _purge_batch() -> Delete:
    """Up to ``batch`` expired keys; rows a request holds right now (claiming an expired key
    anew) are skipped, not waited for, and a purge running on another replica takes others."""
    expired = (
        select(IdempotencyKey.owner, IdempotencyKey.key)
        .where(IdempotencyKey.created_at < func.now() - TTL)
        .limit(bindparam("batch", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    return delete(IdempotencyKey).where(
        tuple_(IdempotencyKey.owner, IdempotencyKey.key).in_(expired)
    )


async def purge_expired(
    sessionmaker: async_sessionmaker[AsyncSession], *, batch: int = PURGE_BATCH
) -> int:
    """Delete every key older than ``TTL``, ``batch`` rows per transaction, with no caller
    involved: a stored answer (a plan's view, a national id in it) is kept only as long as a
    retry may need it. The housekeeping job of every server process runs it
    (``CAREWORK_IDEMPOTENCY_PURGE_INTERVAL_SECONDS``); the index on ``created_at`` finds the
    rows. Returns how many went."""
    purged = 0
    while True:
        async with unit_of_work(sessionmaker) as session:
            result: Any = await session.execute(_purge_batch(), {"batch": batch})
            deleted: int = result.rowcount
        purged += deleted
        if deleted < batch:
            if purged:
                log.info("purged %d expired idempotency keys", purged)
            return purged
