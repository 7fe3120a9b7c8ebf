"""Reading an OpenStreetMap .osm.pbf extract (through pyrosm): drivable roads, and named landmarks and
streets.

Roads come out as plain arrays of directed edges with a travel time each: one-way streets are kept
one-way, and a road's speed is the planning speed of its highway class, lowered to its posted
maxspeed where that is lower. Class speeds assume Indonesian town traffic, not free-flow limits.
Landmarks come out as gazetteer entries (geo.gazetteer.Entry); streets keep their lines.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.arrays import BoolArray, FloatArray, IntArray
from geo.errors import BadOsmFile
from geo.gazetteer import Entry, Place
from geo.landmarks import Line, street

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
_M_PER_DEG = 111_320.0


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


# What makes a mapped thing a landmark a caller names: the tags it is drawn with (issue 24). Values
# True take every value of the tag; a building, a place or a highway counts only with a name.
LANDMARK_TAGS: Mapping[str, bool | list[str]] = MappingProxyType(
    {
        "amenity": True,  # worship, schools, markets, hospitals, offices of government, stations ...
        "shop": True,
        "tourism": True,
        "healthcare": True,
        "office": True,
        "leisure": ["park", "stadium", "sports_centre", "pitch"],
        "historic": True,
        "public_transport": ["station"],
        "railway": ["station", "halt"],
        "aeroway": ["aerodrome", "terminal"],
        "place": True,
        "building": True,
    }
)
# The OSM value, said the way the console shows it; others keep their OSM value.
LANDMARK_KINDS: Mapping[str, str] = MappingProxyType(
    {
        "hospital": "rumah_sakit",
        "clinic": "klinik",
        "doctors": "klinik",
        "place_of_worship": "ibadah",
        "marketplace": "pasar",
        "school": "sekolah",
        "university": "kampus",
        "college": "kampus",
        "townhall": "kantor_pemerintah",
        "police": "polisi",
        "fire_station": "damkar",
        "bus_station": "terminal",
        "ferry_terminal": "pelabuhan",
        "aerodrome": "bandara",
        "station": "stasiun",
        "supermarket": "toko",
        "mall": "mal",
        "building": "bangunan",
    }
)
ALT_NAME_TAGS = ("name:id", "alt_name", "old_name", "short_name", "official_name", "loc_name")
# Ways of one name closer than this (degrees, ~55 m) are pieces of one street.
STREET_JOIN_DEG = 0.0005
# Named highways that are not streets a caller stands on.
_NOT_STREETS = frozenset({"platform", "bus_stop", "construction", "proposed", "elevator", "corridor"})


def read_landmarks(pbf_path: Path) -> list[Entry]:
    """The named places and named streets of an extract: places as points (a building or an area at a
    point inside it), streets as lines, each with its alternative names. Raises BadOsmFile when the
    file is missing or not OSM PBF; an extract without any is an empty list."""
    osm = _open(Path(pbf_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pois = osm.get_pois(custom_filter=dict(LANDMARK_TAGS))
            ways = osm.get_data_by_custom_criteria(
                custom_filter={"highway": True}, filter_type="keep", keep_nodes=False, keep_relations=False
            )
        except Exception as exc:  # pyrosm's parse errors come as several kinds
            raise BadOsmFile(f"{Path(pbf_path).name} could not be read as OpenStreetMap PBF data: {exc}") from exc
    return [*_places(pois), *_streets(ways)]


def _open(path: Path) -> Any:
    if not path.is_file():
        raise BadOsmFile(f"{path} does not exist or is not a file")
    if path.suffix != ".pbf":
        raise BadOsmFile(f"{path.name} is not an OpenStreetMap extract: expected a .osm.pbf file")
    from pyrosm import OSM  # heavy (pandas, geopandas): only the import command needs it

    try:
        return OSM(str(path))
    except Exception as exc:
        raise BadOsmFile(f"{path.name} could not be read as OpenStreetMap PBF data: {exc}") from exc


def _places(frame: Any) -> list[Entry]:
    if frame is None or len(frame) == 0 or "name" not in frame.columns:
        return []
    out: list[Entry] = []
    columns = [c for c in LANDMARK_TAGS if c in frame.columns]
    for row in frame[frame["name"].notna()].itertuples(index=False):
        name, geom = str(row.name).strip(), row.geometry
        if not name or geom is None or geom.is_empty:
            continue
        tag = next(((c, v) for c in columns if isinstance(v := getattr(row, c), str) and v), None)
        kind = "landmark" if tag is None else tag[1] if tag[1] not in ("yes", "true") else tag[0]
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        accuracy = max(20.0, round(math.sqrt(geom.area * (_M_PER_DEG**2) * math.cos(math.radians(point.y)) / math.pi)))
        place = Place(name, LANDMARK_KINDS.get(kind, kind), None, None, point.y, point.x, accuracy, None, "osm")
        out.append(Entry(place, _alt_names(name, _tags(row))))
    return out


def _streets(frame: Any) -> list[Entry]:
    if frame is None or len(frame) == 0 or "name" not in frame.columns:
        return []
    named = frame[frame["name"].notna()]
    groups: dict[str, list[tuple[BaseGeometry, dict[str, str]]]] = {}
    areas: list[Entry] = []
    for row in named.itertuples(index=False):
        name, geom = str(row.name).strip(), row.geometry
        if not name or geom is None or geom.is_empty or str(row.highway) in _NOT_STREETS:
            continue
        if geom.geom_type in ("Polygon", "MultiPolygon"):  # a pedestrian square: a place, not a line
            point = geom.representative_point()
            areas.append(Entry(Place(name, "alun_alun", None, None, point.y, point.x, 50.0, None, "osm")))
            continue
        groups.setdefault(name, []).append((geom, _tags(row)))
    streets = [
        street(name, Line(parts), alt_names=alt, source="osm")
        for name, ways in groups.items()
        for parts, alt in _joined(name, ways)
    ]
    return [*streets, *areas]


def _joined(name: str, ways: list[tuple[BaseGeometry, dict[str, str]]]) -> list[tuple[list[Any], tuple[str, ...]]]:
    """Ways of one name joined into streets: those within STREET_JOIN_DEG of each other are one street
    ("Gang Mawar" in two kelurahan is two streets)."""
    geoms = [g for g, _ in ways]
    parent = list(range(len(geoms)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(geoms) > 1:
        left, right = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=STREET_JOIN_DEG)
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            parent[root(a)] = root(b)
    clusters: dict[int, list[int]] = {}
    for i in range(len(geoms)):
        clusters.setdefault(root(i), []).append(i)
    out = []
    for members in clusters.values():
        parts = [[(lat, lon) for lon, lat, *_ in piece.coords] for i in members for piece in _pieces(geoms[i])]
        alt = {a for i in members for a in _alt_names(name, ways[i][1])}
        out.append((parts, tuple(sorted(alt))))
    return out


def _pieces(geom: BaseGeometry) -> list[Any]:
    return list(getattr(geom, "geoms", [geom]))


def _tags(row: Any) -> dict[str, str]:
    raw = getattr(row, "tags", None)
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, str) and raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
    return {}


def _alt_names(name: str, tags: Mapping[str, str]) -> tuple[str, ...]:
    found = [v.strip() for t in ALT_NAME_TAGS for v in tags.get(t, "").split(";")]
    return tuple(dict.fromkeys(a for a in found if a and a != name))
