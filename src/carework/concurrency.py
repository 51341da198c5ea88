"""ETags and If-Match: an item's version is its strong entity tag, the same for every side."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from carework.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


#: The versions an If-Match header names; a change goes through if the current one is among them.
Versions = frozenset[int]


# async although it awaits nothing: FastAPI runs a plain ``def`` dependency in a thread pool,
# a thread hand-off on every write.
async def if_match_versions(
    if_match: Annotated[
        str | None,
        Header(description='The ETag you last read, e.g. `"3"`. Required on every change.'),
    ] = None,
) -> Versions:
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("Send If-Match with the ETag you last read.")
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags:
        raise PreconditionRequired("If-Match must name a version, not *.")
    # Weak tags (W/"3") never match: If-Match uses strong comparison (RFC 9110 13.1.1).
    return frozenset(
        int(tag[1:-1])
        for tag in tags
        # isascii too: str.isdigit() is true for "²", which int() refuses (a 500 otherwise).
        if tag.startswith('"') and tag.endswith('"') and tag[1:-1].isascii() and tag[1:-1].isdigit()
    )


ExpectedVersion = Annotated[Versions, Depends(if_match_versions)]


def ensure_version(current: int, expected: Versions) -> None:
    if current not in expected:
        raise PreconditionFailed(
            "Someone changed this item since you read it. Read it again and reapply your change.",
            current_etag=etag(current),
        )
