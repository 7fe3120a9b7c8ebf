"""Where a major incident applies: the region's kecamatan, and those an alert's area touches."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely

from dispatch.alerts import area as alert_area
from dispatch.alerts.parse import Area, Circle
from geo import regionfiles as rf


@lru_cache(maxsize=8)
def kecamatan(geo_dir: Path) -> dict[str, tuple[str, Any]]:
    """Every kecamatan of the region: code -> (name, lon/lat geometry)."""
    return {str(p["kode"]): (str(p["nama"]), g) for p, g in rf.read_features(geo_dir / rf.KECAMATAN)}


def names(geo_dir: Path) -> dict[str, str]:
    return {code: name for code, (name, _) in kecamatan(geo_dir).items()}


def touched_by(alert_json: dict[str, Any] | None, geo_dir: Path) -> list[str]:
    """The kecamatan an alert's area (as the alert keeps it) touches; empty for an alert without an area, which
    then applies to the whole region."""
    if not alert_json:
        return []
    parsed = Area(
        descriptions=(),
        polygons=tuple(tuple((float(lat), float(lon)) for lat, lon in ring) for ring in alert_json.get("polygons", [])),
        circles=tuple(Circle(float(lat), float(lon), float(km)) for lat, lon, km in alert_json.get("circles", [])),
    )
    shape = alert_area.geometry(parsed)
    if shape is None:
        return []
    shapely.prepare(shape)
    return sorted(code for code, (_, geom) in kecamatan(geo_dir).items() if shape.intersects(geom))
