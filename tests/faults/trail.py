"""An audit trail of its own for fault tests: a fresh database, the real app over ASGI, the real
``carework audit`` command line, and a checkpoint directory and key of its own.

The database belongs to the test, so it may do what an intruder with superuser rights would:
delete events, rewind chain heads, drop whole chains.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from carework.app import create_app
from carework.audit.chain import SHARED_CHAINS
from carework.config import Settings
from carework.db import migrate
from tests.factories import TokenMaker, World, make_nid, make_world
from tests.live import child_env, run_cli

DPS = "/api/v1/dps/plans"
NAV = "/api/v1/nav/plans"


def chain_of(request_id: str) -> str:
    """The shared chain a refused request's event goes to (``audit.chain.chain_for``)."""
    return f"shared-{hashlib.sha256(request_id.encode()).digest()[0] % SHARED_CHAINS}"


@dataclass
class Trail:
    url: str
    app: FastAPI
    client: httpx.AsyncClient
    world: World
    checkpoints: Path
    key_file: Path
    plans: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The command line's environment: this database, these checkpoints, this key."""
        return child_env(
            DATABASE_URL=self.url,
            CAREWORK_AUDIT_CHECKPOINT_DIR=str(self.checkpoints),
            CAREWORK_AUDIT_CHECKPOINT_KEY_FILE=str(self.key_file),
        )

    async def sql(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        async with self.app.state.engine.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [dict(r) for r in result.mappings().all()] if result.returns_rows else []

    async def seed(self, plans: int = 3) -> None:
        """Plans with goals, read by both sides, and refused calls (the shared chains)."""
        world, c = self.world, self.client
        for _ in range(plans):
            body = {"patient": {"nid": make_nid(), "name": "Ola"},
                    "nav_office": world.nav_office, "title": "Plan"}  # fmt: skip
            created = await c.post(DPS, json=body, headers=world.clinician.headers)
            assert created.status_code == 201, created.text
            self.plans.append(plan := created.json()["id"])
            await self.use(plan)

    async def use(self, plan: str, reads: int = 2) -> None:
        """More events on a plan's chain, and some on the shared chains."""
        world, c = self.world, self.client
        goal = await c.post(f"{DPS}/{plan}/goals", json={"domain": "treatment", "title": "Mål"},
                            headers=world.clinician.headers)  # fmt: skip
        assert goal.status_code == 201, goal.text
        for i in range(reads):
            actor, base = (world.clinician, DPS) if i % 2 == 0 else (world.advisor, NAV)
            assert (await c.get(f"{base}/{plan}", headers=actor.headers)).status_code == 200
        assert (await c.get(f"{DPS}/{plan}")).status_code == 401
        denied = await c.get(f"{DPS}/{plan}", headers=world.other_clinician.headers)
        assert denied.status_code == 404

    async def refuse_on(self, chain: str, times: int) -> None:
        """Refused calls whose request ids put their events on the shared ``chain``."""
        ids = (f"faults-{n}" for n in itertools.count())
        for request_id in itertools.islice((i for i in ids if chain_of(i) == chain), times):
            response = await self.client.get(
                f"{DPS}/{uuid.uuid4()}", headers={"X-Request-ID": request_id}
            )
            assert response.status_code == 401, response.text

    async def head(self, chain: str) -> tuple[int, str] | None:
        rows = await self.sql("SELECT seq, hash FROM audit_chain_head WHERE chain = :c", c=chain)
        return (rows[0]["seq"], rows[0]["hash"]) if rows else None

    async def cut_back(self, chain: str, keep: int) -> None:
        """What an intruder does to hide the newest events of a chain: delete them and set the
        head back to the last one kept. No hash needs recomputing."""
        await self.sql("DELETE FROM audit_event WHERE chain = :c AND seq > :k", c=chain, k=keep)
        await self.sql(
            "UPDATE audit_chain_head h SET seq = e.seq, hash = e.hash FROM audit_event e "
            "WHERE h.chain = :c AND e.chain = :c AND e.seq = :k",
            c=chain, k=keep,
        )  # fmt: skip

    async def drop_chain(self, chain: str) -> None:
        await self.sql("DELETE FROM audit_event WHERE chain = :c", c=chain)
        await self.sql("DELETE FROM audit_chain_head WHERE chain = :c", c=chain)

    async def checkpoint(self) -> dict[str, Any]:
        """``carework audit checkpoint``: its JSON summary, and the heads it holds (``heads``)."""
        result = await asyncio.to_thread(run_cli, "audit", "checkpoint", env=self.env)
        assert result.returncode == 0, result.stdout + result.stderr
        summary: dict[str, Any] = json.loads(result.stdout)
        document = json.loads((self.checkpoints / summary["file"]).read_text())
        summary["heads"] = {c: seq for c, (seq, _) in document["payload"]["chains"].items()}
        return summary

    async def verify_api(self) -> dict[str, Any]:
        """``GET /api/v1/audit/verify`` as the auditor: a fresh run's report."""
        response = await self.client.get("/api/v1/audit/verify", headers=self.world.auditor.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["run"]["state"] == "done", body  # the run this call started, not an old one
        return body

    async def verify_cli(self) -> tuple[int, dict[str, Any]]:
        """``carework audit verify``: exit code and its JSON report (the bar goes to stderr)."""
        result = await asyncio.to_thread(run_cli, "audit", "verify", env=self.env)
        assert result.returncode in (0, 1), result.stdout + result.stderr
        report: dict[str, Any] = json.loads(result.stdout)
        return result.returncode, report

    async def verify_both(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Both reports; they must agree on the verdict and on what broke."""
        api = await self.verify_api()
        code, cli = await self.verify_cli()
        assert code == (0 if cli["ok"] else 1), cli
        assert api["ok"] == cli["ok"], (api, cli)
        assert api["first_broken"] == cli["first_broken"], (api, cli)
        return api, cli


@contextlib.asynccontextmanager
async def own_trail(
    url: str, data_dir: Path, tokens: TokenMaker, root: Path
) -> AsyncIterator[Trail]:
    """A migrated database at ``url`` served by the app, with checkpoints under ``root``."""
    await asyncio.to_thread(migrate.upgrade, url)
    checkpoints, key_file = root / "checkpoints", root / "keys" / "checkpoint-key.pem"
    settings = Settings(
        database_url=url, dev_auth=True, data_dir=data_dir,  # the tests' dev key
        audit_checkpoint_dir=checkpoints, audit_checkpoint_key_file=key_file,
        audit_checkpoint_interval_seconds=0,  # checkpoints when the test says
        refusal_window_seconds=0,  # each refusal its own event: refuse_on fills a chain
    )  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://faults.test") as client:
            yield Trail(url, app, client, make_world(tokens), checkpoints, key_file)
