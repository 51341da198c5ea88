"""Test data: valid national ids, unique organisations, tokens and plans."""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from carework.auth.dev_keys import mint_dev_token

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_serial = itertools.count(random.SystemRandom().randrange(0, 400))


def _check(digits: str, weights: tuple[int, ...]) -> int | None:
    k = 11 - sum(w * int(d) for w, d in zip(weights, digits, strict=False)) % 11
    return {11: 0, 10: None}.get(k, k)


def make_nid(*, d_number: bool = False) -> str:
    """A fresh valid fødselsnummer (or D-nummer), born between 1950 and 1999."""
    while True:
        n = next(_serial)
        born = date(1950, 1, 1) + timedelta(days=(n * 37) % 18000)
        day = born.day + (40 if d_number else 0)
        individual = 100 + (n % 400)  # 100-499: born 1900-1999
        base = f"{day:02d}{born.month:02d}{born.year % 100:02d}{individual:03d}"
        k1 = _check(base, _W1)
        if k1 is None:
            continue
        k2 = _check(base + str(k1), _W2)
        if k2 is None:
            continue
        return f"{base}{k1}{k2}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Actor:
    role: str
    sub: str
    name: str
    org: str | None
    pid: str | None = None
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class TokenMaker:
    key_file: Path

    def actor(
        self,
        role: str,
        *,
        org: str | None = None,
        pid: str | None = None,
        name: str | None = None,
        sub: str | None = None,
        ttl: int = 3600,
    ) -> Actor:
        sub = sub or unique(role)
        name = name or f"{role.replace('_', ' ').title()} {sub[-4:]}"
        token = mint_dev_token(
            self.key_file, role=role, sub=sub, org=org, name=name, pid=pid, ttl=ttl
        )
        return Actor(role=role, sub=sub, name=name, org=org, pid=pid, token=token)


@dataclass
class World:
    """A fresh DPS unit, NAV office and patient per test, plus outsiders in other orgs."""

    clinician: Actor
    advisor: Actor
    patient: Actor
    auditor: Actor
    other_clinician: Actor
    other_advisor: Actor
    other_patient: Actor
    nid: str
    dps_unit: str
    nav_office: str
    plans: list[str] = field(default_factory=list)


def make_world(tokens: TokenMaker) -> World:
    dps, nav = unique("dps"), unique("nav")
    nid = make_nid()
    return World(
        clinician=tokens.actor("clinician", org=dps, name="Kari Klinikk"),
        advisor=tokens.actor("nav_advisor", org=nav, name="Nils Veileder"),
        patient=tokens.actor("patient", pid=nid, name="Ola Pasient"),
        auditor=tokens.actor("auditor", org="helsetilsynet"),
        other_clinician=tokens.actor("clinician", org=unique("dps"), name="Outside Clinician"),
        other_advisor=tokens.actor("nav_advisor", org=unique("nav"), name="Outside Advisor"),
        other_patient=tokens.actor("patient", pid=make_nid(), name="Other Patient"),
        nid=nid,
        dps_unit=dps,
        nav_office=nav,
    )


async def create_plan(
    client: httpx.AsyncClient, world: World, *, status: str = "active", **extra: Any
) -> dict[str, Any]:
    body = {
        "patient": {"nid": world.nid, "name": "Ola Pasient"},
        "nav_office": world.nav_office,
        "title": "Tilbake i arbeid",
        "status": status,
        **extra,
    }
    response = await client.post("/api/v1/dps/plans", json=body, headers=world.clinician.headers)
    assert response.status_code == 201, response.text
    plan: dict[str, Any] = response.json()
    world.plans.append(plan["id"])
    return plan
