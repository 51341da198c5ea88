"""Audit checkpoints: every chain's head and the event count, signed, kept outside the database.

Inside the database nothing tells a rewound chain from a real one: delete a chain's newest
events and set its head row back (no hash needs recomputing), or delete a chain with its head,
and every remaining link still verifies. A checkpoint remembers how far each chain had got, so
``chain.verify`` reports a chain that is now behind it, or gone.

A checkpoint is one file, written once: ``checkpoint-<UTC time>-<random>.json`` (names sort by
time), created 0600 in a 0700 directory under a name no other file has (a hard link from a
finished temporary file: never overwritten, never seen half-written). It is signed with an
Ed25519 key kept beside it, not in the database, created 0600 on first use. Only the newest
checkpoint is checked: everything older is implied by it while the chains are intact.

What it does not stop: someone holding the key can sign a checkpoint of a shortened trail, and
someone able to delete files can remove the newest checkpoint, rolling the anchor back to the
one before. Hence the directory and the key belong on another host, the directory on
append-only (WORM) storage (``docs/operations/audit-checkpoints.md``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.config import Settings
from carework.files import create_exclusively
from carework.models.audit import AuditChainHead, AuditEvent

FORMAT = "carework-audit-checkpoint/1"
GLOB = "checkpoint-*.json"
_NAME = re.compile(r"^checkpoint-(\d{8}T\d{12})Z-[0-9a-f]{8}\.json$")
_NAME_TIME = "%Y%m%dT%H%M%S%f"
#: Held (try-lock) by whoever writes the service's periodic checkpoint, across processes.
ADVISORY_LOCK = int.from_bytes(hashlib.sha256(b"carework:audit-checkpoint").digest()[:8], "big",
                               signed=True)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Location:
    """Where checkpoints and their key live: outside the database."""

    directory: Path
    key_file: Path

    @classmethod
    def of(cls, settings: Settings) -> Location:
        return cls(settings.checkpoint_dir, settings.checkpoint_key_file)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    created_at: datetime
    events: int
    #: chain → (seq, hash) of its newest event.
    chains: Mapping[str, tuple[int, str]]

    def payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "created_at": self.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "events": self.events,
            "chains": {chain: [seq, digest] for chain, (seq, digest) in self.chains.items()},
        }


@dataclass(frozen=True, slots=True)
class Anchor:
    """The newest checkpoint as ``verify`` finds it: usable, unusable (why), or none at all."""

    file: str | None = None
    checkpoint: Checkpoint | None = None
    problem: str | None = None

    def summary(self) -> dict[str, Any]:
        if self.file is None:
            return {"state": "none", "detail": "no checkpoint has been written yet",
                    "file": None, "created_at": None, "events": None, "chains": None}  # fmt: skip
        cp = self.checkpoint
        return {
            "state": "unusable" if self.problem else "checked",
            "detail": self.problem or "the newest checkpoint's signature verifies",
            "file": self.file,
            "created_at": cp.created_at.isoformat() if cp else None,
            "events": cp.events if cp else None,
            "chains": len(cp.chains) if cp else None,
        }


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _private_directory(directory: Path) -> None:
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # whatever the umask made of it


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key, created once (0600); concurrent first writers agree on one key."""
    if not path.exists():
        _private_directory(path.parent)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with contextlib.suppress(FileExistsError):  # another process won the race; theirs stands
            create_exclusively(path, pem)
    key = load_key(path)
    assert key is not None
    return key


def load_key(path: Path) -> Ed25519PrivateKey | None:
    """The key if its file exists (verification never creates one)."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        return None
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path.name} does not hold an Ed25519 private key")
    return key


def key_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


async def snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> Checkpoint:
    """Every head and the event count as of one moment (REPEATABLE READ: an append committing
    between the reads cannot make the count and the heads disagree)."""
    async with sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return await _read(session)


async def _read(session: AsyncSession) -> Checkpoint:
    # The first statement takes the snapshot; its clock is the checkpoint's time.
    created_at = (await session.execute(select(func.clock_timestamp()))).scalar_one()
    heads = select(AuditChainHead.chain, AuditChainHead.seq, AuditChainHead.hash)
    chains = {chain: (seq, digest) for chain, seq, digest in await session.execute(heads)}
    events = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    return Checkpoint(created_at=created_at, events=events, chains=chains)


def write(checkpoint: Checkpoint, location: Location) -> Path:
    """Sign ``checkpoint`` and add it to the directory as a new file."""
    key = load_or_create_key(location.key_file)
    payload = checkpoint.payload()
    document = {
        "payload": payload,
        "key_id": key_id(key),
        "signature": base64.b64encode(key.sign(_canonical(payload))).decode(),
    }
    _private_directory(location.directory)
    stamp = checkpoint.created_at.astimezone(UTC).strftime(_NAME_TIME)
    path = location.directory / f"checkpoint-{stamp}Z-{secrets.token_hex(4)}.json"
    create_exclusively(path, json.dumps(document, separators=(",", ":")).encode())
    return path


async def take(sessionmaker: async_sessionmaker[AsyncSession], location: Location) -> Path:
    """Read a snapshot and write it: ``carework audit checkpoint``."""
    return write(await snapshot(sessionmaker), location)


def _name_time(name: str) -> datetime | None:
    match = _NAME.match(name)
    return datetime.strptime(match[1], _NAME_TIME).replace(tzinfo=UTC) if match else None


async def take_periodic(
    sessionmaker: async_sessionmaker[AsyncSession], location: Location, interval: float
) -> Path | None:
    """One round of the service's job. Every worker of every replica runs it; one writes.

    A PostgreSQL advisory try-lock, held for the snapshot's transaction, lets one writer in at a
    time (the others skip their round), and a round finding a checkpoint younger than half an
    interval in the directory skips too: replicas sharing a directory then write about one per
    interval between them, not one each. (A name dated in the future does not count as young:
    a planted file must not stop the checkpoints.)
    """
    async with sessionmaker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK}
        )
        if not locked:
            return None
        checkpoint = await _read(session)
        if (newest := _newest_file(location.directory)) is not None:
            written = _name_time(newest.name)
            age = checkpoint.created_at - written if written else None
            if age is not None and timedelta(0) <= age < timedelta(seconds=interval / 2):
                return None
        return await asyncio.to_thread(write, checkpoint, location)


def _newest_file(directory: Path) -> Path | None:
    try:
        return max(directory.glob(GLOB), key=lambda path: path.name, default=None)
    except FileNotFoundError:
        return None


def newest(location: Location) -> Anchor:
    """The newest checkpoint, its signature checked. A bad or missing signature, an unreadable
    file, or a missing key make it unusable, and ``verify`` reports that as broken."""
    path = _newest_file(location.directory)
    if path is None:
        return Anchor()
    try:
        document = json.loads(path.read_bytes())
        payload = document["payload"]
        signature = base64.b64decode(document["signature"], validate=True)
        checkpoint = _parse(payload)
    except (OSError, ValueError, KeyError, TypeError):
        return Anchor(path.name, problem="the newest checkpoint cannot be read")
    try:
        key = load_key(location.key_file)
    except ValueError:
        key = None
    if key is None:
        return Anchor(
            path.name, checkpoint, "the checkpoint key is missing or unreadable, so the newest "
            "checkpoint cannot be checked",
        )  # fmt: skip
    try:
        key.public_key().verify(signature, _canonical(payload))
    except InvalidSignature:
        return Anchor(path.name, checkpoint, "the newest checkpoint's signature does not verify")
    return Anchor(path.name, checkpoint)


def _parse(payload: Any) -> Checkpoint:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError("not a checkpoint")
    chains = payload["chains"]
    if not isinstance(chains, dict):
        raise TypeError("chains")
    heads: dict[str, tuple[int, str]] = {}
    for chain, (seq, digest) in chains.items():
        if not isinstance(seq, int) or not isinstance(digest, str):
            raise TypeError("chain head")
        heads[chain] = (seq, digest)
    events = payload["events"]
    if not isinstance(events, int):
        raise TypeError("events")
    return Checkpoint(datetime.fromisoformat(payload["created_at"]), events, heads)
