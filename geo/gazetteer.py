"""Place-name search for call-takers: type-ahead over the region's desa, kecamatan and islands.

A caller names a place the way it is said, not the way the register spells it; search() finds it
through four tiers, best first: an exact name or alias, a name starting with the query (what
type-ahead needs), a word starting with the query or a syllable short form ("Lubeg"), and finally a
fuzzy match for typos. Landmarks (hospitals, markets, mosques) can join from a CSV with the columns
name,lat,lon,accuracy_m,kind.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

from geo import regionfiles as rf
from geo.errors import BadQuery
from geo.names import abbreviations, normalize, strip_prefix, variants

MAX_QUERY_CHARS = 100
LANDMARKS = "landmarks.csv"
ALIASES = Path(__file__).with_name("aliases.csv")
# Accuracy given to a listed island of unknown area, in metres.
ISLAND_ACCURACY_M = 300.0
FUZZY_CUTOFF = 85.0
# Among equally good matches, the larger unit first: "Kuranji" the kecamatan before the kelurahan.
KIND_ORDER = {"kabupaten": 0, "kota": 0, "kecamatan": 1, "kelurahan": 2, "desa": 2, "pulau": 3}
_EXACT, _PREFIX, _PARTIAL, _FUZZY = range(4)


@dataclass(frozen=True, slots=True)
class Place:
    """A named place with a point and a radius saying how loosely that point stands for it."""

    name: str
    kind: str
    code: str | None
    kecamatan: str | None
    lat: float
    lon: float
    accuracy_m: float


class Gazetteer:
    """An in-memory name index; build once per region, search many times."""

    def __init__(self, places: Iterable[Place], *, aliases: Mapping[str, str] | None = None) -> None:
        self.places: tuple[Place, ...] = tuple(places)
        self._exact: dict[str, set[int]] = {}
        self._short: dict[str, set[int]] = {}
        self._word: dict[str, set[int]] = {}
        for i, place in enumerate(self.places):
            for key in variants(place.name):
                self._exact.setdefault(key, set()).add(i)
                for word in key.split()[1:]:
                    self._word.setdefault(word, set()).add(i)
            for key in abbreviations(place.name):
                self._short.setdefault(key, set()).add(i)
        for alias, target in (aliases if aliases is not None else read_aliases(ALIASES)).items():
            found = self._exact.get(strip_prefix(normalize(target)), set())
            for key in variants(alias):
                self._short.setdefault(key, set()).update(found)
        self._keys = sorted(self._exact)
        self._words = sorted(self._word)
        self._fuzzy_keys = [k for k in self._keys if len(k) > 3]

    @classmethod
    def load(cls, region_dir: Path, *, aliases: Mapping[str, str] | None = None) -> Gazetteer:
        """gazetteer.csv and islands.csv of a region's geo folder, and landmarks.csv when present.
        `aliases` (alias -> official name) replaces the built-in table in geo/aliases.csv."""
        places = list(read_gazetteer(region_dir / rf.GAZETTEER))
        if (region_dir / rf.ISLANDS).exists():
            places += read_islands(region_dir / rf.ISLANDS)
        if (region_dir / LANDMARKS).exists():
            places += read_landmarks(region_dir / LANDMARKS)
        return cls(places, aliases=aliases)

    def search(self, query: str, limit: int = 10) -> list[Place]:
        """Places matching `query`, best first. Raises BadQuery for an empty or over-long query."""
        forms = _query_forms(query)
        if limit < 1:
            raise BadQuery(f"limit must be at least 1, got {limit}")
        ranking = _Ranking()
        for form in forms | {f.replace(" ", "") for f in forms}:
            ranking.add(self._exact.get(form, ()), _EXACT, 100.0)
            if len(form) >= 4:
                ranking.add(self._short.get(form, ()), _PARTIAL, 95.0)
            for key in _starting_with(self._keys, form):
                ranking.add(self._exact[key], _PREFIX, 100.0)
        for form in forms:
            if len(form) >= 3:
                for word in _starting_with(self._words, form):
                    ranking.add(self._word[word], _PARTIAL, 90.0)
        if len(ranking.best) < limit:  # typos: only when the cheaper tiers left room
            for form in (f for f in forms if len(f) >= 3):
                matches = process.extract(
                    form,
                    self._fuzzy_keys,
                    scorer=fuzz.WRatio,
                    processor=None,
                    score_cutoff=FUZZY_CUTOFF,
                    limit=limit * 3,
                )
                for key, score, _ in matches:
                    ranking.add(self._exact[key], _FUZZY, float(score))
        order = sorted(ranking.best, key=lambda i: (*ranking.best[i], *self._tiebreak(i)))
        return [self.places[i] for i in order[:limit]]

    def _tiebreak(self, i: int) -> tuple[int, int, str]:
        place = self.places[i]
        return KIND_ORDER.get(place.kind, len(KIND_ORDER)), len(place.name), place.name


class _Ranking:
    """The best (tier, -score) seen per place; lower sorts first."""

    def __init__(self) -> None:
        self.best: dict[int, tuple[int, float]] = {}

    def add(self, indices: Iterable[int], tier: int, score: float) -> None:
        for i in indices:
            self.best[i] = min(self.best.get(i, (tier, -score)), (tier, -score))


def _query_forms(query: str) -> set[str]:
    """The normalized forms of a query, with and without spelling folding; BadQuery if unusable."""
    text = query.strip()
    if not text:
        raise BadQuery("the place name to search for is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise BadQuery(f"the place name is {len(text)} characters long; at most {MAX_QUERY_CHARS} are allowed")
    forms = {strip_prefix(normalize(text, fold_spelling=fold)) for fold in (True, False)} - {""}
    if not forms:
        raise BadQuery(f"the place name {text!r} has no letters or digits")
    return forms


def _starting_with(keys: Sequence[str], prefix: str) -> list[str]:
    """The keys of a sorted sequence that start with `prefix`."""
    out: list[str] = []
    for key in keys[bisect.bisect_left(keys, prefix) :]:
        if not key.startswith(prefix):
            break
        out.append(key)
    return out


def read_gazetteer(path: Path) -> Iterable[Place]:
    """Kabupaten/kota, kecamatan and desa/kelurahan rows of a region's gazetteer.csv."""
    for row in rf.read_rows(path):
        level = row["level"]
        if level == "kabupaten_kota":
            kind = "kota" if row["nama"].lower().startswith("kota ") else "kabupaten"
        elif level == "kecamatan":
            kind = "kecamatan"
        else:
            kind = row["jenis"] or "desa"
        area = rf.as_float(row.get("area_km2_polygon_approx")) or rf.as_float(row.get("luas_km2_official"))
        yield Place(
            name=row["nama"],
            kind=kind,
            code=row["kode"],
            kecamatan=row["nama_kec"] or None,
            lat=float(row["centroid_lat"]),
            lon=float(row["centroid_lng"]),
            accuracy_m=_radius_m(area) if area else ISLAND_ACCURACY_M,
        )


def read_islands(path: Path) -> list[Place]:
    """islands.csv rows as places of kind 'pulau'."""
    return [
        Place(
            name=row["nama"],
            kind="pulau",
            code=row["kode"],
            kecamatan=None,
            lat=float(row["lat"]),
            lon=float(row["lng"]),
            accuracy_m=max(_radius_m(area), 100.0) if (area := rf.as_float(row.get("luas_km2"))) else ISLAND_ACCURACY_M,
        )
        for row in rf.read_rows(path)
    ]


def read_landmarks(path: Path) -> list[Place]:
    """A landmarks CSV: name,lat,lon,accuracy_m,kind (and optionally code, kecamatan)."""
    return [
        Place(
            name=row["name"],
            kind=row["kind"] or "landmark",
            code=row.get("code") or None,
            kecamatan=row.get("kecamatan") or None,
            lat=float(row["lat"]),
            lon=float(row["lon"]),
            accuracy_m=float(row["accuracy_m"]),
        )
        for row in rf.read_rows(path)
    ]


def read_aliases(path: Path) -> dict[str, str]:
    """alias -> official name, from a CSV with the columns alias,name (and a free-text note)."""
    return {row["alias"]: row["name"] for row in rf.read_rows(path)}


def _radius_m(area_km2: float) -> float:
    """The radius of a circle of this area: how far the centroid may be from where the caller is."""
    return round(math.sqrt(area_km2 * 1e6 / math.pi))
