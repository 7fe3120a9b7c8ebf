"""Landmasses of a region: which island a point is on, so nobody sends an ambulance across the sea.

A landmass is one polygon part of the region (boundary ∪ kecamatan, in local metres), numbered by
area, largest first, so 0 is the main island. Islands listed in islands.csv that no polygon covers
(small, or dropped by the upstream simplification; Banggai has several) become extra landmasses: a
disc of their recorded area around their point. A point more than `tolerance_m` from every landmass
is on none of them (at sea, or across a land border), which callers treat as "unknown".
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from geo.arrays import IntArray
from geo.projection import LocalProjection

# Radius given to a listed island of unknown area: about a 0.1 km² islet.
DEFAULT_ISLET_RADIUS_M = 180.0
# A listed island point this close to a polygon is on it (the CSV points carry 4 decimals, ~11 m).
ON_POLYGON_M = 50.0


@dataclass(frozen=True, slots=True)
class IslandPoint:
    """One row of islands.csv: a named island with a point and, when known, an area."""

    name: str
    lat: float
    lon: float
    area_km2: float | None


class Landmasses:
    """Point -> landmass index lookups, one at a time or vectorised for a fleet of units."""

    def __init__(
        self,
        region_m: BaseGeometry,
        islands: Sequence[IslandPoint],
        projection: LocalProjection,
        *,
        tolerance_m: float = 500.0,
    ) -> None:
        parts = sorted(shapely.get_parts(region_m).tolist(), key=lambda g: -float(g.area))
        names: list[str | None] = [None] * len(parts)
        discs: list[BaseGeometry] = []
        part_tree = shapely.STRtree(parts)
        for island in islands:
            point = shapely.Point(*projection.xy(island.lat, island.lon))
            hit = part_tree.query_nearest(point, max_distance=ON_POLYGON_M)
            if len(hit):
                i = int(hit.min())
                if names[i] is None and _similar_area(island.area_km2, float(parts[i].area) / 1e6):
                    names[i] = island.name
                continue
            radius = math.sqrt(island.area_km2 * 1e6 / math.pi) if island.area_km2 else DEFAULT_ISLET_RADIUS_M
            discs.append(point.buffer(radius, quad_segs=4))
            names.append(island.name)
        geoms = np.array([*parts, *discs], dtype=object)
        shapely.prepare(geoms)
        self._geoms = geoms
        self._tree = shapely.STRtree(geoms)
        segments, self._outline_owner = outline_segments(geoms)
        self._outline_tree = shapely.STRtree(segments)
        self._names = tuple(names)
        self._projection = projection
        self.tolerance_m = tolerance_m
        # GEOS builds a prepared polygon's point locator on its first use, and shapely lets go of the GIL while
        # it runs: two threads using one polygon for the first time corrupted the heap and aborted the server
        # (two escalation passes at once). One lookup at a time; a fleet's lookup takes about a millisecond.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._names)

    def name(self, index: int) -> str | None:
        """The listed island this landmass is (by matching area), if any."""
        return self._names[index]

    def index_of(self, lat: float, lon: float) -> int | None:
        """The landmass containing the point or within tolerance_m of it, else None."""
        found = self.indices_of(np.array([lat]), np.array([lon]))[0]
        return None if found < 0 else int(found)

    def indices_of(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> IntArray:
        """Vectorised index_of with -1 for none; compute once per fleet update and reuse."""
        with self._lock:
            return self._indices_of(lat, lon)

    def _indices_of(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> IntArray:
        points = shapely.points(self._projection.xy_many(lat, lon))
        out = np.full(len(points), -1, dtype=np.int64)
        # Bounding boxes from the tree, then the prepared polygons: much faster than a predicate query.
        point_idx, geom_idx = self._tree.query(points)
        inside = shapely.intersects(self._geoms[geom_idx], points[point_idx])
        _assign_lowest(out, point_idx[inside], geom_idx[inside])
        rest = np.flatnonzero(out < 0)
        if len(rest):
            point_idx, seg_idx = self._outline_tree.query_nearest(
                points[rest], max_distance=self.tolerance_m, all_matches=True
            )
            _assign_lowest(out, rest[point_idx], self._outline_owner[seg_idx])
        return out


def _similar_area(listed_km2: float | None, polygon_km2: float) -> bool:
    """Whether a listed island plausibly is this polygon, not merely a point on a bigger landmass."""
    return listed_km2 is not None and 0.25 <= polygon_km2 / max(listed_km2, 1e-6) <= 4.0


def outline_segments(areas: npt.NDArray[np.object_]) -> tuple[npt.NDArray[np.object_], IntArray]:
    """The rings of each (multi)polygon cut into two-point segments, and the area each came from.

    Nearest-area queries go to these: measuring the distance to a whole polygon walks all its
    vertices, a segment tree touches a handful."""
    polygons, area_of_polygon = shapely.get_parts(areas, return_index=True)
    rings, polygon_of_ring = shapely.get_rings(polygons, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    starts = np.flatnonzero(ring_idx[:-1] == ring_idx[1:])
    pairs = np.stack([coords[starts], coords[starts + 1]], axis=1)
    owner = area_of_polygon[polygon_of_ring[ring_idx[starts]]]
    return shapely.linestrings(pairs), owner.astype(np.int64)


def _assign_lowest(out: IntArray, point_idx: IntArray, geom_idx: IntArray) -> None:
    """out[p] = the lowest landmass index paired with p: on a tie the larger landmass wins."""
    order = np.lexsort((geom_idx, point_idx))
    point_idx, geom_idx = point_idx[order], geom_idx[order]
    first = np.unique(point_idx, return_index=True)[1]
    out[point_idx[first]] = geom_idx[first]
