"""Consent: what health information the patient lets NAV see.

Recording consent is its own feature (grants, revocations, expiry); until it lands no consent
exists, so ``active_scopes`` is empty and NAV's view holds no treatment item. Every read path
already asks this function, so consent only has to answer here.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from carework.vocab import ConsentScope


async def active_scopes(session: AsyncSession, plan_id: uuid.UUID) -> frozenset[ConsentScope]:
    return frozenset()
