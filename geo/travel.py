"""Travel-time models: how long each available unit would take to reach one incident.

A model answers for one incident and a whole fleet at once, in numpy arrays, because that is the
question a recommendation asks ("who is closest?") and because per-unit Python loops are what makes
closest-unit suggestions slow. Work that depends only on where the units are (their island, their
nearest road node) is done once in `origins()` and reused until the units move.

StraightLineModel is the fallback that always works: great-circle distance times a circuity factor
over a speed per unit type, faster for higher priority, and unreachable across water except for
boats. geo.roads.RoadModel answers the same questions over an OpenStreetMap road graph.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

import numpy as np
import numpy.typing as npt

from geo.arrays import BoolArray, FloatArray, IntArray
from geo.coords import validate_point
from geo.projection import great_circle_m

# Planning speeds in km/h through Indonesian town traffic with lights and siren, by unit type word.
# Assumptions to be calibrated against each command center's own en-route -> on-scene times.
DEFAULT_SPEED_KMH: Mapping[str, float] = MappingProxyType(
    {
        "damkar": 40.0,
        "pemadam": 40.0,
        "fire": 40.0,
        "ambulance": 45.0,
        "ambulans": 45.0,
        "psc": 45.0,
        "police": 50.0,
        "polisi": 50.0,
        "polri": 50.0,
        "satpol": 40.0,
        "bpbd": 40.0,
        "basarnas": 45.0,
        "sar": 45.0,
        "boat": 30.0,
        "kapal": 25.0,
        "perahu": 15.0,
        "rib": 40.0,
    }
)
DEFAULT_UNIT_SPEED_KMH = 40.0
# Lights-and-siren driving for the most urgent calls; P3 and below drive with traffic.
DEFAULT_PRIORITY_FACTOR: Mapping[int, float] = MappingProxyType({1: 1.2, 2: 1.1})
SEA_WORDS = ("boat", "kapal", "perahu")
SEA_TOKENS = frozenset({"rib"})
_TOKEN = re.compile(r"[a-z0-9]+")
LANDMASS = "landmass"


@dataclass(frozen=True, slots=True)
class Travel:
    """Per unit: seconds to the incident (inf when unreachable or beyond a bounded search), metres
    travelled, and whether the unit can get there at all by its means (road, or sea for boats)."""

    eta_s: FloatArray
    distance_m: FloatArray
    reachable: BoolArray


@dataclass(frozen=True, slots=True, eq=False)
class Origins:
    """A fleet snapshot prepared by one model (see `TravelModel.origins`); reuse until units move.

    `anchor` is model-specific, named by `anchor_kind`: the landmass of each unit for
    StraightLineModel ("landmass"), the road node for RoadModel ("road-node"); -1 means none.
    `offset_m` is the off-road leg from the unit to its anchor.
    """

    lat: FloatArray
    lon: FloatArray
    agency: IntArray  # index into `agencies`
    agencies: tuple[str, ...]
    speed_ms: FloatArray
    sea: BoolArray
    anchor: IntArray
    offset_m: FloatArray
    anchor_kind: str

    def __len__(self) -> int:
        return len(self.lat)

    def expect(self, anchor_kind: str) -> None:
        """Refuse origins prepared by another kind of model: their anchors would be misread."""
        if self.anchor_kind != anchor_kind:
            raise ValueError(f"these origins hold {self.anchor_kind} anchors; prepare them with this model")


class TravelModel(Protocol):
    """What dispatch/ needs from a travel-time model."""

    def origins(
        self,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        unit_type: Sequence[str],
        *,
        agency: Sequence[str] | None = None,
    ) -> Origins:
        """Prepare unit positions (vectorised); `agency` groups units for nearest_by_agency."""
        ...

    def travel(
        self, lat: float, lon: float, origins: Origins, *, priority: int = 3, nearest: int | None = None
    ) -> Travel:
        """ETAs of every unit to the incident. With `nearest`, only the `nearest` best units per
        agency must be exact; a model may report the others as eta inf to answer sooner."""
        ...


def is_sea_unit(unit_type: str) -> bool:
    """Boats reach islands: 'boat', 'speedboat', 'kapal', 'perahu', 'RIB' in the unit type."""
    text = unit_type.lower()
    return any(word in text for word in SEA_WORDS) or bool(SEA_TOKENS & set(_TOKEN.findall(text)))


def unit_speed_kmh(unit_type: str, table: Mapping[str, float], default: float) -> float:
    """The table entry for the unit type, or for the first of its words in the table, or default."""
    text = unit_type.lower()
    if text in table:
        return table[text]
    for token in _TOKEN.findall(text):
        if token in table:
            return table[token]
    return next((speed for word, speed in table.items() if len(word) > 3 and word in text), default)


def prepare_origins(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    unit_type: Sequence[str],
    agency: Sequence[str] | None,
    speed_kmh: Mapping[str, float],
    default_speed_kmh: float,
) -> tuple[FloatArray, FloatArray, IntArray, tuple[str, ...], FloatArray, BoolArray]:
    """The model-independent part of Origins: arrays, agency codes, speeds and the sea flag."""
    la = np.ascontiguousarray(lat, dtype=np.float64)
    lo = np.ascontiguousarray(lon, dtype=np.float64)
    if la.shape != lo.shape or la.ndim != 1 or len(unit_type) != len(la):
        raise ValueError("lat, lon and unit_type must be one-dimensional and of the same length")
    labels = list(agency) if agency is not None else list(unit_type)
    if len(labels) != len(la):
        raise ValueError("agency must have one entry per unit")
    agencies = tuple(sorted(set(labels)))
    code = {name: i for i, name in enumerate(agencies)}
    kinds = {t: (unit_speed_kmh(t, speed_kmh, default_speed_kmh) / 3.6, is_sea_unit(t)) for t in set(unit_type)}
    speed = np.array([kinds[t][0] for t in unit_type], dtype=np.float64)
    sea = np.array([kinds[t][1] for t in unit_type], dtype=np.bool_)
    return la, lo, np.array([code[a] for a in labels], dtype=np.int64), agencies, speed, sea


class StraightLineModel:
    """Great-circle distance × circuity over a speed per unit type; island-aware when given
    `island_of` (e.g. Jurisdictions.island_of), so land units are not sent across the sea."""

    def __init__(
        self,
        circuity: float = 1.4,
        speed_kmh: Mapping[str, float] = DEFAULT_SPEED_KMH,
        priority_factor: Mapping[int, float] = DEFAULT_PRIORITY_FACTOR,
        island_of: Callable[[float, float], int | None] | None = None,
        *,
        islands_of: Callable[[FloatArray, FloatArray], IntArray] | None = None,
        default_speed_kmh: float = DEFAULT_UNIT_SPEED_KMH,
        sea_circuity: float = 1.2,
    ) -> None:
        self.circuity = circuity
        self.sea_circuity = sea_circuity
        self.speed_kmh = speed_kmh
        self.default_speed_kmh = default_speed_kmh
        self.priority_factor = priority_factor
        self.island_of = island_of
        self.islands_of = islands_of

    def origins(
        self,
        lat: npt.ArrayLike,
        lon: npt.ArrayLike,
        unit_type: Sequence[str],
        *,
        agency: Sequence[str] | None = None,
        island: npt.ArrayLike | None = None,
    ) -> Origins:
        """Prepare a fleet. `island` takes precomputed landmass ids (-1 = none) to skip the lookup."""
        la, lo, code, agencies, speed, sea = prepare_origins(
            lat, lon, unit_type, agency, self.speed_kmh, self.default_speed_kmh
        )
        if island is not None:
            anchor = np.asarray(island, dtype=np.int64)
        elif self.islands_of is not None:
            anchor = np.asarray(self.islands_of(la, lo), dtype=np.int64)
        elif self.island_of is not None:
            found = (self.island_of(a, b) for a, b in zip(la.tolist(), lo.tolist(), strict=True))
            anchor = np.array([-1 if i is None else i for i in found], dtype=np.int64)
        else:
            anchor = np.full(len(la), -1, dtype=np.int64)
        return Origins(la, lo, code, agencies, speed, sea, anchor, np.zeros(len(la)), LANDMASS)

    def travel(
        self, lat: float, lon: float, origins: Origins, *, priority: int = 3, nearest: int | None = None
    ) -> Travel:
        """All units, exactly (`nearest` is accepted for the protocol; everything is cheap here).

        A unit is unreachable when it and the incident are on different known landmasses and it is
        not a boat; an unknown landmass on either side (at sea, across a land border) does not block.
        """
        lat, lon = validate_point(lat, lon)
        origins.expect(LANDMASS)
        here = self.island_of(lat, lon) if self.island_of is not None else None
        distance = great_circle_m(lat, lon, origins.lat, origins.lon)
        distance *= np.where(origins.sea, self.sea_circuity, self.circuity)
        reachable = origins.sea | (origins.anchor < 0)
        if here is not None:
            reachable |= origins.anchor == here
        else:
            reachable[:] = True
        speed = origins.speed_ms * self.priority_factor.get(priority, 1.0)
        eta = np.where(reachable, distance / speed, np.inf)
        return Travel(eta, distance, reachable)


def estimate(
    model: TravelModel,
    lat: float,
    lon: float,
    unit_lat: npt.ArrayLike,
    unit_lon: npt.ArrayLike,
    unit_type: Sequence[str],
    *,
    priority: int = 3,
) -> Travel:
    """One-shot convenience: prepare the fleet and estimate. Prefer origins() + travel() when the
    same fleet serves many incidents."""
    return model.travel(lat, lon, model.origins(unit_lat, unit_lon, unit_type), priority=priority)


def nearest_by_agency(travel: Travel, origins: Origins, k: int = 3) -> dict[str, IntArray]:
    """Per agency, the indices of its k reachable units with the smallest ETA, best first."""
    eta = np.where(travel.reachable, travel.eta_s, np.inf)
    order = np.lexsort((eta, origins.agency))
    ranked_agency = origins.agency[order]
    starts = np.searchsorted(ranked_agency, np.arange(len(origins.agencies)))
    out: dict[str, IntArray] = {}
    for g, name in enumerate(origins.agencies):
        top = order[starts[g] : starts[g] + k]
        top = top[(origins.agency[top] == g) & np.isfinite(eta[top])]
        out[name] = top.astype(np.int64)
    return out
