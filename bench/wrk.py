# ruff: noqa: S603  (subprocesses here run our own argv: wrk, apt-get, carework, uvicorn)
"""Find (or install) ``wrk``, run it with the bench Lua script, and parse what it prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LUA = Path(__file__).with_name("lua") / "bench.lua"
THREADS = 2  # the machine has 2 cores; wrk's threads share them with the servers


class WrkMissing(SystemExit):
    pass


def ensure_wrk() -> str:
    """``wrk`` from PATH; as root on Debian, ``apt-get install -y wrk`` first if missing."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise WrkMissing(
            "wrk is not installed. Install it (Debian/Ubuntu: `sudo apt-get install -y wrk`) "
            "and run the benchmark again."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, capture_output=True, timeout=300).returncode != 0:
        subprocess.run([apt, "update"], env=env, capture_output=True, timeout=300, check=False)
        subprocess.run(install, env=env, capture_output=True, timeout=300, check=False)
    found = shutil.which("wrk")
    if not found:
        raise WrkMissing("`apt-get install -y wrk` did not provide wrk; install it by hand.")
    return found


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    ok_rps: float  # 2xx/3xx per second: what the ratios use
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match[1]) * _UNIT_MS[match[2]]


def parse(output: str) -> WrkResult:
    percentiles = {
        int(m[1]): _ms(m[2]) for m in re.finditer(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.M)
    }
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not done or not rps or 50 not in percentiles:
        raise ValueError(f"cannot parse wrk output:\n{output}")
    requests, seconds = int(done[1]), _ms(done[2] + done[3]) / 1000.0
    non_2xx = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    errors = 0
    if m := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors = sum(int(x) for x in m.groups())
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=float(rps[1]),
        ok_rps=(requests - non_2xx) / seconds if seconds else 0.0,
        non_2xx=non_2xx,
        socket_errors=errors,
        p50_ms=percentiles[50],
        p75_ms=percentiles.get(75, 0.0),
        p90_ms=percentiles.get(90, 0.0),
        p99_ms=percentiles.get(99, 0.0),
    )


def run(
    wrk: str,
    base_url: str,
    *,
    duration: float,
    connections: int,
    tokens: Path,
    reads: Path | None,
    writes: Path | None,
    prefix: str,
    write_every: int,
) -> WrkResult:
    seconds = max(1, round(duration))
    args = [
        wrk, "-t", str(THREADS), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
        "--latency", "-s", str(LUA), base_url, "--",
        str(tokens), str(reads or "-"), str(writes or "-"), prefix, str(write_every), str(THREADS),
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return parse(done.stdout)
