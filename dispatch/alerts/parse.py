"""Reading a CAP 1.2 document safely: no DTD, no entities, no network, a size cap, and every field the service
relies on checked. A document that fails any check is refused whole, with the reason in Bahasa and English."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from dispatch.errors import Invalid

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_BYTES = 256 * 1024  # the API's body limit too: a BMKG nowcast with its polygons is a few tens of KB
MAX_POINTS = 20_000  # polygon vertices in one alert, all areas together
MAX_TEXT = 8000  # characters kept of a free-text field (description, instruction)
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown", "Very Likely")  # 1.0's "Very Likely"
_NO_SPACE = re.compile(r"^[^\s,<&]+$")  # CAP: identifiers and senders have no spaces, commas or "<" "&"

Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel"]


def refused(bahasa: str, english: str) -> Invalid:
    """A CAP document refused (422, like any `Invalid`); the message says why, Bahasa first."""
    return Invalid(f"Dokumen CAP ditolak: {bahasa}. / CAP document refused: {english}.")


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Area:
    """Every area of the alert together: CAP polygons as (lat, lon) rings, circles, and their descriptions."""

    descriptions: tuple[str, ...]
    polygons: tuple[tuple[tuple[float, float], ...], ...]
    circles: tuple[Circle, ...]

    @property
    def empty(self) -> bool:
        return not (self.polygons or self.circles)


@dataclass(frozen=True)
class Reference:
    sender: str
    identifier: str


@dataclass(frozen=True)
class CapMessage:
    """One CAP message, as much of it as the command center acts on."""

    identifier: str
    sender: str
    sent: datetime
    status: Status
    msg_type: MsgType
    scope: str
    references: tuple[Reference, ...]
    language: str
    category: str
    event: str
    urgency: str
    severity: str
    certainty: str
    sender_name: str | None
    headline: str | None
    description: str | None
    instruction: str | None
    headline_en: str | None
    effective: datetime | None
    onset: datetime | None
    expires: datetime | None
    area: Area


def parse(document: bytes | str) -> CapMessage:
    """The CAP message in `document`; `Invalid` (422) for anything unsafe or not CAP 1.2, the reason in it."""
    data = document.encode("utf-8") if isinstance(document, str) else document
    if len(data) > MAX_BYTES:
        raise refused(f"lebih dari {MAX_BYTES // 1024} KB", f"larger than {MAX_BYTES // 1024} KB")
    root = _safe_root(data)
    if root.tag != f"{{{NS}}}alert":
        found = root.tag.split("}")[0].lstrip("{") if root.tag.startswith("{") else "(tanpa namespace)"
        raise refused(
            f"bukan <alert> CAP 1.2 (namespace {NS}); ditemukan {found}",
            f"not a CAP 1.2 <alert> (namespace {NS}); found {found}",
        )
    msg_type = _choice(root, "msgType", MSG_TYPES)
    if msg_type in ("Ack", "Error"):
        raise refused(f"pesan {msg_type} bukan peringatan", f"an {msg_type} message is not an alert")
    info = _info(root)
    if info is None and msg_type != "Cancel":
        raise refused("<info> wajib ada", "<info> is required")
    en = _info(root, prefer="en")
    blank = info is None  # a Cancel may say no more than which alert it cancels
    return CapMessage(
        identifier=_token(root, "identifier"),
        sender=_token(root, "sender"),
        sent=_time(root, "sent", required=True),  # type: ignore[arg-type]
        status=_choice(root, "status", STATUSES),  # type: ignore[arg-type]
        msg_type=msg_type,  # type: ignore[arg-type]
        scope=_choice(root, "scope", SCOPES),
        references=_references(_text(root, "references")),
        language=(_text(info, "language") or "en-US")[:16],
        category=(_text(info, "category") or "Other")[:32],
        event="" if blank else _required(info, "event")[:255],
        urgency="Unknown" if blank else _choice(info, "urgency", URGENCIES),
        severity="Unknown" if blank else _choice(info, "severity", SEVERITIES),
        certainty="Unknown" if blank else _choice(info, "certainty", CERTAINTIES),
        sender_name=_clip(_text(info, "senderName"), 255),
        headline=_clip(_text(info, "headline"), 500),
        description=_clip(_text(info, "description"), MAX_TEXT),
        instruction=_clip(_text(info, "instruction"), MAX_TEXT),
        headline_en=_clip(_text(en, "headline"), 500) if en is not info else None,
        effective=_time(info, "effective"),
        onset=_time(info, "onset"),
        expires=_time(info, "expires"),
        area=_area(info),
    )


def _safe_root(data: bytes) -> Element:
    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise refused(
            f"DTD, entitas dan rujukan luar tidak diizinkan ({type(exc).__name__})",
            f"DTDs, entities and external references are not allowed ({type(exc).__name__})",
        ) from None
    except ParseError as exc:
        raise refused(f"bukan XML yang sah ({exc})", f"not well-formed XML ({exc})") from None
    return root


def _find(parent: Element | None, name: str) -> Element | None:
    return None if parent is None else parent.find(f"{{{NS}}}{name}")


def _text(parent: Element | None, name: str) -> str | None:
    found = _find(parent, name)
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _required(parent: Element | None, name: str) -> str:
    text = _text(parent, name)
    if text is None:
        raise refused(f"<{name}> wajib ada", f"<{name}> is required")
    return text


def _token(parent: Element, name: str) -> str:
    text = _required(parent, name)
    if len(text) > 255 or not _NO_SPACE.match(text):
        raise refused(
            f"<{name}> harus tanpa spasi, koma, '<' atau '&', paling panjang 255",
            f"<{name}> must have no spaces, commas, '<' or '&', at most 255 long",
        )
    return text


def _choice(parent: Element | None, name: str, allowed: tuple[str, ...]) -> str:
    text = _required(parent, name)
    if text not in allowed:
        raise refused(
            f"<{name}> {text[:40]!r} tidak dikenal (salah satu dari {', '.join(allowed)})",
            f"unknown <{name}> {text[:40]!r} (one of {', '.join(allowed)})",
        )
    return text


def _clip(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else None


def _time(parent: Element | None, name: str, *, required: bool = False) -> datetime | None:
    text = _required(parent, name) if required else _text(parent, name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or not 2000 <= value.year <= 2100:
        raise refused(
            f"<{name}> {text[:40]!r} bukan waktu CAP (2024-04-01T10:00:00+07:00)",
            f"<{name}> {text[:40]!r} is not a CAP time (2024-04-01T10:00:00+07:00)",
        )
    return value


def _info(root: Element, *, prefer: str = "id") -> Element | None:
    """The <info> in the preferred language (BMKG writes Bahasa first), else the first one."""
    blocks = root.findall(f"{{{NS}}}info")
    for block in blocks:
        if (_text(block, "language") or "").lower().startswith(prefer):
            return block
    return blocks[0] if blocks else None


def _references(text: str | None) -> tuple[Reference, ...]:
    """`sender,identifier,sent` triples separated by spaces."""
    found = []
    for triple in (text or "").split()[:100]:
        parts = triple.split(",")
        if len(parts) != 3 or not all(parts[:2]):
            raise refused(
                f"<references> {triple[:60]!r} bukan 'pengirim,identifier,waktu'",
                f"<references> {triple[:60]!r} is not 'sender,identifier,sent'",
            )
        found.append(Reference(parts[0], parts[1]))
    return tuple(found)


def _area(info: Element | None) -> Area:
    descriptions: list[str] = []
    polygons: list[tuple[tuple[float, float], ...]] = []
    circles: list[Circle] = []
    points = 0
    for area in [] if info is None else info.findall(f"{{{NS}}}area"):
        descriptions.append((_text(area, "areaDesc") or "")[:500])
        for element in area.findall(f"{{{NS}}}polygon"):
            ring = _polygon((element.text or "").strip())
            points += len(ring)
            if points > MAX_POINTS:
                raise refused(f"lebih dari {MAX_POINTS} titik poligon", f"more than {MAX_POINTS} polygon points")
            polygons.append(ring)
        circles.extend(_circle((element.text or "").strip()) for element in area.findall(f"{{{NS}}}circle"))
    return Area(tuple(d for d in descriptions if d), tuple(polygons), tuple(circles))


def _point(pair: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in pair.split(","))
    except ValueError:
        lat = lon = math.nan
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise refused(f"titik {pair[:40]!r} bukan 'lintang,bujur' WGS84", f"point {pair[:40]!r} is not WGS84 'lat,lon'")
    return lat, lon


def _polygon(text: str) -> tuple[tuple[float, float], ...]:
    """CAP: four or more `lat,lon` pairs, the first and last the same (an open ring is closed here)."""
    ring = [_point(pair) for pair in text.split()]
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(set(ring)) < 3:
        raise refused("<polygon> perlu paling sedikit tiga titik", "<polygon> needs at least three points")
    return tuple(ring)


def _circle(text: str) -> Circle:
    """CAP: `lat,lon radius`, the radius in kilometres."""
    centre, _, radius = text.partition(" ")
    lat, lon = _point(centre)
    try:
        km = float(radius.strip())
    except ValueError:
        km = math.nan
    if not (math.isfinite(km) and 0 <= km <= 20_000):
        raise refused(
            f"<circle> {text[:60]!r} bukan 'lintang,bujur radius_km'",
            f"<circle> {text[:60]!r} is not 'lat,lon radius_km'",
        )
    return Circle(lat, lon, km)
