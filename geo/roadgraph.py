"""A directed road graph in compressed sparse rows, searched with scipy's compiled Dijkstra.

Units drive to the incident, so travel times to one incident from many units are a single search
from the incident over the *reversed* graph. A search may be bounded (`limit`, in seconds of road
time): everything within the bound is exact, everything beyond is left at infinity.
Points are snapped to the nearest node with a k-d tree in local metres.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geo.arrays import FloatArray, IntArray
from geo.errors import BadRoadGraph
from geo.projection import LocalProjection
from geo.travel import Travel

FORMAT = "tanggap-roadgraph-1"
# Speed of the straight-line leg between a point and its nearest node: an alley, a yard, a field.
OFFROAD_SPEED_KMH = 10.0
# No edge is faster than this: scipy would otherwise read a zero weight as a missing edge.
MIN_EDGE_S = 0.01
_ARRAYS = ("lat", "lon", "osm_id", "indptr", "indices", "time_s", "length_m")


@dataclass(frozen=True, slots=True)
class Search:
    """One search from `source` over the reversed graph: road seconds and the predecessor of each
    node on its fastest path towards the source (-9999 for the source and unreached nodes)."""

    source: int
    limit_s: float
    time_s: FloatArray
    predecessor: npt.NDArray[np.int32]


class RoadGraph:
    """Nodes with positions; edges with travel time and length. Immutable once built."""

    def __init__(
        self,
        lat: FloatArray,
        lon: FloatArray,
        indptr: IntArray,
        indices: IntArray,
        time_s: FloatArray,
        length_m: FloatArray,
        osm_id: IntArray | None = None,
    ) -> None:
        n = len(lat)
        self.lat, self.lon = lat, lon
        self.osm_id = osm_id if osm_id is not None else np.arange(n, dtype=np.int64)
        self.indptr, self.indices, self.time_s, self.length_m = indptr, indices, time_s, length_m
        src = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        dst = indices.astype(np.int64)
        # The reversed graph, in row order, with each edge's length alongside for path lengths.
        order = np.lexsort((src, dst))
        rev_indptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=n))])
        self._reverse = csr_matrix((time_s[order], src[order].astype(np.int32), rev_indptr), shape=(n, n))
        self._reverse_indptr = rev_indptr.astype(np.int64)
        self._reverse_tail = src[order]
        self._reverse_length = length_m[order]
        self.projection = LocalProjection(float(np.mean(lat)), float(np.mean(lon)))
        self._kdtree = cKDTree(self.projection.xy_many(lat, lon))
        speeds = length_m / time_s
        self.typical_speed_ms = float(np.average(speeds, weights=length_m)) if len(speeds) else 1.0

    @classmethod
    def from_edges(
        cls,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        src: npt.ArrayLike,
        dst: npt.ArrayLike,
        time_s: npt.ArrayLike,
        length_m: npt.ArrayLike,
        osm_id: npt.ArrayLike | None = None,
    ) -> RoadGraph:
        """Build from directed edges: parallel edges keep the fastest, and only the largest strongly
        connected component stays (a node you can drive to but not back from strands units)."""
        la, lo = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
        s, d = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
        t = np.maximum(np.asarray(time_s, dtype=np.float64), MIN_EDGE_S)
        length = np.asarray(length_m, dtype=np.float64)
        ids = np.asarray(osm_id, dtype=np.int64) if osm_id is not None else np.arange(len(la), dtype=np.int64)
        order = np.lexsort((t, d, s))
        s, d, t, length = s[order], d[order], t[order], length[order]
        first = np.ones(len(s), dtype=bool)
        first[1:] = (s[1:] != s[:-1]) | (d[1:] != d[:-1])
        s, d, t, length = s[first], d[first], t[first], length[first]

        n = len(la)
        graph = csr_matrix((t, (s, d)), shape=(n, n))
        _, labels = connected_components(graph, directed=True, connection="strong")
        keep = labels == np.bincount(labels).argmax()
        new_index = np.cumsum(keep) - 1
        inside = keep[s] & keep[d]
        s, d, t, length = new_index[s[inside]], new_index[d[inside]], t[inside], length[inside]
        m = int(keep.sum())
        indptr = np.concatenate([[0], np.cumsum(np.bincount(s, minlength=m))]).astype(np.int64)
        return cls(la[keep], lo[keep], indptr, d, t, length, ids[keep])

    @classmethod
    def load(cls, path: Path) -> RoadGraph:
        """Read a graph written by save() (geo.roads.import_osm writes one)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["format"]) != FORMAT:
                    raise BadRoadGraph(f"{path} is a road graph of format {data['format']}, expected {FORMAT}")
                arrays = {name: data[name] for name in _ARRAYS}
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            if isinstance(exc, BadRoadGraph):
                raise
            raise BadRoadGraph(f"{path} is not a road graph written by geo.roads.import_osm: {exc}") from exc
        return cls(
            arrays["lat"],
            arrays["lon"],
            arrays["indptr"].astype(np.int64),
            arrays["indices"].astype(np.int64),
            arrays["time_s"],
            arrays["length_m"],
            arrays["osm_id"],
        )

    def save(self, path: Path) -> None:
        """Compressed .npz: node positions and OSM ids, forward edges as CSR with time and length."""
        with Path(path).open("wb") as f:
            np.savez_compressed(
                f,
                format=np.array(FORMAT),
                lat=self.lat,
                lon=self.lon,
                osm_id=self.osm_id,
                indptr=self.indptr,
                indices=self.indices.astype(np.int32),
                time_s=self.time_s,
                length_m=self.length_m,
            )

    @property
    def reversed_matrix(self) -> csr_matrix:
        """The reversed graph as a scipy CSR matrix of road seconds (row = edge head)."""
        return self._reverse

    @property
    def n_nodes(self) -> int:
        return len(self.lat)

    @property
    def n_edges(self) -> int:
        return len(self.indices)

    def snap(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
        """Nearest node of each point and the straight-line metres to it."""
        distance, node = self._kdtree.query(self.projection.xy_many(lat, lon))
        return np.asarray(node, dtype=np.int64), np.asarray(distance, dtype=np.float64)

    def search(self, source: int, *, limit_s: float = np.inf) -> Search:
        """Road seconds from every node to `source` (one compiled Dijkstra on the reversed graph)."""
        time, predecessor = dijkstra(
            self._reverse, directed=True, indices=source, limit=limit_s, return_predecessors=True
        )
        return Search(source, limit_s, time, predecessor)

    def etas(
        self,
        lat: float,
        lon: float,
        unit_nodes: npt.ArrayLike,
        *,
        unit_offset_m: npt.ArrayLike | None = None,
        limit_s: float = np.inf,
        offroad_speed_kmh: float = OFFROAD_SPEED_KMH,
    ) -> Travel:
        """Seconds and metres from each unit's node to the incident, by one search from the incident.

        Both ends add a straight off-road leg at `offroad_speed_kmh`: from the incident to its nearest
        node, and from each unit to its node (`unit_offset_m`, as returned by snap()). A node of -1
        is a unit off the network: unreachable. With `limit_s`, units further than that many seconds
        of road are reachable but left at eta inf.
        """
        node, incident_offset = self.snap([lat], [lon])
        search = self.search(int(node[0]), limit_s=limit_s)
        nodes = np.asarray(unit_nodes, dtype=np.int64)
        offset = np.zeros(len(nodes)) if unit_offset_m is None else np.asarray(unit_offset_m, dtype=np.float64)
        return self.combine(search, float(incident_offset[0]), nodes, offset, offroad_speed_kmh / 3.6)

    def combine(
        self,
        search: Search,
        incident_offset_m: float,
        unit_nodes: IntArray,
        unit_offset_m: FloatArray,
        offroad_speed_ms: float,
        *,
        road_factor: float = 1.0,
    ) -> Travel:
        """Travel for units from a finished search; road seconds are divided by `road_factor`."""
        on_network = unit_nodes >= 0
        nodes = np.where(on_network, unit_nodes, 0)
        offroad = unit_offset_m + incident_offset_m
        eta = search.time_s[nodes] / road_factor + offroad / offroad_speed_ms
        distance = self.path_lengths(search)[nodes] + offroad
        return Travel(np.where(on_network, eta, np.inf), np.where(on_network, distance, np.inf), on_network.copy())

    def path_lengths(self, search: Search) -> FloatArray:
        """Road metres along each reached node's fastest path (inf where not reached).

        Pointer doubling over the shortest-path tree: log2(depth) vectorised steps over the reached
        nodes instead of a Python walk per path.
        """
        reached = np.flatnonzero(np.isfinite(search.time_s))
        local = np.full(self.n_nodes, -1, dtype=np.int64)
        local[reached] = np.arange(len(reached))
        parent_node = search.predecessor[reached].astype(np.int64)
        has_parent = parent_node >= 0
        step = np.zeros(len(reached))
        step[has_parent] = self._edge_length(parent_node[has_parent], reached[has_parent])
        parent = np.where(has_parent, local[np.maximum(parent_node, 0)], np.arange(len(reached)))
        total = step
        while not np.array_equal(parent[parent], parent):
            total = total + total[parent]
            parent = parent[parent]
        out = np.full(self.n_nodes, np.inf)
        out[reached] = total
        return out

    def _edge_length(self, heads: IntArray, tails: IntArray) -> FloatArray:
        """Length of the reversed edge head -> tail for each pair, by scanning each head's row:
        road nodes have few edges, so a (pairs × max degree) comparison beats a global search."""
        start = self._reverse_indptr[heads]
        degree = self._reverse_indptr[heads + 1] - start
        width = np.arange(int(degree.max()) if len(degree) else 0)
        slots = np.minimum(start[:, None] + width, len(self._reverse_tail) - 1)
        match = (self._reverse_tail[slots] == tails[:, None]) & (width < degree[:, None])
        lengths: FloatArray = self._reverse_length[start + match.argmax(axis=1)]
        return lengths
