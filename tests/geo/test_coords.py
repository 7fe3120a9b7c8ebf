import math

import pytest

from geo.coords import BBox, validate_point
from geo.errors import BadCoordinates

PADANG_BOX = BBox(south=-1.14, west=100.14, north=-0.73, east=100.57)


def test_valid_point_comes_back_as_floats() -> None:
    assert validate_point(-0.95, 100.35, bbox=PADANG_BOX) == (-0.95, 100.35)
    assert validate_point("-0.95", 100, bbox=None) == (-0.95, 100.0)  # type: ignore[arg-type]


def test_point_outside_the_region_is_still_valid() -> None:
    assert validate_point(-6.2, 106.8, bbox=PADANG_BOX) == (-6.2, 106.8)


@pytest.mark.parametrize(("lat", "lon"), [(math.nan, 100.0), (-0.9, math.inf), (-math.inf, 100.0)])
def test_nan_and_infinity_are_rejected(lat: float, lon: float) -> None:
    with pytest.raises(BadCoordinates, match="finite"):
        validate_point(lat, lon)


@pytest.mark.parametrize(("lat", "lon", "word"), [(91.0, 100.0, "latitude"), (-0.9, 181.0, "longitude")])
def test_out_of_range(lat: float, lon: float, word: str) -> None:
    with pytest.raises(BadCoordinates, match=f"{word} .* out of range"):
        validate_point(lat, lon)


def test_swapped_coordinates_are_named_as_such() -> None:
    with pytest.raises(BadCoordinates, match="latitude and longitude look swapped"):
        validate_point(100.35, -0.95, bbox=PADANG_BOX)


def test_without_a_bbox_a_swap_is_just_out_of_range() -> None:
    with pytest.raises(BadCoordinates, match=r"latitude 100\.35 is out of range"):
        validate_point(100.35, -0.95)


def test_not_a_number() -> None:
    with pytest.raises(BadCoordinates, match="must be numbers"):
        validate_point("north", 100.0)  # type: ignore[arg-type]


def test_bad_coordinates_is_a_value_error() -> None:
    assert issubclass(BadCoordinates, ValueError)
