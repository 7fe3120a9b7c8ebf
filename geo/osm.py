"""Reading drivable roads out of an OpenStreetMap .osm.pbf extract (through pyrosm).

The result is plain arrays of directed edges with a travel time each: one-way streets are kept
one-way, and a road's speed is the planning speed of its highway class, lowered to its posted
maxspeed where that is lower. Class speeds assume Indonesian town traffic, not free-flow limits.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from geo.arrays import BoolArray, FloatArray, IntArray
from geo.errors import BadOsmFile

HIGHWAY_SPEED_KMH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 80.0,
        "motorway_link": 50.0,
        "trunk": 60.0,
        "trunk_link": 40.0,
        "primary": 50.0,
        "primary_link": 35.0,
        "secondary": 40.0,
        "secondary_link": 30.0,
        "tertiary": 35.0,
        "tertiary_link": 25.0,
        "unclassified": 30.0,
        "residential": 25.0,
        "road": 25.0,
        "service": 15.0,
        "living_street": 10.0,
    }
)
DEFAULT_ROAD_SPEED_KMH = 25.0
_FORWARD_ONLY = frozenset({"yes", "true", "1"})
_BACKWARD_ONLY = frozenset({"-1", "reverse"})
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?")


@dataclass(frozen=True, slots=True)
class OsmRoads:
    """Directed road edges between OSM nodes, by node position in `node_id`."""

    node_id: IntArray
    lat: FloatArray
    lon: FloatArray
    src: IntArray
    dst: IntArray
    length_m: FloatArray
    time_s: FloatArray


def read_drivable(pbf_path: Path, *, speed_kmh: Mapping[str, float] = HIGHWAY_SPEED_KMH) -> OsmRoads:
    """The driving network of an extract; raises BadOsmFile when there is none to be had."""
    nodes, edges = _network(pbf_path)
    node_id = nodes["id"].to_numpy(dtype=np.int64)
    order = np.argsort(node_id)
    node_id = node_id[order]
    lat = nodes["lat"].to_numpy(dtype=np.float64)[order]
    lon = nodes["lon"].to_numpy(dtype=np.float64)[order]
    u = _positions(node_id, edges["u"].to_numpy(dtype=np.int64))
    v = _positions(node_id, edges["v"].to_numpy(dtype=np.int64))
    length = edges["length"].to_numpy(dtype=np.float64)
    highway = _text(edges, "highway")
    speed = np.array([speed_kmh.get(h, DEFAULT_ROAD_SPEED_KMH) for h in highway])
    posted = np.array([parse_maxspeed(m) for m in _text(edges, "maxspeed")])
    speed = np.fmin(speed, posted)  # fmin: a missing (NaN) maxspeed leaves the class speed
    forward, backward = directions(_text(edges, "oneway"), _text(edges, "junction"), highway)
    usable = (u >= 0) & (v >= 0) & (u != v) & np.isfinite(length)
    fwd, bwd = usable & forward, usable & backward
    time = length / (speed / 3.6)
    return OsmRoads(
        node_id,
        lat,
        lon,
        np.concatenate([u[fwd], v[bwd]]),
        np.concatenate([v[fwd], u[bwd]]),
        np.concatenate([length[fwd], length[bwd]]),
        np.concatenate([time[fwd], time[bwd]]),
    )


def directions(oneway: list[str], junction: list[str], highway: list[str]) -> tuple[BoolArray, BoolArray]:
    """Whether each way segment may be driven along (u -> v) and against (v -> u) its drawing order.

    Roundabouts and motorways are one-way unless tagged otherwise, as OSM defines them;
    `oneway=reversible` (direction changes by time of day) is treated as two-way.
    """
    ow = np.array(oneway, dtype=object)
    implied = np.array(
        [j in ("roundabout", "circular") or h == "motorway" for j, h in zip(junction, highway, strict=True)]
    )
    forward_only = np.isin(ow, list(_FORWARD_ONLY)) | (implied & (ow == ""))
    backward_only = np.isin(ow, list(_BACKWARD_ONLY))
    return ~backward_only, ~forward_only


def parse_maxspeed(value: str) -> float:
    """km/h from an OSM maxspeed ('50', '30 mph', '40;60' -> 40); NaN when not a number ('none')."""
    match = _NUMBER.match(value.split(";")[0])
    if not match:
        return float("nan")
    speed = float(match.group(1)) * (1.609344 if match.group(2) == "mph" else 1.0)
    return speed if speed >= 5.0 else float("nan")


def _network(pbf_path: Path) -> tuple[Any, Any]:
    """pyrosm's (nodes, edges) frames, with every way pyrosm fails translated into BadOsmFile."""
    path = Path(pbf_path)
    if not path.is_file():
        raise BadOsmFile(f"{path} does not exist or is not a file")
    if path.suffix != ".pbf":
        raise BadOsmFile(f"{path.name} is not an OpenStreetMap extract: expected a .osm.pbf file")
    from pyrosm import OSM  # heavy (pandas, geopandas): only the import command needs it

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty result is a warning in pyrosm; we raise instead
            network = OSM(str(path)).get_network(network_type="driving", nodes=True)
    except Exception as exc:  # pyrosm raises ValueError, its own PBFException and decoder errors
        raise BadOsmFile(f"{path.name} could not be read as OpenStreetMap PBF data: {exc}") from exc
    nodes, edges = network if network is not None else (None, None)
    if nodes is None or edges is None or len(edges) == 0:
        raise BadOsmFile(f"{path.name} holds no drivable roads (highway=primary, residential, ...)")
    return nodes, edges


def _positions(sorted_ids: IntArray, ids: IntArray) -> IntArray:
    """Position of each id in sorted_ids, or -1 when absent."""
    pos = np.searchsorted(sorted_ids, ids)
    pos = np.minimum(pos, len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1).astype(np.int64)


def _text(frame: Any, column: str) -> list[str]:
    """A tag column as lowercase strings, '' where missing (or when no way has the tag at all)."""
    if column not in frame.columns:
        return [""] * len(frame)
    return ["" if not isinstance(v, str) else v.strip().lower() for v in frame[column].tolist()]
