"""Geo lookups from several threads at once, as a server makes them: requests run in a thread pool, and two
escalation passes recommend units at the same moment. GEOS builds a prepared polygon's point locator on its first
use, with the GIL let go; two threads at once on fresh indexes corrupted the heap and aborted the whole process
(seen in CI: "Fatal Python error: Aborted" under tests/dispatch/test_two_servers.py). Each case runs in a child
process, so that an abort fails the test instead of taking the test worker with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Fresh indexes each round: the race is on a polygon's first use. Four threads start together (a barrier).
TOGETHER = """
import threading
def together(look):
    start = threading.Barrier(4)
    def run():
        start.wait()
        look()
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"""

LANDMASSES = (
    TOGETHER
    + """
import numpy as np, shapely
from geo.islands import Landmasses
from geo.projection import LocalProjection
projection = LocalProjection(-1.0, 122.0)
rng = np.random.default_rng(7)
lat, lon = rng.uniform(-1.2, -0.8, 300), rng.uniform(121.8, 122.2, 300)
centres = shapely.points(projection.xy_many(rng.uniform(-1.2, -0.8, 40), rng.uniform(121.8, 122.2, 40)))
islands = shapely.union_all(shapely.buffer(centres, 3000, quad_segs=64))
for _ in range(100):
    land = Landmasses(islands, [], projection)
    together(lambda: land.indices_of(lat, lon))
print("ok")
"""
)

LOCATE = (
    TOGETHER
    + """
import numpy as np
from pathlib import Path
from geo.jurisdiction import Jurisdictions
rng = np.random.default_rng(7)
for _ in range(40):
    padang = Jurisdictions.load(Path("config/regions/padang/geo"))
    box = padang.bbox
    points = list(zip(rng.uniform(box.south, box.north, 60), rng.uniform(box.west, box.east, 60)))
    together(lambda: [padang.locate(lat, lon) for lat, lon in points])
print("ok")
"""
)


def in_a_child(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_four_threads_look_up_landmasses_at_once_on_fresh_indexes() -> None:
    child = in_a_child(LANDMASSES)
    assert (child.returncode, child.stdout.strip()) == (0, "ok"), child.stderr[-2000:]


def test_four_threads_locate_points_at_once_on_fresh_indexes() -> None:
    child = in_a_child(LOCATE)
    assert (child.returncode, child.stdout.strip()) == (0, "ok"), child.stderr[-2000:]
