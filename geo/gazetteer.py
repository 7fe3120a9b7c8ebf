"""Place-name search for call-takers: type-ahead over the region's desa, kecamatan, islands, landmarks
and streets.

A caller names a place the way it is said, not the way the register spells it; search() finds it
through tiers, best first: an exact name or alias, a name starting with the query (what type-ahead
needs), a word starting with the query, every word of the query starting a word of one place
("bandara bim"), or a syllable short form ("Lubeg"), and finally a fuzzy match for typos. Landmarks
(hospitals, markets, mosques) and streets join from the region's landmarks.csv and from imported
landmark files (geo.landmarks). The look-ups are indexed (geo.nameindex), so 100,000 names answer as
fast as a few hundred.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz, process

from geo import regionfiles as rf
from geo.arrays import BoolArray
from geo.errors import BadQuery
from geo.nameindex import SortedPairs, Trigrams
from geo.names import abbreviations, normalize, strip_prefix, variants

if TYPE_CHECKING:
    from geo.landmarks import Line

MAX_QUERY_CHARS = 100
LANDMARKS = "landmarks.csv"
ALIASES = Path(__file__).with_name("aliases.csv")
# Accuracy given to a listed island of unknown area, in metres.
ISLAND_ACCURACY_M = 300.0
FUZZY_CUTOFF = 85.0
# Among equally good matches, the larger unit first ("Kuranji" the kecamatan before the kelurahan),
# then landmarks, then streets (a street named after a place is rarely the place meant).
KIND_ORDER = {"kabupaten": 0, "kota": 0, "kecamatan": 1, "kelurahan": 2, "desa": 2, "pulau": 3, "jalan": 5}
LANDMARK_ORDER = 4
# Kinds whose names have syllable short forms ("Lubeg"); a landmark's short names are listed with it.
ADMIN_KINDS = frozenset(KIND_ORDER) - {"jalan"}
_EXACT, _PREFIX, _PARTIAL, _FUZZY = range(4)
Locate = Callable[[float, float], tuple[str | None, str | None]]  # (lat, lon) -> (kecamatan, kelurahan)


@dataclass(frozen=True, slots=True)
class Place:
    """A named place with a point and a radius saying how loosely that point stands for it.
    `source` says where a non-register place comes from: osm, center (the center's own list),
    history (learned from closed incidents); None for the region pack's own data."""

    name: str
    kind: str
    code: str | None
    kecamatan: str | None
    lat: float
    lon: float
    accuracy_m: float
    kelurahan: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """A place as the index takes it: other names it is known by, its line when it is a street, and a
    weight that ranks it before lighter ones of the same kind (how often a learned place was used)."""

    place: Place
    alt_names: tuple[str, ...] = ()
    line: Line | None = None
    weight: float = 0.0


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result with how it matched: lower tier is better, then higher score."""

    place: Place
    tier: int
    score: float


class Gazetteer:
    """An in-memory name index; build once per region, search many times."""

    def __init__(
        self,
        places: Iterable[Place | Entry],
        *,
        aliases: Mapping[str, str] | None = None,
        locate: Locate | None = None,
    ) -> None:
        entries = [p if isinstance(p, Entry) else Entry(p) for p in places]
        self.places: tuple[Place, ...] = tuple(e.place for e in entries)
        self._lines = {i: e.line for i, e in enumerate(entries) if e.line is not None}
        self._locate = locate
        order = sorted(range(len(entries)), key=lambda i: _order(entries[i]))
        self._rank = np.empty(len(entries), dtype=np.int64)
        self._rank[order] = np.arange(len(entries))
        self._exact: dict[str, list[int]] = {}
        short: dict[str, set[int]] = {}
        self._words_of: list[frozenset[str]] = []
        key_pairs: list[tuple[str, int]] = []
        word_pairs: list[tuple[str, int]] = []
        for i, entry in enumerate(entries):
            words: set[str] = set()
            for name in (entry.place.name, *entry.alt_names):
                for key in variants(name):
                    self._exact.setdefault(key, []).append(i)
                    key_pairs.append((key, i))
                    words.update(key.split())
            self._words_of.append(frozenset(words))
            word_pairs.extend((w, i) for w in words)
            if entry.place.kind in ADMIN_KINDS:
                for key in abbreviations(entry.place.name):
                    short.setdefault(key, set()).add(i)
        for alias, target in (aliases if aliases is not None else read_aliases(ALIASES)).items():
            found = self._exact.get(strip_prefix(normalize(target)), [])
            for key in variants(alias):
                short.setdefault(key, set()).update(found)
        # Best ranked first, so that a name a thousand places share ("Gang Mawar") costs `limit`, not a thousand.
        by_rank = self._rank.__getitem__
        self._exact = {key: sorted(set(ids), key=by_rank) for key, ids in self._exact.items()}
        self._shorts = {key: sorted(ids, key=by_rank) for key, ids in short.items()}
        self._keys = SortedPairs(key_pairs, self._rank)
        self._words = SortedPairs(word_pairs, self._rank)
        self._trigrams = Trigrams(sorted(k for k in self._exact if len(k) > 3))

    @classmethod
    def load(
        cls,
        region_dir: Path,
        *,
        aliases: Mapping[str, str] | None = None,
        extra: Sequence[Path] = (),
        locate: Locate | None = None,
    ) -> Gazetteer:
        """gazetteer.csv and islands.csv of a region's geo folder, landmarks.csv when present, and the
        landmark files in `extra` (imported from OpenStreetMap or the center's own list). `aliases`
        (alias -> official name) replaces the built-in table in geo/aliases.csv; `locate` names the
        kecamatan and kelurahan of a street's point chosen near the incident."""
        from geo.landmarks import read_file

        places: list[Place | Entry] = list(read_gazetteer(region_dir / rf.GAZETTEER))
        if (region_dir / rf.ISLANDS).exists():
            places += read_islands(region_dir / rf.ISLANDS)
        for path in (region_dir / LANDMARKS, *extra):
            if path.exists():
                places += read_file(path)
        return cls(places, aliases=aliases, locate=locate)

    def search(self, query: str, limit: int = 10, *, near: tuple[float, float] | None = None) -> list[Place]:
        """Places matching `query`, best first. A street's point is the one nearest `near` (lat, lon),
        else its midpoint. Raises BadQuery for an empty or over-long query."""
        return [hit.place for hit in self.ranked(query, limit, near=near)]

    def ranked(self, query: str, limit: int = 10, *, near: tuple[float, float] | None = None) -> list[Hit]:
        """search() with how each place matched, so that the results of two gazetteers can be merged."""
        forms = _query_forms(query)
        if limit < 1:
            raise BadQuery(f"limit must be at least 1, got {limit}")
        ranking = _Ranking()
        for form in forms | {f.replace(" ", "") for f in forms}:
            ranking.add(self._exact.get(form, [])[:limit], _EXACT, 100.0)
            if len(form) >= 4:
                ranking.add(self._shorts.get(form, [])[:limit], _PARTIAL, 95.0)
            ranking.add(self._keys.best(form, limit), _PREFIX, 100.0)
        for form in forms if ranking.count_below(_PARTIAL) < limit else ():  # else no partial match can rank
            tokens = form.split()
            if len(tokens) == 1 and len(form) >= 3:
                ranking.add(self._words.best(form, limit), _PARTIAL, 90.0)
            elif len(tokens) > 1 and len(form) >= 3:
                ranking.add(self._all_words(tokens, limit), _PARTIAL, 90.0)
        if len(ranking.best) < limit:  # typos: only when the cheaper tiers left room
            for form in (f for f in forms if len(f) >= 3):
                matches = process.extract(
                    form,
                    self._trigrams.candidates(form),
                    scorer=fuzz.WRatio,
                    processor=None,
                    score_cutoff=FUZZY_CUTOFF,
                    limit=limit * 3,
                )
                for key, score, _ in matches:
                    ranking.add(self._exact[key][:limit], _FUZZY, float(score))
        order = sorted(ranking.best, key=lambda i: (*ranking.best[i], int(self._rank[i])))[:limit]
        return [Hit(self._placed(i, near), ranking.best[i][0], -ranking.best[i][1]) for i in order]

    def _all_words(self, tokens: list[str], limit: int) -> list[int]:
        """Entries where every token starts one of their words (of any of their names). Marks in arrays as
        long as the index, so a common token ("jalan", "t") costs a pass over memory, not a Python loop."""
        found: BoolArray | None = None
        for token in tokens:
            lo, hi = self._words.span(token)
            if lo == hi:
                return []
            mark = np.zeros(len(self.places), dtype=bool)
            mark[self._words.ids[lo:hi]] = True
            found = mark if found is None else found & mark
        ids = np.flatnonzero(found) if found is not None else np.zeros(0, dtype=np.int64)
        if len(ids) > limit:
            ids = ids[np.argpartition(self._rank[ids], limit - 1)[:limit]]
        return [int(i) for i in ids[np.argsort(self._rank[ids], kind="stable")]]

    def _placed(self, i: int, near: tuple[float, float] | None) -> Place:
        """The place, with a street moved to its point nearest `near` (and that point's kelurahan)."""
        place, line = self.places[i], self._lines.get(i)
        if line is None or near is None:
            return place
        lat, lon = line.nearest(*near)
        kecamatan, kelurahan = self._locate(lat, lon) if self._locate else (place.kecamatan, place.kelurahan)
        return dataclasses.replace(place, lat=lat, lon=lon, kecamatan=kecamatan, kelurahan=kelurahan)


def merge(*results: Sequence[Hit], limit: int) -> list[Hit]:
    """Hits of several gazetteers as one list, best first; on a tie the earlier gazetteer's first."""
    tagged = [(h.tier, -h.score, n, k, h) for n, hits in enumerate(results) for k, h in enumerate(hits)]
    return [t[-1] for t in sorted(tagged, key=lambda t: t[:4])][:limit]


def _order(entry: Entry) -> tuple[int, float, int, str]:
    place = entry.place
    return KIND_ORDER.get(place.kind, LANDMARK_ORDER), -entry.weight, len(place.name), place.name


class _Ranking:
    """The best (tier, -score) seen per place; lower sorts first."""

    def __init__(self) -> None:
        self.best: dict[int, tuple[int, float]] = {}

    def add(self, indices: Iterable[int], tier: int, score: float) -> None:
        for i in indices:
            self.best[i] = min(self.best.get(i, (tier, -score)), (tier, -score))

    def count_below(self, tier: int) -> int:
        """How many places matched better than `tier`."""
        return sum(1 for t, _ in self.best.values() if t < tier)


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
            accuracy_m=radius_m(area) if area else ISLAND_ACCURACY_M,
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
            accuracy_m=max(radius_m(area), 100.0) if (area := rf.as_float(row.get("luas_km2"))) else ISLAND_ACCURACY_M,
        )
        for row in rf.read_rows(path)
    ]


def read_aliases(path: Path) -> dict[str, str]:
    """alias -> official name, from a CSV with the columns alias,name (and a free-text note)."""
    return {row["alias"]: row["name"] for row in rf.read_rows(path)}


def radius_m(area_km2: float) -> float:
    """The radius of a circle of this area: how far the centroid may be from where the caller is."""
    return round(math.sqrt(area_km2 * 1e6 / math.pi))
