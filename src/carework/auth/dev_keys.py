"""The dev issuer: a P-256 key kept in the data directory, for demos and tests only."""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from carework.config import DEFAULT_AUDIENCE, DEV_ISSUER
from carework.files import create_exclusively

DEV_ALGORITHM = "ES256"


def load_or_create_dev_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Create the key once, atomically, so concurrent first starts agree on one key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with contextlib.suppress(FileExistsError):  # another process won the race
            create_exclusively(path, pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} does not hold an EC private key")
    return key


def mint_dev_token(
    key_path: Path,
    *,
    role: str,
    sub: str,
    org: str | None,
    name: str,
    pid: str | None = None,
    ttl: int = 3600,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "sub": sub,
        "role": role,
        "name": name,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if org is not None:
        claims["org"] = org
    if pid is not None:
        claims["pid"] = pid
    return jwt.encode(claims, load_or_create_dev_key(key_path), algorithm=DEV_ALGORITHM)
