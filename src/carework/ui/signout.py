"""Signing out ends the page session on the server, not only in the browser.

The cookie holds a signed token that stays valid until its ``exp``; deleting the cookie does not
stop a copy of it (a back button, a shared machine, a stolen cookie). Signing out records the
token's SHA-256 in ``ui_signed_out``, which every replica reads on every page request; the row
is purged once the token would have expired anyway (``purge_expired``, a housekeeping job).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.db.session import unit_of_work
from carework.models import UiSignedOut

log = logging.getLogger("carework.ui")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()


def _expiry(token: str, fallback: timedelta) -> datetime:
    """The token's own ``exp`` (already verified when it signed in); a token without one is
    kept for ``fallback``."""
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return datetime.fromtimestamp(float(claims["exp"]), UTC)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC) + fallback


async def sign_out(session: AsyncSession, token: str, *, fallback: timedelta) -> None:
    """Refuse this token for the pages from now on, on every replica."""
    await session.execute(
        insert(UiSignedOut)
        .values(token_hash=token_hash(token), expires_at=_expiry(token, fallback))
        .on_conflict_do_nothing()
    )


async def is_signed_out(session: AsyncSession, token: str) -> bool:
    found = await session.scalar(
        select(UiSignedOut.token_hash).where(UiSignedOut.token_hash == token_hash(token))
    )
    return found is not None


async def purge_expired(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Forget sign-outs whose tokens have expired (the verifier refuses those by itself)."""
    async with unit_of_work(sessionmaker) as session:
        result: Any = await session.execute(
            delete(UiSignedOut).where(UiSignedOut.expires_at < func.now())
        )
        purged: int = result.rowcount
    if purged:
        log.info("purged %d expired page sign-outs", purged)
    return purged
