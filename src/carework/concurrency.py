"""ETags and If-Match: an item's version is its strong entity tag, the same for every side."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from carework.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def if_match_version(
    if_match: Annotated[
        str | None,
        Header(description='The ETag you last read, e.g. `"3"`. Required on every change.'),
    ] = None,
) -> int:
    if if_match is None or not if_match.strip():
        raise PreconditionRequired("Send If-Match with the ETag you last read.")
    tags = [tag.strip() for tag in if_match.split(",")]
    if "*" in tags:
        raise PreconditionRequired("If-Match must name a version, not *.")
    for tag in tags:
        if tag.startswith('"') and tag.endswith('"') and tag[1:-1].isdigit():
            return int(tag[1:-1])
    raise PreconditionFailed("If-Match names no current version of this item.")


ExpectedVersion = Annotated[int, Depends(if_match_version)]


def ensure_version(current: int, expected: int) -> None:
    if current != expected:
        raise PreconditionFailed(
            "Someone changed this item since you read it. Read it again and reapply your change.",
            current_etag=etag(current),
        )
