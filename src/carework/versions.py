"""ETags and If-Match: an item's version is its strong entity tag, the same for every side."""

from __future__ import annotations

from carework.errors import PreconditionFailed

#: The versions an If-Match header names; a change goes through if the current one is among them.
Versions = frozenset[int]

#: Versions are ``integer`` columns: no item ever reaches a larger one.
MAX_VERSION = 2**31 - 1


def version_of(tag: str) -> int | None:
    """The version a tag's digits name, or None if no item can have it: not plain ASCII digits
    (``str.isdigit`` also takes "²", which ``int`` refuses), or past ``MAX_VERSION``. Checked
    before ``int``: 5,000 digits make ``int`` raise, and a value past the column's range makes
    the database refuse the statement — each a 500 before this; now it simply matches nothing,
    a 412."""
    if not (0 < len(tag) <= len(str(MAX_VERSION)) and tag.isascii() and tag.isdigit()):
        return None
    version = int(tag)
    return version if version <= MAX_VERSION else None


def etag(version: int) -> str:
    return f'"{version}"'


def ensure_version(current: int, expected: Versions) -> None:
    if current not in expected:
        raise PreconditionFailed(
            "Someone changed this item since you read it. Read it again and reapply your change.",
            current_etag=etag(current),
        )
