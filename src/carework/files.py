"""Files carework writes beside the database: signing keys, sealing secrets, checkpoints."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_exclusively(path: Path, data: bytes) -> None:
    """Write ``data`` under ``path`` (mode 0600), whole or not at all, and durably.

    Written to a temporary file and fsynced, then hard-linked to its name: the link fails with
    ``FileExistsError`` if the name exists, so nothing is ever replaced, and nobody reads a
    half-written file. Workers that start together and each create a key this way agree on
    the one that won.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
