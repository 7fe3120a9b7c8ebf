"""An incident as CAP 1.2, for the public warning chain and neighbouring command centers.

Built from `IncidentFacts`, which holds only what may leave the building: the type, priority, status, times,
kelurahan/kecamatan and a point rounded to about 100 m. The caller's number and name, the address and the
notes never reach this module, so no change here can leak them. Two <info> blocks, Bahasa Indonesia first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, tzinfo

from dispatch.alerts.parse import NS
from dispatch.incidents.models import Incident

# Incident type categories (config/regions/catalogue.toml) to CAP's <category>.
CATEGORY = {
    "fire": "Fire",
    "medical": "Health",
    "traffic": "Transport",
    "flood": "Met",
    "wind": "Met",
    "quake": "Geo",
    "tsunami": "Geo",
    "landslide": "Geo",
    "sar": "Rescue",
    "water": "Rescue",
    "crime": "Security",
    "violence": "Security",
    "order": "Safety",
    "animal": "Safety",
    "environment": "Env",
    "infra": "Infra",
}
URGENCY = {1: "Immediate", 2: "Immediate", 3: "Expected", 4: "Future"}
SEVERITY = {1: "Severe", 2: "Moderate", 3: "Minor", 4: "Minor"}
RADIUS_KM = 0.5  # the circle given around the rounded point: a street block, never a doorstep
_DECIMALS = 3  # ~110 m of latitude


@dataclass(frozen=True)
class IncidentFacts:
    """What an exported incident says; nothing personal is a field of it."""

    id: int
    version: int
    type_code: str
    type_id: str  # the type's name in Bahasa
    type_en: str
    category: str
    priority: int
    status: str
    created_at: datetime
    closed_at: datetime | None
    on_scene_at: datetime | None
    lat: float | None
    lon: float | None
    kecamatan: str | None
    kecamatan_code: str | None
    kelurahan: str | None
    kelurahan_code: str | None
    units_sent: int

    @classmethod
    def of(cls, incident: Incident, *, units_sent: int) -> IncidentFacts:
        rounded = (
            (round(incident.lat, _DECIMALS), round(incident.lon, _DECIMALS))
            if incident.lat is not None and incident.lon is not None
            else (None, None)
        )
        return cls(
            id=incident.id,
            version=incident.version,
            type_code=incident.type_code,
            type_id=incident.type.name_id,
            type_en=incident.type.name_en,
            category=incident.type.category,
            priority=incident.priority,
            status=incident.status,
            created_at=incident.created_at,
            closed_at=incident.closed_at,
            on_scene_at=incident.on_scene_at,
            lat=rounded[0],
            lon=rounded[1],
            kecamatan=incident.kecamatan,
            kecamatan_code=incident.kecamatan_code,
            kelurahan=incident.kelurahan,
            kelurahan_code=incident.kelurahan_code,
            units_sent=units_sent,
        )


@dataclass(frozen=True)
class Issuer:
    """Who sends the CAP: `sender` without spaces or commas (a host name, or tanggap112-<region>)."""

    sender: str
    center_name: str  # "Command Center 112 Kota Padang"
    region_name: str
    region_kode: str
    timezone: tzinfo


def cap_time(at: datetime, zone: tzinfo) -> str:
    """CAP's form: local time with its offset, no fraction, no 'Z' (the schema's pattern refuses both)."""
    return at.astimezone(zone).replace(microsecond=0).isoformat()


def identifier(issuer: Issuer, incident_id: int, version: int) -> str:
    return f"TANGGAP112-{issuer.region_kode}-INC{incident_id}-V{version}"


def build(facts: IncidentFacts, issuer: Issuer, *, now: datetime) -> bytes:
    """The CAP 1.2 <alert> for this version of the incident. The first version is an Alert sent at the
    incident's creation; later ones are Updates that reference it, so a receiver keeps one alert per incident."""
    closed = facts.status == "closed"
    first = facts.version == 1 and not closed
    sent = facts.created_at if first else now
    root = ET.Element("alert", {"xmlns": NS})
    _add(root, "identifier", identifier(issuer, facts.id, facts.version))
    _add(root, "sender", issuer.sender)
    _add(root, "sent", cap_time(sent, issuer.timezone))
    _add(root, "status", "Actual")
    _add(root, "msgType", "Alert" if first else "Update")
    _add(root, "scope", "Public")
    if not first:
        original = identifier(issuer, facts.id, 1)
        _add(root, "references", f"{issuer.sender},{original},{cap_time(facts.created_at, issuer.timezone)}")
    _add(root, "incidents", f"INC{facts.id}")
    for language in ("id-ID", "en-US"):
        _info(root, facts, issuer, language, closed)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _add(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, name)
    element.text = text
    return element


def _info(root: ET.Element, facts: IncidentFacts, issuer: Issuer, language: str, closed: bool) -> None:
    bahasa = language.startswith("id")
    info = ET.SubElement(root, "info")
    _add(info, "language", language)
    _add(info, "category", CATEGORY.get(facts.category, "Other"))
    _add(info, "event", facts.type_id if bahasa else facts.type_en)
    if closed:
        _add(info, "responseType", "AllClear")
    _add(info, "urgency", "Past" if closed else URGENCY.get(facts.priority, "Unknown"))
    _add(info, "severity", SEVERITY.get(facts.priority, "Unknown"))
    _add(info, "certainty", "Observed" if facts.on_scene_at is not None else "Likely")
    _add(info, "effective", cap_time(facts.created_at, issuer.timezone))
    _add(info, "senderName", issuer.center_name)
    place = _place(facts, issuer)
    name = facts.type_id if bahasa else facts.type_en
    _add(info, "headline", f"{name} — {place}"[:160])
    _add(info, "description", _description(facts, issuer, bahasa, closed))
    _add(info, "contact", "112")
    for key, value in (("incident_id", str(facts.id)), ("priority", str(facts.priority)), ("status", facts.status)):
        parameter = ET.SubElement(info, "parameter")
        _add(parameter, "valueName", key)
        _add(parameter, "value", value)
    area = ET.SubElement(info, "area")
    _add(area, "areaDesc", place)
    if facts.lat is not None and facts.lon is not None:
        _add(area, "circle", f"{facts.lat:.{_DECIMALS}f},{facts.lon:.{_DECIMALS}f} {RADIUS_KM}")
    code = facts.kelurahan_code or facts.kecamatan_code or issuer.region_kode
    geocode = ET.SubElement(area, "geocode")
    _add(geocode, "valueName", "KODE_WILAYAH")  # Kemendagri's code of the kelurahan, kecamatan or region
    _add(geocode, "value", code)


def _place(facts: IncidentFacts, issuer: Issuer) -> str:
    """Kelurahan, kecamatan and region, as far as known: place names read the same in both languages."""
    parts = [f"Kel. {facts.kelurahan}" if facts.kelurahan else "", f"Kec. {facts.kecamatan}" if facts.kecamatan else ""]
    return ", ".join([p for p in parts if p] + [issuer.region_name])


def _description(facts: IncidentFacts, issuer: Issuer, bahasa: bool, closed: bool) -> str:
    at = facts.created_at.astimezone(issuer.timezone).strftime("%d-%m-%Y %H:%M")
    if bahasa:
        state = "selesai ditangani" if closed else "sedang ditangani"
        return (
            f"Kejadian #{facts.id} dilaporkan ke {issuer.center_name} pada {at}, {state}; "
            f"{facts.units_sent} unit dikerahkan. Prioritas P{facts.priority}."
        )
    state = "handled" if closed else "being handled"
    return (
        f"Incident #{facts.id} reported to {issuer.center_name} at {at}, {state}; "
        f"{facts.units_sent} units dispatched. Priority P{facts.priority}."
    )
