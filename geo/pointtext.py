"""A location typed or pasted into the call-taker's location field, read as one point when it is one.

parse_point() answers None for a place name (the gazetteer takes it from there), a ParsedPoint for decimal
degrees, degrees-minutes-seconds, a Plus Code or a map link, and raises a geo error for text that tries to be
a coordinate and fails: out of range, swapped, NaN (BadCoordinates, from validate_point), a shortened link, a
Plus Code whose locality we do not know, too few digits (BadLocationText). Nothing here guesses: a text that
could mean two places is refused with what would settle it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from openlocationcode import openlocationcode as olc

from geo import maplinks
from geo.coords import SWAP_MARGIN_DEG, BBox, validate_point
from geo.coordtext import LAT, Reading, clean, read_pair
from geo.errors import BadLocationText, GeoError

if TYPE_CHECKING:
    from geo.jurisdiction import Location

METRES_PER_DEGREE = 111_320.0
# Coarser than this is an area, not a point: two decimals (±1.1 km) pass, one decimal (±11 km) does not.
MAX_ACCURACY_M = 2_000.0
MIN_ACCURACY_M = 1.0  # no typed text locates a caller better than a metre
MAX_TEXT = 2_000
_PLUS_CODE = re.compile(
    r"^(?:(?:kode\s*plus|plus\s*code|pluscode)\W*)?([23456789cfghjmpqrvwx0]{2,8}\+[23456789cfghjmpqrvwx]*)(?=\W|$)"
)
# Two numbers with three or more decimals, or a degree mark: coordinates, whatever words surround them.
_STRONG = re.compile(r"°|-?\d+[.,]\d{3,}\D+-?\d+[.,]\d{3,}")


class _HasPoint(Protocol):
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...


class Localities(Protocol):
    """Where a named place of the region is: the gazetteer (geo.gazetteer.Gazetteer) is one."""

    def search(self, query: str, limit: int = ...) -> Sequence[_HasPoint]: ...


@dataclass(frozen=True, slots=True)
class ParsedPoint:
    """A point read from text. `accuracy_m` is the precision the text itself carries (its last digit, the Plus
    Code cell, or how far a map view's centre may be from the pin), not the accuracy of the caller's GPS."""

    lat: float
    lon: float
    accuracy_m: float
    form: str  # desimal, dms, plus code, Google Maps, OpenStreetMap, Apple Maps, geo:

    @property
    def name(self) -> str:
        """The point as Indonesians write it: comma decimals, "-0,94710, 100,41720"."""
        return f"{self.lat:.5f}".replace(".", ",") + ", " + f"{self.lon:.5f}".replace(".", ",")

    def as_place(self, where: Location) -> dict[str, Any]:
        """The shape of a gazetteer place (geo.gazetteer.Place), with where the point falls."""
        return {
            "name": self.name,
            "kind": "koordinat",
            "code": None,
            "kecamatan": where.kecamatan_name,
            "kelurahan": where.kelurahan_name,
            "lat": self.lat,
            "lon": self.lon,
            "accuracy_m": self.accuracy_m,
            "form": self.form,
            "inside_region": where.inside_region,
            "nearest_kecamatan": where.nearest_name,
            "distance_m": where.distance_m,
            "source": None,  # a gazetteer place's origin (osm, center...); a typed point has none
        }


def parse_point(text: str, *, bbox: BBox, localities: Localities | None = None) -> ParsedPoint | None:
    """The point `text` gives, or None when it is not a coordinate attempt (a place name to search for).

    `bbox` is the region's: it decides which number is the latitude when the text does not say, and what
    a short Plus Code without a locality is near. `localities` finds the place named after a short Plus Code.
    """
    if len(text) > MAX_TEXT:
        raise BadLocationText(f"Teks terlalu panjang ({len(text)} huruf). / The text is too long.")
    stripped = text.strip()
    if not stripped:
        return None
    url = maplinks.find_url(stripped)
    if url is not None:
        return _from_link(url, stripped.replace(url, " "), bbox, localities)
    code = _PLUS_CODE.match(cleaned := clean(stripped))
    if code and olc.isValid(code[1].upper()):
        return _from_plus_code(code[1].upper(), cleaned[code.end() :], bbox, localities)
    reading = read_pair(stripped)
    if reading is None and _STRONG.search(stripped):
        reading = read_pair(stripped, loose=True)
    if reading is not None:
        return _from_reading(reading, bbox, ordered=False)
    if not any(c.isalpha() for c in stripped):
        raise BadLocationText(not_recognised(bbox))
    return None


def not_recognised(bbox: BBox) -> str:
    """'Not recognised', with the forms that work written for this region's centre."""
    lat, lon = (bbox.south + bbox.north) / 2, (bbox.west + bbox.east) / 2
    decimal = f"{lat:.4f} {lon:.4f}".replace(".", ",")
    examples = f"{decimal} · {_dms(lat, 'LU', 'LS')} {_dms(lon, 'BT', 'BB')} · {olc.encode(lat, lon)}"
    return (
        f"Lokasi tidak dikenali. Contoh yang bisa dibaca: {examples} · tautan Google Maps, WhatsApp, "
        f"OpenStreetMap. / Location not recognised. Forms that work: {examples}, or a map link."
    )


def _from_link(url: str, rest: str, bbox: BBox, localities: Localities | None) -> ParsedPoint:
    try:
        link = maplinks.read_link(url)
    except BadLocationText as refused:
        try:  # coordinates written next to a short link stand without it
            around = parse_point(rest, bbox=bbox, localities=localities) if rest.strip() else None
        except GeoError:
            around = None
        if around is None:
            raise refused from None
        return around
    for spot in link.spots:
        point = _from_spot(spot, link.form, bbox, localities)
        if point is not None:
            return point
    name = f' "{link.label}"' if link.label else ""
    raise BadLocationText(
        f"Tautan {link.form} ini tidak memuat koordinat{name}; ketik nama tempatnya atau minta koordinat. "
        f"/ This {link.form} link holds no coordinates{name}: type the place name or ask for coordinates."
    )


def _from_spot(spot: maplinks.Spot, form: str, bbox: BBox, localities: Localities | None) -> ParsedPoint | None:
    code = _PLUS_CODE.match(cleaned := clean(spot.text))
    if code and olc.isValid(code[1].upper()):
        point = _from_plus_code(code[1].upper(), cleaned[code.end() :], bbox, localities)
        return ParsedPoint(point.lat, point.lon, point.accuracy_m, form)
    try:
        reading = read_pair(spot.text)
    except BadLocationText:
        return None  # a name with numbers in it ("Jl. Veteran 12, 3") is a label, not a broken coordinate
    if reading is None:
        return None
    if spot.view_m > MAX_ACCURACY_M:
        raise BadLocationText(
            f"Tautan {form} ini hanya pusat tampilan peta (±{spot.view_m / 1000:.0f} km), bukan titik: minta "
            f"penelepon menandai titiknya. / This {form} link is only the centre of a map view, not a pin."
        )
    point = _from_reading(reading, bbox, ordered=True)
    return ParsedPoint(point.lat, point.lon, round(max(point.accuracy_m, spot.view_m), 1), form)


def _from_reading(reading: Reading, bbox: BBox, *, ordered: bool) -> ParsedPoint:
    if reading.axes is not None:
        lat, lon = (reading.first, reading.second) if reading.axes[0] == LAT else (reading.second, reading.first)
    elif ordered:
        lat, lon = reading.first, reading.second
    else:
        lat, lon = _either_order(reading.first, reading.second, bbox)
    lat, lon = validate_point(lat, lon, bbox=bbox)
    return ParsedPoint(lat, lon, _accuracy(reading.step_deg), reading.form)


def _either_order(a: float, b: float, bbox: BBox) -> tuple[float, float]:
    """Latitude first unless only the other reading is near the region (or is a possible point at all):
    "100,4172 -0,9471" is as clear as "-0,9471 100,4172" in Padang."""
    near = bbox.expanded(SWAP_MARGIN_DEG)
    readings = [(a, b), (b, a)]
    for lat, lon in readings:
        if near.contains(lat, lon):
            return lat, lon
    for lat, lon in readings:
        if abs(lat) <= 90 and abs(lon) <= 180:
            return lat, lon
    return a, b  # NaN or out of range: validate_point says which


def _from_plus_code(code: str, rest: str, bbox: BBox, localities: Localities | None) -> ParsedPoint:
    if olc.isFull(code):
        full = code
    else:
        full = olc.recoverNearest(code, *_reference(code, rest, bbox, localities))
    area = olc.decode(full)
    lat, lon = validate_point(float(area.latitudeCenter), float(area.longitudeCenter), bbox=bbox)
    height = float(area.latitudeHi - area.latitudeLo)
    width = float(area.longitudeHi - area.longitudeLo) * math.cos(math.radians(lat))
    return ParsedPoint(lat, lon, _accuracy(max(height, width)), "plus code")


def _reference(code: str, rest: str, bbox: BBox, localities: Localities | None) -> tuple[float, float]:
    """The point a short Plus Code is recovered near: the first named place after it that we know, else the
    region's centre when only one recovery falls inside the region."""
    names = [p.strip() for p in re.split(r"[,;\n]", rest) if p.strip()]
    for name in names:
        try:
            found = localities.search(name, limit=1) if localities is not None else []
        except GeoError:
            found = []
        if found:
            return found[0].lat, found[0].lon
    if names:
        raise BadLocationText(
            f"Kode plus pendek {code} perlu nama tempat di wilayah ini; {names[0]!r} tidak ditemukan. Sebutkan "
            f"kecamatan/desanya atau pakai kode lengkap. / The short Plus Code {code} needs a place in this "
            f"region; {names[0]!r} is not one. Name the district or use the full code."
        )
    centre = (bbox.south + bbox.north) / 2, (bbox.west + bbox.east) / 2
    step = 20.0 / 20 ** ((8 - code.index("+")) // 2 - 1)  # the last digit pair left off: 20°, 1° or 0.05°
    inside = {
        full
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if bbox.contains(*_centre(full := olc.recoverNearest(code, centre[0] + dy * step, centre[1] + dx * step)))
    }
    if len(inside) > 1:
        raise BadLocationText(
            f"Kode plus pendek {code} ada di {len(inside)} tempat di wilayah ini: tulis nama kecamatan/desa "
            f"sesudahnya (mis. '{code} <nama desa>') atau pakai kode lengkap. / The short Plus Code {code} fits "
            f"{len(inside)} places in this region: add the district name or use the full code."
        )
    return centre


def _centre(code: str) -> tuple[float, float]:
    area = olc.decode(code)
    return float(area.latitudeCenter), float(area.longitudeCenter)


def _accuracy(step_deg: float) -> float:
    metres = step_deg * METRES_PER_DEGREE
    if metres > MAX_ACCURACY_M:
        raise BadLocationText(
            f"Koordinat ini terlalu kasar (±{metres / 1000:.0f} km): minta angka lengkap dari ponsel penelepon, "
            f"setidaknya 4 angka di belakang koma. / Too few digits (±{metres / 1000:.0f} km): ask for the full "
            f"coordinates, at least 4 decimals."
        )
    return round(max(metres, MIN_ACCURACY_M), 1)


def _dms(value: float, positive: str, negative: str) -> str:
    seconds = round(abs(value) * 3600)
    return f"{seconds // 3600}°{seconds // 60 % 60:02d}'{seconds % 60:02d}\" {positive if value >= 0 else negative}"
