"""Where a point is, in full: outside the region, and in the slivers between the kabupaten outline and its desa."""

from pathlib import Path

import pytest

from geo.jurisdiction import Jurisdictions, Location

PADANG = Path(__file__).resolve().parents[2] / "config" / "regions" / "padang" / "geo"


@pytest.fixture(scope="module")
def padang() -> Jurisdictions:
    return Jurisdictions.load(PADANG)


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
    where = padang.locate(-1.04858, 100.41135)
    assert (where.inside_region, where.kecamatan_code, where.kecamatan_name) == (
        True,
        "13.71.05",
        "Bungus Teluk Kabung",
    )
    assert (where.kelurahan_code, where.kelurahan_name) == ("13.71.05.1004", "Teluk Kabung Utara")
    assert where.near_border and where.nearest_code is None and where.distance_m is None
