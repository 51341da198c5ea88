"""Bearer tokens: only asymmetric signatures from trusted issuers, with iss, aud, exp, nbf checked.

Every token here is really signed (or really forged) with real keys; nothing about verification
is mocked. A refused token is a 401 problem with ``WWW-Authenticate: Bearer`` and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm

from carework.app import create_app
from carework.auth.dev_keys import load_or_create_dev_key
from carework.config import DEFAULT_AUDIENCE, DEV_ISSUER, Settings, TrustedIssuer
from tests.factories import World, create_plan, unique

PLANS = "/api/v1/dps/plans"
DROP = object()  # a claim to leave out


# --- helpers -----------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict[str, Any]) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def claims_for(world: World, **changes: Any) -> dict[str, Any]:
    """Claims a clinician of the world's DPS unit would carry, with some changed or dropped."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "sub": unique("clinician"),
        "role": "clinician",
        "org": world.dps_unit,
        "name": "Mallory",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def public_pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge == "Bearer" or challenge.startswith("Bearer "), challenge
    problem = response.json()
    assert problem["status"] == 401
    assert problem["title"] == "Unauthorized"
    assert problem["type"].startswith("https://")
    assert problem["detail"]


def plan_body(world: World) -> dict[str, Any]:
    return {
        "patient": {"nid": world.nid, "name": "Ola Pasient"},
        "nav_office": world.nav_office,
        "title": "Tilbake i arbeid",
    }


async def plans_of_patient(client: httpx.AsyncClient, world: World) -> list[Any]:
    response = await client.post(
        f"{PLANS}/search", json={"nid": world.nid}, headers=world.clinician.headers
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


@dataclass
class Keys:
    dev: ec.EllipticCurvePrivateKey

    def sign(self, claims: dict[str, Any], **kwargs: Any) -> str:
        return jwt.encode(claims, self.dev, algorithm="ES256", **kwargs)


@pytest.fixture(scope="module")
def keys(settings: Settings) -> Keys:
    return Keys(dev=load_or_create_dev_key(settings.dev_key_file))


# --- the refused tokens ------------------------------------------------------------------------

Forge = Callable[[Keys, World], "str | None"]  # the Authorization header value, or none at all


def _spliced(keys: Keys, world: World) -> str:
    # A real signature over an out-of-scope clinician's claims, with our payload spliced in.
    header, _, signature = keys.sign(claims_for(world, org=unique("dps"))).split(".")
    _, payload, _ = keys.sign(claims_for(world)).split(".")
    return f"Bearer {header}.{payload}.{signature}"


def _edited(keys: Keys, world: World) -> str:
    # A patient's real token, its payload re-encoded as a clinician's; the signature kept.
    patient = claims_for(world, role="patient", pid=world.nid, org=DROP)
    header, _, signature = keys.sign(patient).split(".")
    return f"Bearer {header}.{segment(claims_for(world))}.{signature}"


def _alg_none(alg: str) -> Forge:
    def forge(keys: Keys, world: World) -> str:
        return f"Bearer {segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims_for(world))}."

    return forge


def _hs256_shared_secret(keys: Keys, world: World) -> str:
    return "Bearer " + jwt.encode(claims_for(world), "s" * 64, algorithm="HS256")


def _hs256_with_public_key(keys: Keys, world: World) -> str:
    # The classic key-confusion attack: HMAC keyed with the issuer's public key PEM, which any
    # verifier that lets the token pick its algorithm would accept.
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT'})}.{segment(claims_for(world))}"
    mac = hmac.new(public_pem(keys.dev), signing_input.encode(), hashlib.sha256).digest()
    return f"Bearer {signing_input}.{b64url(mac)}"


def _foreign_ec_key(keys: Keys, world: World) -> str:
    return "Bearer " + jwt.encode(
        claims_for(world), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"
    )


def _embedded_jwk(keys: Keys, world: World) -> str:
    # The attacker ships their own public key in the header; it must not be trusted.
    attacker = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    return "Bearer " + jwt.encode(
        claims_for(world), attacker, algorithm="ES256", headers={"jwk": jwk}
    )


def _signed(**changes: Any) -> Forge:
    def forge(keys: Keys, world: World) -> str:
        return "Bearer " + keys.sign(claims_for(world, **changes))

    return forge


def _expired(keys: Keys, world: World) -> str:
    long_ago = int(time.time()) - 7200
    claims = claims_for(world, iat=long_ago, nbf=long_ago, exp=long_ago + 3600)
    return "Bearer " + keys.sign(claims)


def _not_yet_valid(keys: Keys, world: World) -> str:
    return "Bearer " + keys.sign(claims_for(world, nbf=int(time.time()) + 3600))


# id -> (forge, a fragment of the problem's detail that names the reason, if it should)
REFUSED: dict[str, tuple[Forge, str]] = {
    "no Authorization header": (lambda keys, world: None, "required"),
    "Basic credentials": (
        lambda keys, world: "Basic " + base64.b64encode(b"kari:hemmelig").decode(),
        "required",
    ),
    "Bearer with no token": (lambda keys, world: "Bearer ", "required"),
    "malformed token": (lambda keys, world: "Bearer not-a-jwt", "malformed"),
    "three garbage segments": (lambda keys, world: "Bearer aaa.bbb.ccc", "malformed"),
    "expired": (_expired, "expired"),
    "nbf in the future": (_not_yet_valid, "not valid yet"),
    "wrong audience": (_signed(aud="someone-else"), "could not be verified"),
    "unknown issuer": (_signed(iss="https://idp.evil.example"), "issuer"),
    "no exp": (_signed(exp=DROP), "could not be verified"),
    "no aud": (_signed(aud=DROP), "could not be verified"),
    "no sub": (_signed(sub=DROP), "could not be verified"),
    "tampered: payload spliced": (_spliced, "could not be verified"),
    "tampered: payload edited": (_edited, "could not be verified"),
    "alg none": (_alg_none("none"), "algorithm"),
    "alg None": (_alg_none("None"), "algorithm"),
    "HS256 with a shared secret": (_hs256_shared_secret, "algorithm"),
    "HS256 keyed with the dev public key": (_hs256_with_public_key, "algorithm"),
    "other EC key claiming the dev issuer": (_foreign_ec_key, "could not be verified"),
    "attacker key embedded as jwk header": (_embedded_jwk, "could not be verified"),
    "missing role": (_signed(role=DROP), "role"),
    "unknown role": (_signed(role="admin"), "role"),
    "clinician without org": (_signed(org=DROP), "organisation"),
    "clinician with empty org": (_signed(org=""), "organisation"),
    "name longer than 200": (_signed(name="N" * 201), "name is too long"),
    "org longer than 64": (_signed(org="d" * 65), "organisation is too long"),
    "patient without pid": (_signed(role="patient", org=DROP), "national id"),
    "patient with invalid pid": (
        _signed(role="patient", org=DROP, pid="12345678901"),
        "national id",
    ),
}


@pytest.mark.parametrize(("forge", "reason"), REFUSED.values(), ids=REFUSED.keys())
async def test_refused_token_is_401_and_changes_nothing(
    client: httpx.AsyncClient, world: World, keys: Keys, forge: Forge, reason: str
) -> None:
    authorization = forge(keys, world)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await client.post(PLANS, json=plan_body(world), headers=headers)

    assert_unauthorized(response)
    # Refused for the reason the case is about, not by accident.
    assert reason in response.json()["detail"]
    assert await plans_of_patient(client, world) == []
    # The very same request with the world's real clinician token goes through.
    ok = await client.post(PLANS, json=plan_body(world), headers=world.clinician.headers)
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    "pid", [None, "12345678901", "0101", "abcdefghijk"], ids=["none", "bad", "short", "letters"]
)
async def test_patient_token_needs_a_valid_pid(
    client: httpx.AsyncClient, world: World, keys: Keys, pid: str | None
) -> None:
    await create_plan(client, world)
    own = await client.get("/api/v1/patient/plan", headers=world.patient.headers)
    assert own.status_code == 200, own.text

    claims = claims_for(world, role="patient", org=DROP, pid=DROP if pid is None else pid)
    response = await client.get(
        "/api/v1/patient/plan", headers={"Authorization": f"Bearer {keys.sign(claims)}"}
    )
    assert_unauthorized(response)


async def test_valid_dev_token_is_accepted(
    client: httpx.AsyncClient, world: World, keys: Keys
) -> None:
    assert (await client.get(PLANS, headers=world.clinician.headers)).status_code == 200
    # A hand-made token with the same key and the checked claims is just as good ...
    token = keys.sign(claims_for(world))
    response = await client.get(PLANS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    # ... and the scheme name is case-insensitive (RFC 7235).
    response = await client.get(PLANS, headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200, response.text


async def test_name_and_org_at_their_limits_are_accepted(
    client: httpx.AsyncClient, world: World, keys: Keys
) -> None:
    org = unique("d" * 55)  # 64 characters
    assert len(org) == 64
    token = keys.sign(claims_for(world, org=org, name="N" * 200))
    body = {**plan_body(world), "dps_unit": org}
    response = await client.post(PLANS, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    assert response.json()["team"][0]["name"] == "N" * 200


async def test_clock_skew_within_leeway_is_tolerated(
    client: httpx.AsyncClient, world: World, keys: Keys
) -> None:
    token = keys.sign(claims_for(world, nbf=int(time.time()) + 3))
    response = await client.get(PLANS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


# --- production issuers ------------------------------------------------------------------------

PROD_ISSUER = "https://helseid.example"
PROD_AUDIENCE = "carework-prod"


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
            yield c


def prod_claims(
    org: str, *, iss: str = PROD_ISSUER, aud: str = PROD_AUDIENCE, **extra: Any
) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": iss,
        "aud": aud,
        "sub": unique("helseid"),
        "role": "clinician",
        "org": org,
        "name": "Kari Klinikk",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        **extra,
    }


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_production_issuer_with_key_file(
    database_url: str,
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    world: World,
) -> None:
    pem = tmp_path / "helseid.pem"
    pem.write_bytes(public_pem(rsa_key))
    settings = Settings(
        database_url=database_url,
        dev_auth=False,
        data_dir=tmp_path,
        issuers=[TrustedIssuer(issuer=PROD_ISSUER, audience=PROD_AUDIENCE, public_key_file=pem)],
    )
    assert not settings.dev_auth_enabled

    async with running(settings) as client:
        token = jwt.encode(prod_claims(world.dps_unit), rsa_key, algorithm="RS256")
        bearer = {"Authorization": f"Bearer {token}"}
        created = await client.post(PLANS, json=plan_body(world), headers=bearer)
        assert created.status_code == 201, created.text
        listed = await client.get(PLANS, headers=bearer)
        assert [p["id"] for p in listed.json()["items"]] == [created.json()["id"]]

        # Dev auth is off: a perfectly good dev token is refused.
        assert_unauthorized(await client.get(PLANS, headers=world.clinician.headers))
        # The issuer's own audience is required, not the dev default.
        wrong_aud = jwt.encode(
            prod_claims(world.dps_unit, aud=DEFAULT_AUDIENCE), rsa_key, algorithm="RS256"
        )
        assert_unauthorized(
            await client.get(PLANS, headers={"Authorization": f"Bearer {wrong_aud}"})
        )
        # The production key does not vouch for the dev issuer's name.
        as_dev = jwt.encode(
            prod_claims(world.dps_unit, iss=DEV_ISSUER, aud=DEFAULT_AUDIENCE),
            rsa_key,
            algorithm="RS256",
        )
        assert_unauthorized(await client.get(PLANS, headers={"Authorization": f"Bearer {as_dev}"}))
        # Another RSA key claiming the production issuer is refused.
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(prod_claims(world.dps_unit), other, algorithm="RS256")
        assert_unauthorized(await client.get(PLANS, headers={"Authorization": f"Bearer {forged}"}))


class _JwksServer:
    """A real HTTP server on 127.0.0.1 that serves one JWKS document and counts fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.fetches = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jwks_key() -> Iterator[tuple[ec.EllipticCurvePrivateKey, _JwksServer]]:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    with _JwksServer({"keys": [{**jwk, "kid": "nav-2025", "alg": "ES256", "use": "sig"}]}) as srv:
        yield key, srv


async def test_production_issuer_with_jwks_url(
    database_url: str,
    tmp_path: Path,
    world: World,
    jwks_key: tuple[ec.EllipticCurvePrivateKey, _JwksServer],
) -> None:
    key, server = jwks_key
    issuer = "https://login.nav.example"
    settings = Settings(
        database_url=database_url,
        dev_auth=False,
        data_dir=tmp_path,
        issuers=[TrustedIssuer(issuer=issuer, audience=PROD_AUDIENCE, jwks_url=server.url)],
    )

    def token(signing_key: Any, kid: str) -> str:
        claims = prod_claims(world.nav_office, iss=issuer, role="nav_advisor")
        return jwt.encode(claims, signing_key, algorithm="ES256", headers={"kid": kid})

    async with running(settings) as client:
        good = {"Authorization": f"Bearer {token(key, 'nav-2025')}"}
        response = await client.get("/api/v1/nav/plans", headers=good)
        assert response.status_code == 200, response.text
        assert server.fetches >= 1  # the key really came from the JWKS endpoint

        unknown_kid = {"Authorization": f"Bearer {token(key, 'nav-1999')}"}
        assert_unauthorized(await client.get("/api/v1/nav/plans", headers=unknown_kid))

        impostor = ec.generate_private_key(ec.SECP256R1())
        known_kid_wrong_key = {"Authorization": f"Bearer {token(impostor, 'nav-2025')}"}
        assert_unauthorized(await client.get("/api/v1/nav/plans", headers=known_kid_wrong_key))

        assert_unauthorized(await client.get("/api/v1/nav/plans", headers=world.advisor.headers))


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DATABASE_URL": "postgresql://db.example/carework"}, False),
        ({"CAREWORK_DATABASE_URL": "postgresql://db.example/carework"}, False),
        ({}, True),
        ({"CAREWORK_DEV_AUTH": "1"}, True),
        ({"DATABASE_URL": "postgresql://db.example/carework", "CAREWORK_DEV_AUTH": "1"}, True),
        ({"CAREWORK_DEV_AUTH": "0"}, False),
    ],
    ids=["database-url", "carework-database-url", "embedded", "dev-on", "external+dev-on", "off"],
)
def test_dev_auth_default_follows_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], expected: bool
) -> None:
    for name in ("DATABASE_URL", "CAREWORK_DATABASE_URL", "CAREWORK_DEV_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CAREWORK_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert Settings().dev_auth_enabled is expected


@pytest.mark.parametrize(("dev_auth", "expected"), [(None, 401), ("1", 200)])
async def test_app_from_environment_trusts_dev_tokens_only_when_asked(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    settings: Settings,
    world: World,
    dev_auth: str | None,
    expected: int,
) -> None:
    # Same database, same data directory (so the same dev key): only dev auth differs.
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CAREWORK_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("CAREWORK_DATABASE_URL", raising=False)
    if dev_auth is None:
        monkeypatch.delenv("CAREWORK_DEV_AUTH", raising=False)
    else:
        monkeypatch.setenv("CAREWORK_DEV_AUTH", dev_auth)

    async with running(Settings()) as client:
        response = await client.get(PLANS, headers=world.clinician.headers)
    assert response.status_code == expected, response.text
    if expected == 401:
        assert_unauthorized(response)


# --- the verified-token cache -------------------------------------------------------------------


async def test_a_remembered_token_does_not_vouch_for_an_altered_one(
    client: httpx.AsyncClient, world: World, keys: Keys
) -> None:
    """The cache is keyed by the token's exact text: a token that passed once does not make a
    copy with another payload or signature pass."""
    token = keys.sign(claims_for(world))
    ok = await client.get(PLANS, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.text
    header, payload, signature = token.split(".")
    forged_payload = segment({**claims_for(world), "org": world.other_clinician.org})
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (f"{header}.{forged_payload}.{signature}", f"{header}.{payload}.{flipped}"):
        response = await client.get(PLANS, headers={"Authorization": f"Bearer {forged}"})
        assert_unauthorized(response)


async def test_a_token_is_remembered_no_longer_than_it_is_valid(settings: Settings) -> None:
    from carework.auth.tokens import CACHE_SECONDS, TokenVerifier
    from carework.errors import Unauthorized

    verifier = TokenVerifier(settings)
    key = load_or_create_dev_key(settings.dev_key_file)
    now = int(time.time())

    def sign(ttl: int) -> str:
        claims = {"iss": DEV_ISSUER, "aud": DEFAULT_AUDIENCE, "sub": unique("c"),
                  "role": "clinician", "org": "dps-x", "iat": now, "exp": now + ttl}  # fmt: skip
        return jwt.encode(claims, key, algorithm="ES256")

    short, long = sign(5), sign(3600)
    first = await verifier.verify(short)
    assert await verifier.verify(short) is first  # served from the cache
    assert verifier._verified[short][1] == now + 5  # never past exp
    await verifier.verify(long)
    assert verifier._verified[long][1] <= time.time() + CACHE_SECONDS  # and never long
    # Past its deadline the entry is not used: the token is checked again, in full.
    expired = sign(-60)
    verifier._verified[expired] = (first, time.time() - 1)
    with pytest.raises(Unauthorized):
        await verifier.verify(expired)
