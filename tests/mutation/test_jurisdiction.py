"""Where a point is, in full: outside the region, in the slivers between the kabupaten outline and its desa, at the
border margin, between two kecamatan, on which island, and in metres on the ground far from the equator.

Every test builds its own Jurisdictions (Padang loads in about 50 ms): mutmut ties a function to the tests that
ran it, and a session-wide fixture would tie the constructor and `load` to the first test only.
"""

import math
from pathlib import Path
from typing import Any

import pytest
import shapely

from geo.errors import BadCoordinates
from geo.islands import IslandPoint
from geo.jurisdiction import Jurisdictions, Location
from geo.projection import great_circle_m

PADANG = Path(__file__).resolve().parents[2] / "config" / "regions" / "padang" / "geo"

SLIVER = (-1.04858, 100.41135)  # inside the kota outline, in no kecamatan or desa polygon
KURANJI = (-0.892664, 100.411979)  # inland, 7.6 km from the border
SIKUAI = (-1.1276, 100.3528)
BUYUANG_ATU = (-0.8083, 100.2925)  # listed in islands.csv, no polygon: a disc of its own
OPEN_SEA = (-0.90, 100.30)  # about 4 km off the Koto Tangah coast


@pytest.fixture
def padang() -> Jurisdictions:
    return Jurisdictions.load(PADANG)


def _kec(code: str, box: shapely.Polygon) -> tuple[dict[str, Any], shapely.Polygon]:
    return {"kode": code, "nama": f"Kecamatan {code}"}, box


def _desa(code: str, kecamatan: str, box: shapely.Polygon) -> tuple[dict[str, Any], shapely.Polygon]:
    return {"kode": code, "nama": f"Desa {code}", "kode_kec": kecamatan}, box


def test_a_point_at_sea_names_the_nearest_kecamatan_and_nothing_else(padang: Jurisdictions) -> None:
    where = padang.locate(-0.95, 100.10)
    assert where == Location(
        False,
        None,
        None,
        None,
        None,
        True,
        where.border_distance_m,
        "13.71.01",
        "Padang Selatan",
        where.distance_m,
    )
    assert where.distance_m == pytest.approx(where.border_distance_m) and 4000 < where.border_distance_m < 4500


def test_a_point_in_the_region_but_in_no_desa_polygon_gets_the_nearest_desa(padang: Jurisdictions) -> None:
    """The kabupaten outline and the desa polygons disagree along the coast; such a point is still ours."""
    where = padang.locate(*SLIVER)
    assert (where.inside_region, where.kecamatan_code, where.kecamatan_name) == (
        True,
        "13.71.05",
        "Bungus Teluk Kabung",
    )
    assert (where.kelurahan_code, where.kelurahan_name) == ("13.71.05.1004", "Teluk Kabung Utara")
    assert where.near_border and where.nearest_code is None and where.distance_m is None


def test_the_islands_file_names_the_islands_and_open_sea_is_no_island(padang: Jurisdictions) -> None:
    """islands.csv gives the polygons their names (matched by area) and adds the islets no polygon covers."""
    sikuai, buyuang = padang.island_of(*SIKUAI), padang.island_of(*BUYUANG_ATU)
    assert sikuai not in (None, 0) and buyuang not in (None, 0, sikuai)
    assert sikuai is not None and padang.landmasses.name(sikuai) == "Pulau Sikuai"
    assert buyuang is not None and padang.landmasses.name(buyuang) == "Pulau Buyuang Atu"
    assert padang.island_of(*OPEN_SEA) is None  # 4 km out: beyond the 500 m tolerance of every landmass


def test_load_passes_its_settings_on() -> None:
    """The margins given to load() are the ones used: a wider border margin, no desa tolerance, a wide island one."""
    wide = Jurisdictions.load(PADANG, border_margin_m=8000.0, kelurahan_tolerance_m=0.0, island_tolerance_m=5000.0)
    assert wide.locate(*KURANJI).near_border  # 7.6 km from the border
    sliver = wide.locate(*SLIVER)
    assert (sliver.inside_region, sliver.kecamatan_code, sliver.kelurahan_code) == (True, "13.71.05", None)
    assert wide.island_of(*OPEN_SEA) is not None


def test_kelurahan_points_carry_the_names_locate_gives(padang: Jurisdictions) -> None:
    """Coverage maps label each desa with these names; they must be the desa's own."""
    points = padang.kelurahan_points()
    assert len(points.names) == len(points.codes) == 104
    for code, name, lat, lon in zip(points.codes, points.names, points.lat, points.lon, strict=True):
        where = padang.locate(float(lat), float(lon))
        assert (where.kelurahan_code, where.kelurahan_name) == (code, name)


# A small synthetic region near 1°S, 120°E: 0.01° is about 1.1 km.
A = shapely.box(120.0, -1.0, 120.01, -0.99)
B = shapely.box(120.01, -1.0, 120.02, -0.99)


def test_a_point_exactly_at_the_border_margin_is_near_the_border() -> None:
    def build(margin: float) -> Jurisdictions:
        return Jurisdictions(A, [_kec("99.01", A)], [_desa("99.01.1", "99.01", A)], [], border_margin_m=margin)

    distance = build(1000.0).locate(-0.995, 120.005).border_distance_m
    assert 500 < distance < 600  # the middle of a 1.1 km square
    assert build(distance).locate(-0.995, 120.005).near_border
    assert not build(math.nextafter(distance, 0.0)).locate(-0.995, 120.005).near_border


def test_the_desa_decides_the_kecamatan_where_the_outlines_disagree() -> None:
    """Desa polygons are the finer data: a point in a desa of A is in A, even where B's simplified outline covers it."""
    j = Jurisdictions(
        shapely.union(A, B),
        [_kec("99.01", A), _kec("99.02", B)],
        [_desa("99.01.1", "99.01", shapely.box(120.0, -1.0, 120.012, -0.99)), _desa("99.02.1", "99.02", B)],
        [],
    )
    where = j.locate(-0.995, 120.011)  # in desa 99.01.1, inside B's outline, 110 m from desa 99.02.1
    assert (where.kecamatan_code, where.kelurahan_code) == ("99.01", "99.01.1")


@pytest.mark.parametrize("a_first", [True, False])
def test_a_point_in_a_kecamatan_but_in_no_desa_stays_in_that_kecamatan_next_to_the_neighbour(a_first: bool) -> None:
    """55 m from the border with B, 600 m from A's only desa: the kecamatan is A whatever the file order, and no
    desa is named (B's desa is closer, but a desa of another kecamatan is never proposed)."""
    kecamatan = [_kec("99.01", A), _kec("99.02", B)]
    j = Jurisdictions(
        shapely.union(A, B),
        kecamatan if a_first else kecamatan[::-1],
        [_desa("99.01.1", "99.01", shapely.box(120.0, -1.0, 120.004, -0.99)), _desa("99.02.1", "99.02", B)],
        [],
    )
    where = j.locate(-0.995, 120.0095)
    assert (where.inside_region, where.kecamatan_code, where.kelurahan_code, where.kelurahan_name) == (
        True,
        "99.01",
        None,
        None,
    )


def test_the_kabupaten_outline_counts_where_no_kecamatan_covers_it() -> None:
    """The outline reaches 1.1 km further east than the kecamatan: a point there is ours, in the nearest kecamatan."""
    outline = shapely.box(120.0, -1.0, 120.03, -0.99)
    j = Jurisdictions(outline, [_kec("99.01", A), _kec("99.02", B)], [_desa("99.02.1", "99.02", B)], [])
    where = j.locate(-0.995, 120.0205)
    assert (where.inside_region, where.kecamatan_code, where.kelurahan_code) == (True, "99.02", "99.02.1")
    assert (where.nearest_code, where.distance_m) == (None, None)
    assert j.bbox.contains(-0.995, 120.029)
    with pytest.raises(BadCoordinates, match="swapped"):
        j.locate(120.005, -0.995)


def test_distances_are_metres_on_the_ground_at_ten_degrees_south() -> None:
    """Near Kupang (10°S) a degree of longitude is 1.5 % shorter than at the equator; the local projection is
    centred on the region, so an outside point's distance to the border is right to 0.1 %."""
    square = shapely.box(123.0, -10.1, 123.1, -9.9)
    j = Jurisdictions(square, [_kec("53.71", square)], [_desa("53.71.1", "53.71", square)], [])
    where = j.locate(-10.0, 123.15)
    expected = float(great_circle_m(-10.0, 123.15, [-10.0], [123.1])[0])  # about 5.47 km
    assert not where.inside_region and where.nearest_code == "53.71"
    assert where.distance_m == pytest.approx(expected, rel=1e-3)
    assert where.border_distance_m == pytest.approx(expected, rel=1e-3)


def test_islands_given_to_the_constructor_are_landmasses() -> None:
    islet = IslandPoint("Pulau Uji", -0.95, 120.01, None)  # 4 km north, no polygon: a 180 m disc
    j = Jurisdictions(A, [_kec("99.01", A)], [_desa("99.01.1", "99.01", A)], [islet], island_tolerance_m=100.0)
    assert j.island_of(-0.995, 120.005) == 0
    assert j.island_of(-0.95, 120.01) == 1 and j.landmasses.name(1) == "Pulau Uji"
    assert j.island_of(-0.95, 120.0129) is None  # 320 m from the islet's centre: 140 m beyond the disc
