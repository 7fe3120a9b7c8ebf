"""The benchmark's quick mode runs end to end and loses no call (no timing assertions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark_loses_no_call() -> None:
    run = subprocess.run(
        [sys.executable, "scripts/bench_calls.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["calls_offered"] > 0 and result["lost"] == 0 and result["missed_on_consoles"] == 0
    assert result["calls_recorded"] == result["calls_offered"]
    assert {"server", "harness"} <= set(result["cpu_ms_per_call"]) and result["p99_vs_baseline"] is not None
    assert result["machine_ms"] > 0
