import numpy as np
import pytest
from geopy.distance import geodesic, great_circle

from geo.errors import BadCoordinates
from geo.jurisdiction import Jurisdictions
from geo.projection import great_circle_m
from geo.travel import (
    StraightLineModel,
    TravelModel,
    estimate,
    is_sea_unit,
    nearest_by_agency,
    unit_speed_kmh,
)

MAINLAND = (-0.9500, 100.3800)  # Padang Timur
SIKUAI = (-1.1276, 100.3528)


def test_haversine_agrees_with_geopy() -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(-1.7, -0.4, 500)
    lon = rng.uniform(99.8, 123.5, 500)
    ours = great_circle_m(-0.95, 100.38, lat, lon)
    for d, a, b in zip(ours, lat, lon, strict=True):
        assert d == pytest.approx(great_circle((-0.95, 100.38), (a, b)).m, rel=1e-6)
        # The ellipsoid is flatter than the mean sphere north-south near the equator: up to 0.6%.
        assert d == pytest.approx(geodesic((-0.95, 100.38), (a, b)).m, rel=7e-3)


def test_eta_is_distance_times_circuity_over_speed() -> None:
    model = StraightLineModel(circuity=1.4, speed_kmh={"ambulance": 36.0}, priority_factor={1: 1.25})
    lats, lons = np.array([-0.96, -0.90]), np.array([100.39, 100.36])
    travel = estimate(model, *MAINLAND, lats, lons, ["ambulance", "ambulance"], priority=3)
    expected = np.array([great_circle(MAINLAND, (a, b)).m * 1.4 for a, b in zip(lats, lons, strict=True)])
    np.testing.assert_allclose(travel.distance_m, expected, rtol=5e-3)
    np.testing.assert_allclose(travel.eta_s, expected / 10.0, rtol=5e-3)  # 36 km/h = 10 m/s
    urgent = estimate(model, *MAINLAND, lats, lons, ["ambulance", "ambulance"], priority=1)
    np.testing.assert_allclose(urgent.eta_s, travel.eta_s / 1.25)
    assert travel.reachable.all()


def test_unit_types() -> None:
    table = {"damkar": 40.0, "boat": 30.0, "ambulance": 45.0}
    assert unit_speed_kmh("damkar", table, 20.0) == 40.0
    assert unit_speed_kmh("Damkar-Tangki", table, 20.0) == 40.0
    assert unit_speed_kmh("speedboat", table, 20.0) == 30.0
    assert unit_speed_kmh("truk", table, 20.0) == 20.0
    assert [is_sea_unit(t) for t in ("boat", "Kapal SAR", "RIB-1", "speedboat", "ambulance", "tribrata")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.fixture(scope="module")
def island_model(padang: Jurisdictions) -> StraightLineModel:
    return StraightLineModel(island_of=padang.island_of, islands_of=padang.islands_of)


def test_unit_on_sikuai_cannot_drive_to_the_mainland(island_model: StraightLineModel) -> None:
    origins = island_model.origins(
        [SIKUAI[0], SIKUAI[0], -0.96],
        [SIKUAI[1], SIKUAI[1], 100.39],
        ["ambulance", "boat basarnas", "ambulance"],
    )
    travel = island_model.travel(*MAINLAND, origins)
    assert travel.reachable.tolist() == [False, True, True]
    assert travel.eta_s[0] == np.inf
    assert np.isfinite(travel.eta_s[1:]).all()
    assert travel.distance_m[0] > 19_000  # still reported: 20 km across the water


def test_mainland_ambulance_cannot_drive_to_sikuai(island_model: StraightLineModel) -> None:
    origins = island_model.origins([-0.96], [100.39], ["ambulance"])
    assert not island_model.travel(*SIKUAI, origins).reachable[0]


def test_incident_at_sea_blocks_nobody(island_model: StraightLineModel) -> None:
    origins = island_model.origins([-0.96, SIKUAI[0]], [100.39, SIKUAI[1]], ["ambulance", "ambulance"])
    assert island_model.travel(-0.90, 100.25, origins).reachable.all()


def test_precomputed_islands_are_used(island_model: StraightLineModel) -> None:
    origins = island_model.origins([-0.96], [100.39], ["ambulance"], island=[5])
    assert origins.anchor.tolist() == [5]
    assert not island_model.travel(*MAINLAND, origins).reachable[0]


def test_scalar_island_lookup_matches_vectorised(padang: Jurisdictions) -> None:
    scalar = StraightLineModel(island_of=padang.island_of)
    vector = StraightLineModel(island_of=padang.island_of, islands_of=padang.islands_of)
    lat, lon, types = [SIKUAI[0], -0.96, -0.90], [SIKUAI[1], 100.39, 100.25], ["a", "b", "c"]
    assert scalar.origins(lat, lon, types).anchor.tolist() == vector.origins(lat, lon, types).anchor.tolist()


def test_nearest_by_agency() -> None:
    model: TravelModel = StraightLineModel()
    lat = np.array([-0.951, -0.960, -0.952, -0.990, -0.953, -0.999])
    lon = np.full(6, 100.38)
    origins = model.origins(lat, lon, ["damkar", "damkar", "ambulance", "ambulance", "damkar", "police"])
    best = nearest_by_agency(model.travel(*MAINLAND, origins), origins, k=2)
    assert {k: v.tolist() for k, v in best.items()} == {"ambulance": [2, 3], "damkar": [0, 4], "police": [5]}


def test_unreachable_units_are_never_nearest(island_model: StraightLineModel) -> None:
    origins = island_model.origins([SIKUAI[0]], [SIKUAI[1]], ["ambulance"])
    assert nearest_by_agency(island_model.travel(*MAINLAND, origins), origins)["ambulance"].tolist() == []


def test_agency_groups_differ_from_unit_types() -> None:
    model = StraightLineModel()
    origins = model.origins([-0.95, -0.96], [100.38, 100.38], ["boat", "ambulance"], agency=["sar", "sar"])
    assert origins.agencies == ("sar",)
    assert nearest_by_agency(model.travel(*MAINLAND, origins), origins, k=5)["sar"].tolist() == [0, 1]


def test_bad_input() -> None:
    model = StraightLineModel()
    origins = model.origins([-0.95], [100.38], ["ambulance"])
    with pytest.raises(BadCoordinates):
        model.travel(float("nan"), 100.0, origins)
    with pytest.raises(ValueError, match="same length"):
        model.origins([-0.95, -0.96], [100.38], ["ambulance"])


def test_origins_of_another_model_are_refused() -> None:
    from geo.roads import RoadGraph, RoadModel

    graph = RoadGraph.from_edges([0.0, 0.0], [0.0, 0.001], [0, 1], [1, 0], [10.0, 10.0], [100.0, 100.0])
    landmass_origins = StraightLineModel().origins([0.0], [0.0], ["ambulance"])
    with pytest.raises(ValueError, match="landmass anchors"):
        RoadModel(graph).travel(0.0, 0.0, landmass_origins)
