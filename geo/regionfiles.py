"""Reading a region's geo folder: GeoJSON features and CSV rows, with errors that name the file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

BOUNDARY = "boundary.geojson"
KECAMATAN = "kecamatan.geojson"
KELURAHAN = "kelurahan.geojson"
GAZETTEER = "gazetteer.csv"
ISLANDS = "islands.csv"


def read_features(path: Path) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """(properties, geometry) per feature; invalid rings are repaired because point-in-polygon on an
    invalid polygon silently gives wrong answers (some upstream kecamatan carry degenerate rings)."""
    with path.open(encoding="utf-8") as f:
        collection = json.load(f)
    out: list[tuple[dict[str, Any], BaseGeometry]] = []
    for feature in collection["features"]:
        geom = shapely.geometry.shape(feature["geometry"])
        if not geom.is_valid:
            geom = _polygonal(shapely.make_valid(geom))
        out.append((dict(feature.get("properties") or {}), geom))
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """make_valid may return a collection with stray lines or points; keep the area only."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
    merged: BaseGeometry = shapely.union_all(parts)
    return merged


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def as_float(value: str | None) -> float | None:
    """An optional numeric CSV cell; blank means unknown."""
    if value is None or not value.strip():
        return None
    return float(value)
