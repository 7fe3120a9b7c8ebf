"""The benchmark script runs and prints its JSON lines; timings are its business, not the tests'."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_recommend.py"
ROAD_KEYS = {
    "graph",
    "nodes",
    "edges",
    "units",
    "recommendations",
    "p50_ms",
    "p99_ms",
    "limit_p99_ms",
    "baseline_p99_ms",
    "speedup",
}


@pytest.mark.slow
def test_quick_run_prints_one_json_object_per_graph() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=120, check=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line.get("graph", line.get("model")) for line in lines] == [
        "helsinki_osm",
        "city_grid",
        "straight_line",
    ]
    for line in lines[:2]:
        assert ROAD_KEYS <= line.keys()
        assert line["nodes"] > 500
        assert line["p99_ms"] >= line["p50_ms"] > 0
    assert {"p50_ms", "p99_ms", "units"} <= lines[2].keys()
