"""ETags and If-Match: an item's version is its strong entity tag, the same for every side."""

from __future__ import annotations

from carework.errors import PreconditionFailed

#: The versions an If-Match header names; a change goes through if the current one is among them.
Versions = frozenset[int]


def etag(version: int) -> str:
    return f'"{version}"'


def ensure_version(current: int, expected: Versions) -> None:
    if current not in expected:
        raise PreconditionFailed(
            "Someone changed this item since you read it. Read it again and reapply your change.",
            current_etag=etag(current),
        )
