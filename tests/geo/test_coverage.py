import numpy as np
import pytest

from geo.coverage import coverage
from geo.jurisdiction import Jurisdictions
from geo.travel import StraightLineModel

SIKUAI = (-1.1276, 100.3528)


def test_nearest_unit_per_agency_matches_brute_force(padang: Jurisdictions) -> None:
    areas = padang.kelurahan_points()
    rng = np.random.default_rng(5)
    lat, lon = rng.uniform(-1.0, -0.85, 60), rng.uniform(100.35, 100.45, 60)
    kinds = rng.choice(["damkar", "ambulance", "police"], 60).tolist()
    model = StraightLineModel(island_of=padang.island_of, islands_of=padang.islands_of)
    origins = model.origins(lat, lon, kinds)
    table = coverage(areas.lat, areas.lon, origins, model, priority=2)
    assert table.eta_s.shape == (104, 3)
    for p in rng.integers(0, 104, 10).tolist():
        travel = model.travel(float(areas.lat[p]), float(areas.lon[p]), origins, priority=2)
        for g, agency in enumerate(origins.agencies):
            mine = (origins.agency == g) & travel.reachable
            expected = float(travel.eta_s[mine].min()) if mine.any() else None
            assert table.eta(p, agency) == (pytest.approx(expected) if expected is not None else None)


def test_no_reachable_unit_is_none(padang: Jurisdictions) -> None:
    areas = padang.kelurahan_points()
    model = StraightLineModel(island_of=padang.island_of, islands_of=padang.islands_of)
    # One ambulance on Pulau Sikuai and one boat: the mainland has no ambulance by road.
    origins = model.origins([SIKUAI[0], SIKUAI[0]], [SIKUAI[1], SIKUAI[1]], ["ambulance", "boat"])
    table = coverage(areas.lat, areas.lon, origins, model).by_agency()
    assert set(table) == {"ambulance", "boat"}
    mainland = [i for i in range(104) if padang.island_of(float(areas.lat[i]), float(areas.lon[i])) == 0]
    assert len(mainland) > 90
    assert all(table["ambulance"][i] is None for i in mainland)
    assert all(table["boat"][i] is not None for i in range(104))


def test_empty_fleet() -> None:
    model = StraightLineModel()
    origins = model.origins([], [], [])
    table = coverage([-0.95], [100.38], origins, model)
    assert table.agencies == ()
    assert table.eta_s.shape == (1, 0)


def test_with_a_road_model() -> None:
    from geo.roads import RoadGraph, RoadModel

    # A 3 km two-way street along the equator, nodes every 100 m, 10 m/s.
    lon = np.arange(31) * 0.0009
    src = np.concatenate([np.arange(30), np.arange(1, 31)])
    dst = np.concatenate([np.arange(1, 31), np.arange(30)])
    graph = RoadGraph.from_edges(np.zeros(31), lon, src, dst, np.full(60, 10.0), np.full(60, 100.0))
    model = RoadModel(graph, priority_factor={})
    origins = model.origins([0.0, 0.0, 0.0], [lon[0], lon[30], lon[10]], ["damkar", "damkar", "ambulance"])
    table = coverage([0.0, 0.0], [lon[5], lon[25]], origins, model)
    assert table.agencies == ("ambulance", "damkar")
    np.testing.assert_allclose(table.eta_s, [[50.0, 50.0], [150.0, 50.0]])
