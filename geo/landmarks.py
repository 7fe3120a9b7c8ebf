"""Landmark and street files: reading a center's list (CSV or GeoJSON), writing the region's landmark
index, and the geometry of a street kept as a line.

A caller says "Jalan Veteran" of a street three kilometres long; the point that helps is the one
nearest where the incident seems to be (the caller's cell, the map), else the street's midpoint.
So a street keeps its line, and `Line.nearest` finds that point.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.arrays import FloatArray, IntArray
from geo.gazetteer import Entry, Place
from geo.jurisdiction import Jurisdictions

MAX_NAME_CHARS = 120
MAX_ROWS = 500_000
MIN_STREET_ACCURACY_M = 30.0
# Accuracy of a landmark whose file gives none: a building or a small square.
DEFAULT_ACCURACY_M = 50.0
_M_PER_DEG = 111_320.0
_SEPARATORS = (";", "|")


class BadLandmarkFile(ValueError):
    """A landmark file cannot be read, or some of its rows are wrong (the message lists them)."""


class Line:
    """A street's polyline (possibly in several pieces), in WGS84 degrees."""

    def __init__(self, parts: Sequence[Sequence[tuple[float, float]]]) -> None:
        """`parts`: lists of (lat, lon); pieces of fewer than two points are dropped."""
        kept = [np.asarray(p, dtype=np.float64) for p in parts if len(p) >= 2]
        if not kept:
            raise ValueError("a line needs at least two points")
        self.points: FloatArray = np.concatenate(kept)
        self.piece: IntArray = np.repeat(np.arange(len(kept)), [len(p) for p in kept])
        # Segment i joins points i and i+1 unless i+1 starts another piece.
        self._segments: IntArray = np.flatnonzero(self.piece[1:] == self.piece[:-1])
        lengths = self._segment_lengths()
        self.length_m = float(lengths.sum())
        self.midpoint = self._along(lengths, self.length_m / 2)

    def nearest(self, lat: float, lon: float) -> tuple[float, float]:
        """The point of the line nearest (lat, lon)."""
        x, y = self._local(lat, lon)
        a, b = (
            np.stack([x[self._segments], y[self._segments]], 1),
            np.stack([x[self._segments + 1], y[self._segments + 1]], 1),
        )
        d = b - a
        denom = np.maximum((d * d).sum(1), 1e-12)
        t = np.clip((-a * d).sum(1) / denom, 0.0, 1.0)  # the query point is the origin
        foot = a + d * t[:, None]
        k = int(np.argmin((foot * foot).sum(1)))
        seg = self._segments[k]
        p, q = self.points[seg], self.points[seg + 1]
        return float(p[0] + (q[0] - p[0]) * t[k]), float(p[1] + (q[1] - p[1]) * t[k])

    def _local(self, lat: float, lon: float) -> tuple[FloatArray, FloatArray]:
        """Points in metres east (x) and north (y) of (lat, lon): exact enough within a city."""
        x = (self.points[:, 1] - lon) * _M_PER_DEG * math.cos(math.radians(lat))
        y = (self.points[:, 0] - lat) * _M_PER_DEG
        return x, y

    def _segment_lengths(self) -> FloatArray:
        lat0 = float(self.points[:, 0].mean())
        x, y = self._local(lat0, float(self.points[:, 1].mean()))
        dx = x[self._segments + 1] - x[self._segments]
        dy = y[self._segments + 1] - y[self._segments]
        return np.hypot(dx, dy)

    def _along(self, lengths: FloatArray, distance_m: float) -> tuple[float, float]:
        """The point `distance_m` along the segments, in their order."""
        before = np.concatenate([[0.0], np.cumsum(lengths)])
        k = min(int(np.searchsorted(before, distance_m, side="right")) - 1, len(lengths) - 1)
        t = 0.0 if lengths[k] == 0 else (distance_m - before[k]) / lengths[k]
        p, q = self.points[self._segments[k]], self.points[self._segments[k] + 1]
        return float(p[0] + (q[0] - p[0]) * t), float(p[1] + (q[1] - p[1]) * t)


def street(
    name: str,
    line: Line,
    *,
    alt_names: Iterable[str] = (),
    kecamatan: str | None = None,
    kelurahan: str | None = None,
    source: str | None = None,
) -> Entry:
    """A street entry: found at its midpoint, within half its length."""
    lat, lon = line.midpoint
    accuracy = max(MIN_STREET_ACCURACY_M, round(line.length_m / 2))
    place = Place(name, "jalan", None, kecamatan, lat, lon, accuracy, kelurahan, source)
    return Entry(place, tuple(alt_names), line)


def read_file(path: Path, *, source: str | None = None) -> list[Entry]:
    """A landmark CSV (name,lat,lon[,kind,accuracy_m,alt_names,kecamatan,kelurahan,code,source]) or a
    GeoJSON FeatureCollection (points, lines, polygons; properties name, kind, alt_names, ...). Every row
    is checked before any is returned; BadLandmarkFile lists the first problems."""
    path = Path(path)
    if not path.is_file():
        raise BadLandmarkFile(f"{path} does not exist or is not a file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _checked(path, _csv_rows(path), source)
    if suffix in (".geojson", ".json"):
        return _checked(path, _geojson_rows(path), source)
    raise BadLandmarkFile(f"{path.name}: expected a .csv or .geojson file")


def write_geojson(entries: Sequence[Entry], out_path: Path) -> None:
    """The region's landmark index as GeoJSON (streets as MultiLineStrings), written beside `out_path`
    and renamed into place, so a server starting meanwhile never reads half a file."""
    features = [_feature(e) for e in entries]
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8") as f:
        json.dump({"type": "FeatureCollection", "features": features}, f, ensure_ascii=False, separators=(",", ":"))
    os.replace(partial, out)


def _feature(entry: Entry) -> dict[str, Any]:
    place = entry.place
    if entry.line is not None:
        pieces = np.split(entry.line.points, np.flatnonzero(np.diff(entry.line.piece)) + 1)
        geometry: dict[str, Any] = {
            "type": "MultiLineString",
            "coordinates": [[[round(lon, 7), round(lat, 7)] for lat, lon in piece.tolist()] for piece in pieces],
        }
    else:
        geometry = {"type": "Point", "coordinates": [round(place.lon, 7), round(place.lat, 7)]}
    props = {
        "name": place.name,
        "kind": place.kind,
        "alt_names": list(entry.alt_names),
        "accuracy_m": place.accuracy_m,
        "kecamatan": place.kecamatan,
        "kelurahan": place.kelurahan,
        "code": place.code,
        "source": place.source,
    }
    return {"type": "Feature", "geometry": geometry, "properties": props}


def _csv_rows(path: Path) -> Iterable[tuple[dict[str, Any], BaseGeometry | None]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            fields = {c.strip().lower() for c in reader.fieldnames or ()}
            missing = {"name", "lat", "lon"} - fields
            if missing:
                raise BadLandmarkFile(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
            for row in reader:
                yield {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}, None
    except UnicodeDecodeError as exc:
        raise BadLandmarkFile(f"{path.name} is not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise BadLandmarkFile(f"{path.name} is not a readable CSV file: {exc}") from None


def _geojson_rows(path: Path) -> Iterable[tuple[dict[str, Any], BaseGeometry | None]]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadLandmarkFile(f"{path.name} is not JSON: {exc}") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise BadLandmarkFile(f"{path.name} is not a GeoJSON FeatureCollection")
    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        try:
            geom = shapely.geometry.shape(feature["geometry"])
        except Exception:  # shapely raises several kinds for a malformed geometry; the row is reported
            geom = None
        yield (dict(props) if isinstance(props, dict) else {}), geom


def _checked(path: Path, rows: Iterable[tuple[dict[str, Any], BaseGeometry | None]], source: str | None) -> list[Entry]:
    entries: list[Entry] = []
    problems: list[str] = []
    for n, (row, geom) in enumerate(rows, start=1):
        if n > MAX_ROWS:
            raise BadLandmarkFile(f"{path.name} has more than {MAX_ROWS} rows; clip it to the region first")
        try:
            entries.append(_entry(row, geom, source))
        except ValueError as exc:
            problems.append(f"row {n}: {exc}")
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise BadLandmarkFile(f"{path.name}: " + "; ".join(problems[:10]) + more)
    return entries


def _entry(row: dict[str, Any], geom: BaseGeometry | None, source: str | None) -> Entry:
    name = str(row.get("name") or "").strip()
    if not name:
        raise ValueError("no name")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"name is {len(name)} characters long; at most {MAX_NAME_CHARS}")
    alt = _alt_names(row.get("alt_names", row.get("alt_name")))
    kind = str(row.get("kind") or "").strip() or "landmark"
    where = {
        "kecamatan": _text(row.get("kecamatan")),
        "kelurahan": _text(row.get("kelurahan")),
        "source": _text(row.get("source")) or source,
    }
    if geom is not None and geom.geom_type in ("LineString", "MultiLineString") and not geom.is_empty:
        parts = getattr(geom, "geoms", [geom])
        line = Line([[(lat, lon) for lon, lat, *_ in part.coords] for part in parts])
        _check_point(*line.midpoint)
        return street(name, line, alt_names=alt, **where)
    if geom is not None and not geom.is_empty:
        point = geom.representative_point()
        lat, lon = point.y, point.x
    elif geom is None and "lat" in row:
        lat, lon = _number(row.get("lat"), "lat"), _number(row.get("lon"), "lon")
    else:
        raise ValueError("no usable geometry (a Point, LineString or Polygon)")
    _check_point(lat, lon)
    accuracy = _number(row["accuracy_m"], "accuracy_m") if row.get("accuracy_m") not in (None, "") else None
    if accuracy is not None and not 0 < accuracy <= 100_000:
        raise ValueError(f"accuracy_m {accuracy} is not between 0 and 100000 metres")
    place = Place(
        name, kind, _text(row.get("code")), where["kecamatan"], lat, lon, accuracy or DEFAULT_ACCURACY_M,
        where["kelurahan"], where["source"],
    )  # fmt: skip
    return Entry(place, alt)


def _alt_names(value: object) -> tuple[str, ...]:
    if isinstance(value, list):
        names = [str(v) for v in value]
    else:
        text = str(value or "")
        for sep in _SEPARATORS[1:]:
            text = text.replace(sep, _SEPARATORS[0])
        names = text.split(_SEPARATORS[0])
    return tuple(n.strip() for n in names if n.strip() and len(n.strip()) <= MAX_NAME_CHARS)


def _number(value: object, what: str) -> float:
    try:
        number = float(str(value).replace(",", ".")) if not isinstance(value, int | float) else float(value)
    except ValueError:
        raise ValueError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} {value!r} is not a finite number")
    return number


def _check_point(lat: float, lon: float) -> None:
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"coordinates out of range ({lat}, {lon})")


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def in_region(
    entries: Iterable[Entry], jurisdictions: Jurisdictions, *, max_outside_m: float
) -> tuple[list[Entry], int]:
    """The entries within `max_outside_m` of the region, each named with the kecamatan and kelurahan its
    point falls in (where the file did not say), and how many were left out as too far away."""
    kept: list[Entry] = []
    dropped = 0
    for entry in entries:
        place = entry.place
        where = jurisdictions.locate(place.lat, place.lon)
        if not where.inside_region and (where.distance_m or 0.0) > max_outside_m:
            dropped += 1
            continue
        named = dataclasses.replace(
            place,
            kecamatan=place.kecamatan or where.kecamatan_name,
            kelurahan=place.kelurahan or where.kelurahan_name,
        )
        kept.append(dataclasses.replace(entry, place=named))
    return kept, dropped
