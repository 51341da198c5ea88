# ruff: noqa: S603  (subprocesses here run our own argv: wrk, apt-get, carework, uvicorn)
"""``python -m bench``: seed, start the service and the floor, load both A B A B, report."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx

from bench import seed, wrk
from carework.auth.dev_keys import mint_dev_token
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results")
CAREWORK = str(Path(sys.executable).with_name("carework"))
READY_TIMEOUT = 90.0

TARGETS = {
    "read_ratio": ">= 0.6",
    "read_p99_ratio": "<= 2 (the service's read p99 against the floor's)",
    "nav_vs_clinician": "NAV view within 10 % of the clinician view",
    "write_ratio": ">= 0.5",
    "audit_growth": "flat write latency across audit sizes (p50 at the largest table over p50 "
    "at the smallest: <= 1.25, or no more than the floor's own growth + 10 %)",
}


def targets_met(results: dict[str, Any]) -> dict[str, bool | None]:
    """Each target of ``TARGETS``, met or not (None: not measured in this run)."""

    def check(key: str, ok: Any) -> bool | None:
        return None if results.get(key) is None else bool(ok(results[key]))

    growth = results.get("audit_growth")
    return {
        "read_ratio": check("read_ratio", lambda r: r >= 0.6),
        "read_p99_ratio": check("read_p99_ratio", lambda r: r <= 2),
        "nav_vs_clinician": check("nav_vs_clinician", lambda r: r >= 0.9),
        "write_ratio": check("write_ratio", lambda r: r >= 0.5),
        "audit_growth": None
        if growth is None
        else growth["service"] <= max(1.25, growth["floor"] * 1.1),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="small data, short runs (CI)")
    ap.add_argument("--plans", type=int, help="plans (patients); default 10000, smoke 200")
    ap.add_argument(
        "--audit-events", type=int, help="audit table size; default 1000000, smoke 20000"
    )
    ap.add_argument("--duration", type=float, help="seconds per wrk run; default 10, smoke 2")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rounds", type=int, help="A B pairs per scenario; default 2, smoke 1")
    ap.add_argument("--audit-10m", action="store_true", help="also write latency at 10^7 events")
    ap.add_argument("--skip-verify", action="store_true", help="do not time `audit verify`")
    ap.add_argument("--out", type=Path, help="results file (default bench/results/latest.json)")
    ap.add_argument(
        "--only", help="comma-separated scenario names to run (for iterating; skips the rest)"
    )
    args = ap.parse_args(argv)
    small = args.smoke
    args.plans = args.plans or (200 if small else 10_000)
    args.audit_events = args.audit_events or (20_000 if small else 1_000_000)
    args.duration = args.duration or (2.0 if small else 10.0)
    args.rounds = args.rounds or (1 if small else 2)
    args.out = args.out or RESULTS / ("smoke.json" if small else "latest.json")
    args.only = frozenset(args.only.split(",")) if args.only else None
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Scenario(NamedTuple):
    """One load: ``reads`` (or only writes), the URL prefix, one write every ``write_every``."""

    name: str
    reads: Path | None
    prefix: str
    write_every: int


class Server:
    """A server process in its own session (so its workers can be stopped with it)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.port, self.log = name, free_port(), log
        self.base_url = f"http://127.0.0.1:{self.port}"
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/healthz").status_code == 200:
                        return
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, url: str) -> None:
        self.args, self.tmp, self.url = args, tmp, url
        self.wrk = wrk.ensure_wrk()
        self.results: dict[str, Any] = {"scenarios": {}, "growth": {}, "notes": []}
        self.servers: dict[str, Server] = {}
        self.files = tmp / "files"
        self.files.mkdir()
        # Growth points only need a latency reading: half length in smoke mode.
        self.growth_s = max(1.0, args.duration / 2) if args.smoke else args.duration

    # --- data files for the Lua script --------------------------------------------------

    def write_tokens(self) -> None:
        key = self.tmp / "dev-signing-key.pem"
        lines = []
        for unit in range(seed.DPS_UNITS):  # tokens 1..DPS_UNITS: one clinician per unit
            lines.append(
                mint_dev_token(key, role="clinician", sub=f"clin-{unit}", org=seed.dps_unit(unit),
                               name=f"Clinician {unit}", ttl=86_400)
            )  # fmt: skip
        for office in range(seed.NAV_OFFICES):  # then one advisor per office
            lines.append(
                mint_dev_token(key, role="nav_advisor", sub=f"nav-{office}",
                               org=seed.nav_office(office), name=f"Advisor {office}", ttl=86_400)
            )  # fmt: skip
        (self.files / "tokens.txt").write_text("\n".join(lines) + "\n")

    def write_reads(self, name: str, numbers: list[int], side: str) -> Path:
        path = self.files / f"{name}.txt"
        rows = []
        for n in numbers:
            token = (
                n % seed.DPS_UNITS + 1
                if side == "dps"
                else seed.DPS_UNITS + n % seed.NAV_OFFICES + 1
            )
            rows.append(f"{seed.plan_uuid(n)} {token}")
        path.write_text("\n".join(rows) + "\n")
        return path

    async def write_goals(self) -> Path:
        """Treatment goals the clinicians own, with their current versions (re-read before
        every write run: the previous run moved them on)."""
        await asyncio.sleep(1.0)  # requests still in flight when wrk stopped must commit first
        conn = await asyncpg.connect(self.url)
        try:
            rows = await conn.fetch(
                "SELECT g.plan_id, g.id, g.version, p.dps_unit FROM goal g "
                "JOIN plan p ON p.id = g.plan_id "
                "WHERE g.domain = 'treatment' AND p.title LIKE 'Plan for patient %' "
                "ORDER BY g.id LIMIT 20000"
            )
        finally:
            await conn.close()
        path = self.files / "goals.txt"
        lines = [
            f"{r['plan_id']} {r['id']} {int(r['dps_unit'].rsplit('-', 1)[1]) + 1} {r['version']}"
            for r in rows
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    # --- servers ----------------------------------------------------------------------------

    def start_servers(self) -> None:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CAREWORK_", "BENCH_")) and k != "DATABASE_URL"
        }
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
        # The rate limiter runs and counts every request (its cost is measured), but one
        # token drives each scenario at hundreds a second: its limit must not be what is hit.
        service_env = {
            **base, "DATABASE_URL": self.url, "CAREWORK_DEV_AUTH": "1",
            "CAREWORK_DATA_DIR": str(self.tmp), "CAREWORK_RATE_LIMIT": "100000000/minute",
        }  # fmt: skip
        floor_env = {
            **base, "BENCH_FLOOR_DSN": self.url,
            "BENCH_FLOOR_KEY": str(self.tmp / "dev-signing-key.pem"),
        }  # fmt: skip
        self.servers["service"] = Server(
            "carework",
            [CAREWORK, "serve", "--host", "127.0.0.1", "--port", "{port}", "--workers", "2"],
            service_env,
            self.tmp / "service.log",
        )
        self.servers["floor"] = Server(
            "floor",
            [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1",
             "--port", "{port}", "--workers", "2", "--no-access-log", "--log-level", "warning"],
            floor_env,
            self.tmp / "floor.log",
        )  # fmt: skip
        for server in self.servers.values():
            server.wait_ready()

    def stop_servers(self) -> None:
        for server in self.servers.values():
            server.stop()

    def check_shapes(self) -> None:
        """Same JSON shape from both (keys, recursively), or say where they differ."""
        token = (self.files / "tokens.txt").read_text().split()[1]  # clinician of unit 1
        path = f"/api/v1/dps/plans/{seed.plan_uuid(1)}"
        bodies = {}
        for name, server in self.servers.items():
            response = httpx.get(
                server.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            if response.status_code != 200:
                raise RuntimeError(f"{name}: GET {path} -> {response.status_code} {response.text}")
            bodies[name] = response.json()
        diffs = _shape_diff(bodies["service"], bodies["floor"], "$")
        if diffs:
            self.results["notes"].append(f"JSON shape differs: {diffs[:5]}")
            print("WARNING: plan view shapes differ:", diffs[:5])
        self.results["shape_check"] = "same keys" if not diffs else diffs[:5]

    # --- load -------------------------------------------------------------------------------

    async def pair(
        self,
        name: str,
        *,
        reads: Path | None,
        prefix: str,
        write_every: int,
        duration: float | None = None,
        into: str = "scenarios",
    ) -> dict[str, Any]:
        """Service and floor, A B A B: the same load, interleaved so noise hits both."""
        scenario = Scenario(name, reads, prefix, write_every)
        entries = await self.interleaved([scenario], duration=duration, into=into)
        return entries.get(name, {})

    async def interleaved(
        self, scenarios: list[Scenario], *, duration: float | None = None, into: str = "scenarios"
    ) -> dict[str, dict[str, Any]]:
        """Each round runs every scenario on the service, then on the floor, before the next
        round: scenarios compared with each other (the NAV and the clinician view) see the
        same moments of the machine, as each service run sees the same as its floor run."""
        only = self.args.only
        scenarios = [
            s for s in scenarios if only is None or any(s.name.startswith(o) for o in only)
        ]
        runs = {s.name: {"service": [], "floor": []} for s in scenarios}
        for _ in range(self.args.rounds):
            for scenario in scenarios:
                for target in ("service", "floor"):
                    writes = await self.write_goals() if scenario.write_every else None
                    result = wrk.run(
                        self.wrk, self.servers[target].base_url,
                        duration=duration or self.args.duration,
                        connections=self.args.connections, tokens=self.files / "tokens.txt",
                        reads=scenario.reads, writes=writes, prefix=scenario.prefix,
                        write_every=scenario.write_every,
                    )  # fmt: skip
                    runs[scenario.name][target].append(result.as_dict())
        entries = {}
        for scenario in scenarios:
            entry: dict[str, Any] = {t: _summary(r) for t, r in runs[scenario.name].items()}
            s, f = entry["service"], entry["floor"]
            entry["ratio"] = round(s["ok_rps"] / f["ok_rps"], 3) if f["ok_rps"] else None
            entry["p99_ratio"] = round(s["p99_ms"] / f["p99_ms"], 2) if f["p99_ms"] else None
            self.results[into][scenario.name] = entries[scenario.name] = entry
            print(
                f"  {scenario.name:<22} service {s['ok_rps']:8.1f}/s p50 {s['p50_ms']:7.1f} p99 "
                f"{s['p99_ms']:7.1f} ms | floor {f['ok_rps']:8.1f}/s p50 {f['p50_ms']:7.1f} "
                f"p99 {f['p99_ms']:7.1f} ms | ratio {entry['ratio']}",
                flush=True,
            )
        return entries

    async def audit_count(self) -> int:
        conn = await asyncpg.connect(self.url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM audit_event"))
        finally:
            await conn.close()

    async def grow(self, target: int) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            grown = await seed.grow_audit(conn, self.args.plans, target)
        finally:
            await conn.close()
        total, added = grown["total"], grown["added"]
        print(f"  audit table: {total:,} events (+{added:,} in {grown['seconds']} s)")

    async def write_at_audit_size(self) -> None:
        count = await self.audit_count()
        label = f"write_audit_{_magnitude(count)}"
        entry = await self.pair(
            label,
            reads=None,
            prefix="/api/v1/dps/plans/",
            write_every=1,
            into="growth",
            duration=self.growth_s,
        )
        if entry:
            entry["audit_events"] = count

    def verify(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREWORK_")} | {
            "DATABASE_URL": self.url,
            "CAREWORK_DATA_DIR": str(self.tmp),
        }
        started = time.monotonic()
        done = subprocess.run(
            [CAREWORK, "audit", "verify"], env=env, capture_output=True, text=True,
            timeout=3600, check=False,
        )  # fmt: skip
        seconds = time.monotonic() - started
        try:
            report = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            report = {"ok": False, "error": (done.stdout + done.stderr)[-2000:]}
        events = int(report.get("events") or 0)
        self.results["verify"] = {
            **report, "seconds": round(seconds, 1),
            "events_per_s": round(events / seconds) if seconds else None,
        }  # fmt: skip
        print(f"  audit verify: ok={report.get('ok')} {events:,} events in {seconds:.1f} s")

    async def run(self, seeded: seed.Seeded) -> None:
        args = self.args
        regular = list(range(1, args.plans + 1))
        dps_reads = self.write_reads("reads_dps", regular, "dps")
        nav_reads = self.write_reads("reads_nav", regular, "nav")
        feed = self.files / "feed.txt"
        feed.write_text("".join(f"events?limit=50 {t}\n" for t in range(1, seed.DPS_UNITS + 1)))
        self.start_servers()
        self.check_shapes()
        print("warm-up", flush=True)
        for target in ("service", "floor") if not args.smoke else ():
            wrk.run(
                self.wrk, self.servers[target].base_url, duration=1 if args.smoke else 3,
                connections=args.connections, tokens=self.files / "tokens.txt", reads=dps_reads,
                writes=None, prefix="/api/v1/dps/plans/", write_every=0,
            )  # fmt: skip
        print("write latency at the small audit table", flush=True)
        await self.write_at_audit_size()
        # The servers stay up but idle while the table grows (nothing else appends).
        print(f"growing the audit table to {args.audit_events:,}", flush=True)
        await self.grow(args.audit_events)
        print("scenarios (service vs floor, A B per round)", flush=True)
        await self.interleaved([
            Scenario("read_clinician", dps_reads, "/api/v1/dps/plans/", 0),
            Scenario("read_nav", nav_reads, "/api/v1/nav/plans/", 0),
        ])  # fmt: skip
        await self.pair("write_goal", reads=None, prefix="/api/v1/dps/plans/", write_every=1)
        await self.pair("mix_90_10", reads=dps_reads, prefix="/api/v1/dps/plans/",
                        write_every=10)  # fmt: skip
        await self.pair("change_feed", reads=feed, prefix="/api/v1/dps/", write_every=0)
        print("growth: plan view by goals per plan", flush=True)
        for goals, numbers in seeded.growth_plans.items():
            reads = self.write_reads(f"growth_{goals}", numbers, "dps")
            await self.pair(f"read_goals_{goals}", reads=reads, prefix="/api/v1/dps/plans/",
                            write_every=0, into="growth", duration=self.growth_s)  # fmt: skip
        print("growth: write latency by audit table size", flush=True)
        await self.write_at_audit_size()
        if args.audit_10m:
            await self.grow(10_000_000)
            await self.write_at_audit_size()
        self.stop_servers()
        if not args.skip_verify:
            self.verify()


def _magnitude(count: int) -> str:
    return f"{count / 1e6:.2g}M" if count >= 1_000_000 else f"{count / 1e3:.3g}k"


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(key: str) -> float:
        return round(sum(r[key] for r in runs) / len(runs), 2)

    return {
        "ok_rps": mean("ok_rps"),
        "rps": mean("rps"),
        "p50_ms": mean("p50_ms"),
        "p99_ms": mean("p99_ms"),
        "p99_ms_worst": round(max(r["p99_ms"] for r in runs), 2),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "runs": runs,
    }


def _shape_diff(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}.{k}: only in service" for k in a.keys() - b.keys()]
        out += [f"{where}.{k}: only in floor" for k in b.keys() - a.keys()]
        for k in a.keys() & b.keys():
            out += _shape_diff(a[k], b[k], f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items vs {len(b)}"]
        return [d for x, y in zip(a, b, strict=True) for d in _shape_diff(x, y, f"{where}[]")][:5]
    return []


def report(results: dict[str, Any]) -> str:
    rows = [("scenario", "service/s", "p50", "p99", "floor/s", "p50", "p99", "ratio")]
    for group in ("scenarios", "growth"):
        for name, e in results[group].items():
            s, f = e["service"], e["floor"]
            rows.append(
                (name, f"{s['ok_rps']:.0f}", f"{s['p50_ms']:.1f}", f"{s['p99_ms']:.1f}",
                 f"{f['ok_rps']:.0f}", f"{f['p50_ms']:.1f}", f"{f['p99_ms']:.1f}",
                 f"{e['ratio']:.2f}" if e["ratio"] is not None else "-")
            )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("(latencies in ms; throughput counts 2xx only; service = carework, 2 workers)")
    for key in ("read_ratio", "read_p99_ratio", "write_ratio", "mix_ratio", "nav_vs_clinician"):
        lines.append(f"{key}: {results.get(key)}")
    if "audit_growth" in results:
        lines.append(f"audit_growth (write p50, largest/smallest table): {results['audit_growth']}")
    if "targets_met" in results:
        met = results["targets_met"]
        lines.append("targets: " + ", ".join(f"{k} {_verdict(v)}" for k, v in met.items()))
    if "verify" in results:
        v = results["verify"]
        lines.append(f"audit verify: ok={v.get('ok')} events={v.get('events')} in {v['seconds']} s")
    return "\n".join(lines)


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "NOT met"


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="carework-bench-"))
    embedded = EmbeddedPostgres(tmp / "pgdata")
    bench: Bench | None = None
    started = time.monotonic()
    load_before = os.getloadavg()
    try:
        url = embedded.start()
        await asyncio.to_thread(migrate.upgrade, url)
        bench = Bench(args, tmp, url)
        bench.write_tokens()
        print(f"seeding {args.plans:,} plans", flush=True)
        conn = await asyncpg.connect(url)
        try:
            t = time.monotonic()
            seeded = await seed.seed_domain(conn, args.plans, 4 if args.smoke else 20)
            seed_s = round(time.monotonic() - t, 1)
            counts = {
                table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("plan", "goal", "activity", "note", "consent", "change_event")
            }
        finally:
            await conn.close()
        print(f"  {counts} in {seed_s} s", flush=True)
        await bench.grow(max(1, args.audit_events // 10))
        await bench.run(seeded)
        results = bench.results
        results["sizes"] = {**counts, "audit_events_final": await bench.audit_count()}
    finally:
        if bench is not None:
            bench.stop_servers()
        embedded.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    sc = results["scenarios"]
    for key, name in (("read_ratio", "read_clinician"), ("write_ratio", "write_goal"),
                      ("mix_ratio", "mix_90_10")):  # fmt: skip
        results[key] = sc[name]["ratio"] if name in sc else None
    if "read_clinician" in sc:
        results["read_p99_ratio"] = sc["read_clinician"]["p99_ratio"]
    if "read_clinician" in sc and "read_nav" in sc:
        clin, nav = sc["read_clinician"]["service"]["ok_rps"], sc["read_nav"]["service"]["ok_rps"]
        results["nav_vs_clinician"] = round(nav / clin, 3) if clin else None
    audit_sizes = sorted(
        (entry for name, entry in results["growth"].items() if name.startswith("write_audit")),
        key=lambda entry: entry["audit_events"],
    )
    if len(audit_sizes) >= 2:
        small, large = audit_sizes[0], audit_sizes[-1]
        results["audit_growth"] = {
            target: round(large[target]["p50_ms"] / small[target]["p50_ms"], 2)
            for target in ("service", "floor")
        } | {"from_events": small["audit_events"], "to_events": large["audit_events"]}
    results["targets"] = TARGETS
    results["targets_met"] = targets_met(results)
    results["run"] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": args.smoke,
        "plans": args.plans,
        "audit_events": args.audit_events,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "connections": args.connections,
        "wrk_threads": wrk.THREADS,
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(time.monotonic() - started, 1),
        "writes": "wrk Lua: versions read from the database before each run, incremented "
        "locally per goal (disjoint goals per wrk thread, round robin); only 2xx count",
    }
    return results


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the finally blocks stop the servers and the database


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    wrk.ensure_wrk()  # fail early, before seeding
    results = asyncio.run(amain(args))
    print()
    print(report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten to {args.out}")
    return 0
