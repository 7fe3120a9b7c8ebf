"""What the consoles show of a major incident: its reports by priority with casualties and units, the units
staged or committed per agency, and the reports by kecamatan."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency, Unit
from dispatch.incidents.models import Assignment, Incident
from dispatch.lifecycle import ACTIVE_ASSIGNMENT, OPEN_INCIDENT, UnitStatus
from dispatch.major import service
from dispatch.major.enums import TRIAGE_COLOURS
from dispatch.major.models import MajorIncident

UNKNOWN = "belum diketahui"  # a report whose place is not known yet


@dataclass(frozen=True)
class Site:
    """One report as a dispatcher reads it."""

    incident: Incident
    triage: dict[str, int]
    units: list[str]  # callsigns on an active assignment

    def shown(self) -> dict[str, Any]:
        i = self.incident
        return {
            "id": i.id, "type_code": i.type_code, "priority": i.priority, "status": i.status, "lat": i.lat,
            "lon": i.lon, "address": i.address, "kecamatan_code": i.kecamatan_code, "kecamatan": i.kecamatan,
            "kelurahan": i.kelurahan, "notes": i.notes, "created_at": i.created_at.isoformat(),
            "triage": {c: self.triage.get(c, 0) for c in TRIAGE_COLOURS}, "units": self.units,
        }  # fmt: skip


def sites(session: Session, major: MajorIncident) -> list[Site]:
    """Its reports, open ones first, each by priority then age."""
    rows = service.reports(session=session, major_id=major.id)
    ids = [r.id for r in rows]
    counts = service.triage(session=session, incident_ids=ids)
    units: dict[int, list[str]] = defaultdict(list)
    if ids:
        found = session.execute(
            select(Assignment.incident_id, Unit.callsign)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Assignment.incident_id.in_(ids), Assignment.status.in_(ACTIVE_ASSIGNMENT))
            .order_by(Assignment.id)
        )
        for incident_id, callsign in found:
            units[incident_id].append(callsign)
    made = [Site(r, counts.get(r.id, {}), units[r.id]) for r in rows]
    return sorted(made, key=lambda s: (s.incident.status not in OPEN_INCIDENT, s.incident.priority))


def agencies(session: Session, major: MajorIncident) -> list[dict[str, Any]]:
    """Per agency: its units staged for the major incident, those committed to one of its reports, and how many
    others are free."""
    committed_ids = set(
        session.scalars(
            select(Assignment.unit_id)
            .join(Incident, Incident.id == Assignment.incident_id)
            .where(Incident.major_id == major.id, Assignment.status.in_(ACTIVE_ASSIGNMENT))
        )
    )
    out: dict[int, dict[str, Any]] = {}
    rows = session.execute(select(Unit, Agency).join(Agency, Agency.id == Unit.agency_id).order_by(Unit.callsign))
    for unit, agency in rows:
        entry = out.setdefault(
            agency.id,
            {"agency_id": agency.id, "code": agency.code, "name": agency.name, "kind": agency.kind, "staged": [],
             "committed": [], "available": 0},
        )  # fmt: skip
        if unit.id in committed_ids:
            entry["committed"].append({"id": unit.id, "callsign": unit.callsign, "status": unit.status})
        elif unit.staged_for == major.id:
            entry["staged"].append({"id": unit.id, "callsign": unit.callsign, "status": unit.status})
        elif unit.status == UnitStatus.available:
            entry["available"] += 1
    return sorted(out.values(), key=lambda a: (-(len(a["staged"]) + len(a["committed"])), a["name"]))


def by_kecamatan(found: list[Site]) -> list[dict[str, Any]]:
    """Reports per kecamatan (those whose place is not known yet together), the most reported first."""
    groups: dict[str, dict[str, Any]] = {}
    for site in found:
        i = site.incident
        key = i.kecamatan_code or ""
        g = groups.setdefault(
            key,
            {"kecamatan_code": i.kecamatan_code, "kecamatan": i.kecamatan or UNKNOWN, "reports": 0, "open": 0,
             "priority": Counter(), "triage": Counter()},
        )  # fmt: skip
        g["reports"] += 1
        g["open"] += i.status in OPEN_INCIDENT
        g["priority"][f"P{i.priority}"] += 1
        g["triage"].update(site.triage)
    out = [
        {**g, "priority": dict(g["priority"]), "triage": {c: g["triage"].get(c, 0) for c in TRIAGE_COLOURS}}
        for g in groups.values()
    ]
    return sorted(out, key=lambda g: (-g["reports"], g["kecamatan"]))


def board(session: Session, major: MajorIncident) -> dict[str, Any]:
    found = sites(session, major)
    total: Counter[str] = Counter()
    for site in found:
        total.update(site.triage)
    return {
        "major": service.data(major),
        "sites": [s.shown() for s in found],
        "agencies": agencies(session, major),
        "kecamatan": by_kecamatan(found),
        "triage": {c: total.get(c, 0) for c in TRIAGE_COLOURS},
    }
