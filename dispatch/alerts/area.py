"""Where an alert applies, as geometry: CAP polygons and circles in lon/lat, and whether they touch the region.

A circle becomes a 64-gon drawn in local metres around its own centre (geo.projection's flat-earth bound holds
for the few hundred kilometres of a tsunami warning). The region is what `geo.jurisdiction` calls ours: the
kabupaten/kota outline together with its kecamatan, read once per region folder.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from dispatch.alerts.parse import Area
from geo import regionfiles as rf
from geo.projection import EARTH_RADIUS_M

_SIDES = 64
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180


def geometry(area: Area) -> BaseGeometry | None:
    """Every polygon and circle of the area as one lon/lat geometry; None for an alert without any."""
    if area.empty:
        return None
    parts = [shapely.make_valid(shapely.Polygon([(lon, lat) for lat, lon in ring])) for ring in area.polygons]
    parts += [_circle(c.lat, c.lon, c.radius_km) for c in area.circles]
    merged: BaseGeometry = shapely.union_all(parts)
    return merged


def _circle(lat: float, lon: float, radius_km: float) -> BaseGeometry:
    if radius_km <= 0:
        return shapely.Point(lon, lat)
    metres = radius_km * 1000
    kx = _M_PER_DEG * max(math.cos(math.radians(lat)), 0.01)  # a pole would make a degree of longitude 0 m
    ring = [
        (lon + metres * math.cos(a) / kx, lat + metres * math.sin(a) / _M_PER_DEG)
        for a in (2 * math.pi * i / _SIDES for i in range(_SIDES))
    ]
    return shapely.Polygon(ring)


@lru_cache(maxsize=8)
def region_outline(geo_dir: Path) -> BaseGeometry:
    """The region (outline and kecamatan together) in lon/lat, prepared for repeated intersection tests."""
    shapes = [g for _, g in rf.read_features(geo_dir / rf.BOUNDARY)]
    shapes += [g for _, g in rf.read_features(geo_dir / rf.KECAMATAN)]
    outline: BaseGeometry = shapely.make_valid(shapely.union_all(shapes))
    shapely.prepare(outline)
    return outline


def touches_region(area: BaseGeometry, geo_dir: Path) -> bool:
    return bool(region_outline(geo_dir).intersects(area))


def as_json(area: Area) -> dict[str, Any] | None:
    """What the consoles draw: polygons as [lat, lon] rings (Leaflet's order), circles as [lat, lon, km]."""
    if area.empty:
        return None
    return {
        "polygons": [[[lat, lon] for lat, lon in ring] for ring in area.polygons],
        "circles": [[c.lat, c.lon, c.radius_km] for c in area.circles],
    }
