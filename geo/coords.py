"""Checking a latitude/longitude pair before anything else uses it, with messages a person can act on."""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo.errors import BadCoordinates

# How far outside a region's bounding box a point may be before a swapped reading is suspected:
# a call from just across the border is normal, one from the other side of the world is not.
SWAP_MARGIN_DEG = 1.0


@dataclass(frozen=True, slots=True)
class BBox:
    """A latitude/longitude box; south <= north and west <= east (no antimeridian crossing)."""

    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east

    def expanded(self, margin_deg: float) -> BBox:
        return BBox(self.south - margin_deg, self.west - margin_deg, self.north + margin_deg, self.east + margin_deg)


def validate_point(lat: float, lon: float, *, bbox: BBox | None = None) -> tuple[float, float]:
    """Return (lat, lon) as floats, or raise BadCoordinates saying what is wrong.

    With a region bbox, a point far outside it whose coordinates, read the other way round, fall
    inside the region is reported as swapped: (lon, lat) order is the most common mix-up between
    GeoJSON and everything else, and a dispatcher must not silently get a point in the ocean.
    """
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        raise BadCoordinates(f"coordinates must be numbers, got {lat!r}, {lon!r}") from None
    if not (math.isfinite(la) and math.isfinite(lo)):
        raise BadCoordinates(f"coordinates must be finite numbers, got latitude {la}, longitude {lo}")
    if bbox is not None:
        near = bbox.expanded(SWAP_MARGIN_DEG)
        if not near.contains(la, lo) and near.contains(lo, la):
            raise BadCoordinates(
                f"latitude and longitude look swapped: ({la}, {lo}) is far from the region, "
                f"but ({lo}, {la}) is inside it; send latitude first"
            )
    if not -90.0 <= la <= 90.0:
        raise BadCoordinates(f"latitude {la} is out of range; it must be between -90 and 90")
    if not -180.0 <= lo <= 180.0:
        raise BadCoordinates(f"longitude {lo} is out of range; it must be between -180 and 180")
    return la, lo
