"""Stored responses are sealed: an idempotent answer kept for a retry holds patient data (a
plan's view names the patient's national id), so the table keeps it encrypted, with a key that
is not in the database.

- The body is AES-256-GCM encrypted, with the owner (role and sub) and the Idempotency-Key as
  associated data: a row copied to another caller, or to another key, does not open.
- The request's fingerprint is an HMAC, not a bare SHA-256: a hash of a request body that
  names a national id could otherwise be matched against guessed numbers.

Both keys are derived (HKDF) from one secret in a file outside the database,
``CAREWORK_IDEMPOTENCY_KEY_FILE`` (default ``DATA_DIR/idempotency-key``): 32 random bytes,
base64, created mode 0600 on the first start that finds none. Every process and replica that
serves the same database must read the same file; one that made its own cannot open the others'
rows (the retry is refused, ``service.StoredResponseUnreadable``) and its fingerprints do not
match theirs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carework.files import create_exclusively

log = logging.getLogger("carework.idempotency")

SECRET_BYTES = 32
#: The first byte of a sealed body: the format, so a later one can be told apart.
_FORMAT = b"\x01"
_NONCE_BYTES = 12


def _framed(*parts: bytes) -> bytes:
    """Each part with its length before it: no two different lists frame alike."""
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def _derived(secret: bytes, purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"carework " + purpose)
    return hkdf.derive(secret)


@dataclass(frozen=True, slots=True, repr=False)
class ResponseSeal:
    """Seals and opens stored responses, and fingerprints requests, with keys derived from
    one secret. (No ``repr``: the keys must not reach a log line.)"""

    _body_key: AESGCM
    _print_key: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> ResponseSeal:
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"the idempotency secret must be {SECRET_BYTES} bytes")
        return cls(AESGCM(_derived(secret, b"idempotent body")),
                   _derived(secret, b"idempotent fingerprint"))  # fmt: skip

    def fingerprint(self, method: str, path: str, body: bytes) -> str:
        """What a retry must repeat exactly: method, path and body (64 hex digits)."""
        framed = _framed(method.encode(), path.encode(), body)
        return hmac.new(self._print_key, framed, hashlib.sha256).hexdigest()

    def seal(self, owner: str, key: str, body: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._body_key.encrypt(nonce, body, _framed(owner.encode(), key.encode()))
        return _FORMAT + nonce + sealed

    def open(self, owner: str, key: str, sealed: bytes) -> bytes | None:
        """The body, or ``None`` if it cannot be opened: sealed with another secret, stored
        before bodies were sealed, or moved to another owner or key."""
        if sealed[:1] != _FORMAT:
            return None
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._body_key.decrypt(nonce, ciphertext, _framed(owner.encode(), key.encode()))
        except (InvalidTag, ValueError):
            return None


def load_or_create_secret(path: Path) -> bytes:
    """The secret in ``path``; created (mode 0600) if there is none yet, atomically, so that
    workers starting together agree on one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = base64.b64encode(secrets.token_bytes(SECRET_BYTES)) + b"\n"
        try:
            create_exclusively(path, text)
        except FileExistsError:
            pass  # another process won the race; theirs stands
        else:
            log.info(
                "created the idempotency key file %s: every process and replica serving this"
                " database must read this same file",
                path,
            )
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the idempotency key file %s is readable by others; make it 0600", path)
    try:
        secret = base64.b64decode(path.read_bytes().strip(), validate=True)
    except ValueError:
        raise ValueError(f"{path} does not hold a base64 idempotency key") from None
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"{path} must hold {SECRET_BYTES} bytes (base64), not {len(secret)}")
    return secret


def load_seal(path: Path) -> ResponseSeal:
    return ResponseSeal.from_secret(load_or_create_secret(path))
