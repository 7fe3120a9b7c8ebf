import math

import numpy as np
import pytest
import shapely
from geopy.distance import great_circle

from geo.errors import BadCoordinates
from geo.islands import IslandPoint
from geo.jurisdiction import Jurisdictions


def test_point_in_lubuk_begalung(padang: Jurisdictions) -> None:
    where = padang.locate(-0.992675, 100.399109)
    assert where.inside_region
    assert (where.kecamatan_code, where.kecamatan_name) == ("13.71.06", "Lubuk Begalung")
    assert where.kelurahan_code is not None
    assert where.kelurahan_code.startswith("13.71.06.")
    assert where.nearest_name is None
    assert where.distance_m is None


def test_belakang_pondok_centroid(padang: Jurisdictions) -> None:
    where = padang.locate(-0.9556523519352457, 100.36245671456436)
    assert (where.kelurahan_code, where.kelurahan_name) == ("13.71.01.1001", "Belakang Pondok")
    assert where.kecamatan_name == "Padang Selatan"


def test_sea_west_of_padang_is_outside_and_names_the_nearest_kecamatan(padang: Jurisdictions) -> None:
    # About 4 km off the Koto Tangah coast (the shore runs near 100.34°E at this latitude).
    where = padang.locate(-0.90, 100.30)
    assert not where.inside_region
    assert where.kecamatan_code is None
    assert where.kelurahan_code is None
    assert where.near_border
    assert where.nearest_name == "Koto Tangah"
    assert where.distance_m is not None
    assert 3_000 < where.distance_m < 6_000


def test_outside_distance_is_in_metres_on_the_ground(padang: Jurisdictions) -> None:
    # Due east of Pauh, across the land border: the distance to the border must match geopy.
    where = padang.locate(-0.87, 100.60)
    assert not where.inside_region
    assert where.nearest_name == "Pauh"
    assert where.distance_m is not None
    nearest_edge_lon = padang.bbox.east  # Pauh holds the eastern edge of Padang
    assert where.distance_m >= great_circle((-0.87, 100.60), (-0.87, nearest_edge_lon)).m * 0.99


def test_inland_point_is_not_near_the_border(padang: Jurisdictions) -> None:
    where = padang.locate(-0.892664, 100.411979)
    assert where.kecamatan_name == "Kuranji"
    assert not where.near_border
    assert where.border_distance_m > 5_000


def test_the_coast_counts_as_border(padang: Jurisdictions) -> None:
    # The region files hold no neighbours, so a shore is indistinguishable from a land border.
    where = padang.locate(-0.992675, 100.399109)
    assert where.near_border
    assert where.border_distance_m < 2_000


def test_point_near_the_northern_land_border(padang: Jurisdictions) -> None:
    where = padang.locate(-0.7382645, 100.43087)
    assert where.inside_region
    assert where.near_border
    assert where.border_distance_m < 2_000


def test_boundary_sliver_still_gets_kecamatan_and_nearest_kelurahan(padang: Jurisdictions) -> None:
    # Inside the kota outline but in none of the (differently simplified) kelurahan polygons.
    where = padang.locate(-0.7382645, 100.43087)
    assert where.inside_region
    assert where.kecamatan_name == "Koto Tangah"
    assert where.kelurahan_name == "Balai Gadang"


def test_banggai_luwuk(banggai: Jurisdictions) -> None:
    where = banggai.locate(-0.95, 122.79)
    assert where.inside_region
    assert (where.kecamatan_code, where.kecamatan_name) == ("72.01.04", "Luwuk")
    assert where.kelurahan_name == "Luwuk"


def test_banggai_toili_interior(banggai: Jurisdictions) -> None:
    where = banggai.locate(-1.4, 122.3)
    assert where.kecamatan_name == "Toili"
    assert not where.near_border


def test_swapped_and_nan_are_rejected(padang: Jurisdictions) -> None:
    with pytest.raises(BadCoordinates, match="swapped"):
        padang.locate(100.399109, -0.992675)
    with pytest.raises(BadCoordinates, match="finite"):
        padang.locate(math.nan, 100.4)


def test_bbox_covers_the_region(padang: Jurisdictions, banggai: Jurisdictions) -> None:
    assert padang.bbox.contains(-0.95, 100.36)
    assert banggai.bbox.contains(-0.95, 122.79)
    assert not padang.bbox.contains(-0.95, 122.79)


def test_islands_are_separate_landmasses(padang: Jurisdictions) -> None:
    mainland = padang.island_of(-0.95, 100.38)
    sikuai = padang.island_of(-1.1276, 100.3528)
    assert mainland == 0
    assert sikuai is not None
    assert sikuai != mainland
    assert padang.landmasses.name(sikuai) == "Pulau Sikuai"
    assert padang.island_of(-0.90, 100.25) is None  # open sea


def test_listed_island_without_a_polygon_is_its_own_landmass(padang: Jurisdictions) -> None:
    # Pulau Buyuang Atu is 350 m off the simplified coast: close, but not reachable by road.
    buyuang = padang.island_of(-0.8083, 100.2925)
    assert buyuang not in (None, 0)
    assert buyuang is not None
    assert padang.landmasses.name(buyuang) == "Pulau Buyuang Atu"


def test_islands_of_matches_island_of(padang: Jurisdictions) -> None:
    lats = np.array([-0.95, -1.1276, -0.90, -0.8083])
    lons = np.array([100.38, 100.3528, 100.25, 100.2925])
    one_by_one = [padang.island_of(a, b) for a, b in zip(lats.tolist(), lons.tolist(), strict=True)]
    assert padang.islands_of(lats, lons).tolist() == [-1 if i is None else i for i in one_by_one]


def test_kelurahan_points_are_inside_their_own_kelurahan(padang: Jurisdictions) -> None:
    points = padang.kelurahan_points()
    assert len(points.codes) == 104
    for code, lat, lon in zip(points.codes, points.lat, points.lon, strict=True):
        assert padang.locate(float(lat), float(lon)).kelurahan_code == code


def _square(x0: float, y0: float, size: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + size, y0 + size)


def test_gap_between_kelurahan_inside_a_kecamatan_gets_the_nearest_one() -> None:
    # Two desa 0.01° (~1.1 km) wide with a 0.002° (~220 m) gap; the kecamatan covers the gap.
    west, east = _square(120.0, -1.0, 0.01), _square(120.012, -1.0, 0.01)
    kecamatan = [({"kode": "99.01.01", "nama": "Uji"}, shapely.box(120.0, -1.0, 120.022, -0.99))]
    kelurahan = [
        ({"kode": "99.01.01.2001", "nama": "Barat", "kode_kec": "99.01.01"}, west),
        ({"kode": "99.01.01.2002", "nama": "Timur", "kode_kec": "99.01.01"}, east),
    ]
    j = Jurisdictions(kecamatan[0][1], kecamatan, kelurahan, [IslandPoint("Pulau Uji", -0.95, 120.01, 0.01)])
    gap_near_west = j.locate(-0.995, 120.0105)
    assert gap_near_west.inside_region
    assert gap_near_west.kecamatan_name == "Uji"
    assert gap_near_west.kelurahan_name == "Barat"
    assert j.locate(-0.995, 120.0115).kelurahan_name == "Timur"
    assert j.island_of(-0.95, 120.01) == 1  # the listed island, 4 km north of the kecamatan
