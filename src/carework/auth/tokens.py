"""Verify bearer JWTs against the trusted issuers (PyJWT; asymmetric algorithms only)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from starlette.concurrency import run_in_threadpool

from carework.auth.dev_keys import load_or_create_dev_key
from carework.auth.principal import Principal
from carework.config import DEFAULT_AUDIENCE, DEV_ISSUER, Settings
from carework.errors import Unauthorized
from carework.nid import validate_nid
from carework.vocab import Role

# Never "none", never HS*: a shared secret cannot tell the issuer from a relying party.
ASYMMETRIC_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]
LEEWAY_SECONDS = 10
#: A verified token is remembered (by its exact text) for at most this long, and never past
#: its ``exp``: the signature check is the costliest step of a request and callers send the
#: same token for many requests. A key withdrawn from a JWKS stops working within this time.
CACHE_SECONDS = 60.0
CACHE_SIZE = 10_000


@dataclass
class _Issuer:
    audience: str
    key: Any = None
    jwks: jwt.PyJWKClient | None = None

    async def signing_key(self, token: str) -> Any:
        if self.jwks is None:
            return self.key
        # PyJWKClient caches keys; a fetch happens only for an unknown kid.
        signing = await run_in_threadpool(self.jwks.get_signing_key_from_jwt, token)
        return signing.key


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._issuers: dict[str, _Issuer] = {}
        for trusted in settings.trusted_issuers():
            if trusted.jwks_url:
                self._issuers[trusted.issuer] = _Issuer(
                    trusted.audience, jwks=jwt.PyJWKClient(trusted.jwks_url, lifespan=300)
                )
            else:
                assert trusted.public_key_file is not None
                key = serialization.load_pem_public_key(trusted.public_key_file.read_bytes())
                self._issuers[trusted.issuer] = _Issuer(trusted.audience, key=key)
        if settings.dev_auth_enabled:
            dev_key = load_or_create_dev_key(settings.dev_key_file).public_key()
            self._issuers[DEV_ISSUER] = _Issuer(DEFAULT_AUDIENCE, key=dev_key)

    async def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and now < cached[1]:
            return cached[0]
        principal, expires = await self._verify(token)
        if len(self._verified) >= CACHE_SIZE:  # drop the oldest half, not one per request
            for old in list(self._verified)[: CACHE_SIZE // 2]:
                del self._verified[old]
        self._verified[token] = (principal, min(expires, now + CACHE_SECONDS))
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("The bearer token is malformed.") from None
        if header.get("alg") not in ASYMMETRIC_ALGORITHMS:
            raise Unauthorized("The token's algorithm is not accepted.")
        issuer = self._issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise Unauthorized("The token's issuer is not trusted.")
        try:
            claims = jwt.decode(
                token,
                await issuer.signing_key(token),
                algorithms=ASYMMETRIC_ALGORITHMS,
                audience=issuer.audience,
                issuer=unverified["iss"],
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("The token is not valid yet.") from None
        except jwt.PyJWTError:
            raise Unauthorized("The token could not be verified.") from None
        return principal_from_claims(claims), float(claims["exp"])


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError:
        raise Unauthorized("The token carries no known role.") from None
    sub, name, org, pid = (claims.get(k) for k in ("sub", "name", "org", "pid"))
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise Unauthorized("The token's subject is missing or too long.")
    if role in (Role.clinician, Role.nav_advisor) and (not isinstance(org, str) or not org):
        raise Unauthorized("The token carries no organisation.")
    # The same bounds as the columns these claims are stored in (team, notes, plan units).
    if isinstance(org, str) and len(org) > 64:
        raise Unauthorized("The token's organisation is too long.")
    if isinstance(name, str) and len(name) > 200:
        raise Unauthorized("The token's name is too long.")
    if role is Role.patient:
        try:
            pid = validate_nid(pid) if isinstance(pid, str) else None
        except ValueError:
            pid = None
        if pid is None:
            raise Unauthorized("The patient token carries no valid national id.")
    return Principal(
        sub=sub,
        name=name if isinstance(name, str) and name else sub,
        role=role,
        org=org if isinstance(org, str) else None,
        pid=pid if role is Role.patient else None,
    )
