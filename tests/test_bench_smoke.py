"""The benchmark in smoke mode: small data, short runs, so the harness cannot rot.

It starts its own embedded PostgreSQL, carework (2 workers) and the floor, and drives them with
``wrk`` (installed with apt-get when missing and running as root, as the harness itself does).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.wrk import WrkMissing, ensure_wrk

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.bench


def test_bench_smoke_writes_the_three_ratios(tmp_path: Path) -> None:
    try:
        ensure_wrk()
    except WrkMissing as exc:
        pytest.fail(str(exc))
    out = tmp_path / "smoke.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--duration", "2", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    results = json.loads(out.read_text())
    for key in ("read_ratio", "write_ratio", "mix_ratio"):
        assert results[key] > 0, key
    for name in ("read_clinician", "read_nav", "write_goal", "mix_90_10", "change_feed"):
        scenario = results["scenarios"][name]
        for target in ("service", "floor"):
            assert scenario[target]["ok_rps"] > 0, (name, target)
            assert scenario[target]["p99_ms"] >= scenario[target]["p50_ms"] > 0
    assert results["verify"]["ok"] is True
    assert results["shape_check"] == "same keys"
