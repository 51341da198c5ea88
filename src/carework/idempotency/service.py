"""Claim a key, replay a stored response, or store the first one."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from carework.auth.principal import Principal
from carework.errors import RuleViolation
from carework.models.idempotency import IdempotencyKey

TTL = timedelta(hours=24)
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


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise RuleViolation("Idempotency-Key must be 1 to 255 visible ASCII characters.")
    return key


async def claim(session: AsyncSession, owner: str, key: str, print_: str) -> StoredResponse | None:
    """Claim the key for this request, or return the response stored under it.

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
        return await claim(session, owner, key, print_)
    if row.fingerprint != print_:
        raise RuleViolation("This Idempotency-Key was used before with another request.")
    return StoredResponse(row.status, dict(row.headers or {}), row.body or b"", row.plan_id)


async def store(
    session: AsyncSession,
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
        .values(status=status, headers=headers, body=body, plan_id=plan_id)
    )
