"""Which kecamatan and kelurahan a point falls in, whether it is ours at all, and how close to the border.

All geometry is held in local metres (see geo.projection), so every distance reported here is in
metres on the ground, and point-in-polygon tests go through STRtree indexes: a locate() is a few
tens of microseconds even for Banggai's 337 desa.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo import regionfiles as rf
from geo.arrays import FloatArray, IntArray
from geo.coords import BBox, validate_point
from geo.islands import IslandPoint, Landmasses, outline_segments
from geo.projection import LocalProjection


@dataclass(frozen=True, slots=True)
class Location:
    """Where a point is, administratively. The `nearest_*` fields and `distance_m` are set only
    when the point is outside the region, to say which of our kecamatan it is closest to."""

    inside_region: bool
    kecamatan_code: str | None
    kecamatan_name: str | None
    kelurahan_code: str | None
    kelurahan_name: str | None
    near_border: bool
    border_distance_m: float
    nearest_code: str | None = None
    nearest_name: str | None = None
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class AreaPoints:
    """One representative point per kelurahan/desa (always inside its polygon, unlike a centroid)."""

    codes: tuple[str, ...]
    names: tuple[str, ...]
    lat: FloatArray
    lon: FloatArray


@dataclass(frozen=True, slots=True)
class _Area:
    code: str
    name: str
    parent: str  # kecamatan code; for a kecamatan its own


class Jurisdictions:
    """Spatial indexes over one region's kecamatan and kelurahan polygons."""

    def __init__(
        self,
        boundary: BaseGeometry,
        kecamatan: list[tuple[dict[str, Any], BaseGeometry]],
        kelurahan: list[tuple[dict[str, Any], BaseGeometry]],
        islands: list[IslandPoint],
        *,
        border_margin_m: float = 2000.0,
        kelurahan_tolerance_m: float = 300.0,
        island_tolerance_m: float = 500.0,
    ) -> None:
        west, south, east, north = shapely.union_all([boundary, *(g for _, g in kecamatan)]).bounds
        self.bbox = BBox(south, west, north, east)
        self.projection = LocalProjection((south + north) / 2, (west + east) / 2)
        self.border_margin_m = border_margin_m
        self.kelurahan_tolerance_m = kelurahan_tolerance_m

        self._kec = [_Area(str(p["kode"]), str(p["nama"]), str(p["kode"])) for p, _ in kecamatan]
        self._kel = [_Area(str(p["kode"]), str(p["nama"]), str(p["kode_kec"])) for p, _ in kelurahan]
        self._kec_index = {a.code: i for i, a in enumerate(self._kec)}
        self._kel_lonlat = [g for _, g in kelurahan]
        kec_m = self._to_metres([g for _, g in kecamatan])
        kel_m = self._to_metres(self._kel_lonlat)
        self._kec_tree = shapely.STRtree(kec_m)
        self._kel_tree = shapely.STRtree(kel_m)
        self._kel_m = kel_m
        self._kec_m = kec_m

        # The region is what either source calls ours: the kabupaten outline and the kecamatan
        # dissolved from desa are simplified differently and disagree by a few km² along the edges.
        boundary_m = self._to_metres([boundary])[0]
        region_m = shapely.make_valid(shapely.union_all([boundary_m, *kec_m]))
        self._region = region_m
        shapely.prepare(self._region)
        self._border_tree = shapely.STRtree(outline_segments(np.array([region_m]))[0])
        kec_segments, self._kec_segment_owner = outline_segments(kec_m)
        self._kec_segment_tree = shapely.STRtree(kec_segments)
        self.landmasses = Landmasses(region_m, islands, self.projection, tolerance_m=island_tolerance_m)
        self._lock = threading.Lock()  # prepared polygons are not for two threads at once (geo/islands.py)

    @classmethod
    def load(
        cls,
        region_dir: Path,
        *,
        border_margin_m: float = 2000.0,
        kelurahan_tolerance_m: float = 300.0,
        island_tolerance_m: float = 500.0,
    ) -> Jurisdictions:
        """Read boundary, kecamatan, kelurahan and islands from `region_dir` (a region's geo folder)."""
        boundary = shapely.union_all([g for _, g in rf.read_features(region_dir / rf.BOUNDARY)])
        return cls(
            boundary,
            rf.read_features(region_dir / rf.KECAMATAN),
            rf.read_features(region_dir / rf.KELURAHAN),
            _read_islands(region_dir / rf.ISLANDS),
            border_margin_m=border_margin_m,
            kelurahan_tolerance_m=kelurahan_tolerance_m,
            island_tolerance_m=island_tolerance_m,
        )

    def locate(self, lat: float, lon: float) -> Location:
        """The kecamatan/kelurahan containing the point, or the nearest kecamatan when it is outside.

        Raises BadCoordinates for NaN, out-of-range or swapped coordinates.
        """
        lat, lon = validate_point(lat, lon, bbox=self.bbox)
        with self._lock:
            return self._locate(shapely.Point(*self.projection.xy(lat, lon)))

    def _locate(self, point: BaseGeometry) -> Location:
        border_m = float(self._border_tree.query_nearest(point, return_distance=True)[1][0])
        near_border = border_m <= self.border_margin_m
        kel_hits = _containing(self._kel_tree, self._kel_m, point)
        if len(kel_hits):
            area = self._kel[int(kel_hits.min())]  # desa overlaps are slivers: either answer is fine
            kec = self._kec[self._kec_index[area.parent]]
            return Location(True, kec.code, kec.name, area.code, area.name, near_border, border_m)
        kec_hits = _containing(self._kec_tree, self._kec_m, point)
        if len(kec_hits):
            kec, distance = self._kec[int(kec_hits.min())], 0.0
        else:
            segment, found = self._kec_segment_tree.query_nearest(point, return_distance=True)
            kec, distance = self._kec[int(self._kec_segment_owner[segment[0]])], float(found[0])
        if not (len(kec_hits) or self._region.intersects(point)):
            return Location(False, None, None, None, None, True, border_m, kec.code, kec.name, distance)
        kel = self._nearest_kelurahan(point, kec.code)
        kel_code, kel_name = (kel.code, kel.name) if kel else (None, None)
        return Location(True, kec.code, kec.name, kel_code, kel_name, near_border, border_m)

    def island_of(self, lat: float, lon: float) -> int | None:
        """Index of the landmass the point is on (0 = largest), or None at sea / off our map."""
        lat, lon = validate_point(lat, lon)
        return self.landmasses.index_of(lat, lon)

    def islands_of(self, lat: FloatArray, lon: FloatArray) -> IntArray:
        """Vectorised island_of for a fleet, with -1 for none; no validation, for speed."""
        return self.landmasses.indices_of(lat, lon)

    def kelurahan_points(self) -> AreaPoints:
        """A representative point per kelurahan/desa, e.g. for coverage maps."""
        points = shapely.point_on_surface(np.array(self._kel_lonlat, dtype=object))
        coords = shapely.get_coordinates(points)
        return AreaPoints(
            tuple(a.code for a in self._kel),
            tuple(a.name for a in self._kel),
            np.ascontiguousarray(coords[:, 1]),
            np.ascontiguousarray(coords[:, 0]),
        )

    def _nearest_kelurahan(self, point: BaseGeometry, kecamatan_code: str) -> _Area | None:
        """The closest kelurahan of this kecamatan within tolerance: the simplified desa polygons
        leave slivers and sea gaps that the kecamatan outline covers."""
        candidates = self._kel_tree.query(point, predicate="dwithin", distance=self.kelurahan_tolerance_m)
        best: tuple[float, int] | None = None
        for i in candidates.tolist():
            if self._kel[i].parent == kecamatan_code:
                d = float(self._kel_m[i].distance(point))
                best = min(best, (d, i)) if best else (d, i)
        return self._kel[best[1]] if best else None

    def _to_metres(self, geoms: list[BaseGeometry]) -> Any:
        out = shapely.transform(np.array(geoms, dtype=object), self.projection.to_metres)
        shapely.prepare(out)
        return out


def _containing(tree: shapely.STRtree, prepared: Any, point: BaseGeometry) -> IntArray:
    """Indices of the polygons containing the point: the tree's bounding boxes narrow the candidates,
    then the prepared polygons decide (faster than the tree's own predicate evaluation)."""
    candidates = tree.query(point)
    hits: IntArray = candidates[shapely.intersects(prepared[candidates], point)]
    return hits


def _read_islands(path: Path) -> list[IslandPoint]:
    if not path.exists():
        return []
    return [
        IslandPoint(r["nama"], float(r["lat"]), float(r["lng"]), rf.as_float(r.get("luas_km2")))
        for r in rf.read_rows(path)
    ]
