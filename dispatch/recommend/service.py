"""Recommend units for an incident, slot by slot of its response plan, with the reason shown.

Positions: the last GPS fix when fresh, else the home station. Travel times come from the region's
travel model (road graph or straight lines), in one vectorised call for all candidate units. Among units of
one kind, those whose agency covers the incident's kecamatan come first, then by ETA.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from dispatch.agencies.models import Agency, Unit
from dispatch.clock import utcnow
from dispatch.context import Region
from dispatch.errors import Invalid
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Assignment, Incident
from dispatch.lifecycle import ACTIVE_ASSIGNMENT, UnitStatus

if TYPE_CHECKING:  # for the annotations only: numpy loads when a travel model is first used, not at start-up
    from geo.travel import Origins, TravelModel


@dataclass(frozen=True)
class Suggestion:
    unit_id: int
    callsign: str
    agency: str
    agency_kind: str
    eta_s: float | None
    distance_m: float | None
    position_source: str  # "gps" or "station"
    position_age_s: float | None
    reachable: bool
    covers: bool
    reason: str


@dataclass(frozen=True)
class Slot:
    kind: str
    count: int
    assigned: int
    suggestions: list[Suggestion]


@dataclass(frozen=True)
class Candidate:
    unit: Unit
    lat: float
    lon: float
    source: str
    age_s: float | None
    place: str


def recommend(*, session: Session, region: Region, incident_id: int, per_slot: int = 3) -> list[Slot]:
    incident = incidents.get(session=session, incident_id=incident_id)
    if incident.lat is None or incident.lon is None:
        raise Invalid("set the incident's location first; recommendations need a point")
    plan = [(p["kind"], int(p["count"])) for p in incident.type.plan]
    kinds = {kind for kind, _ in plan}
    found = candidates(session, kinds, region, utcnow())
    assigned = _assigned_kinds(session, incident.id)
    ranked = _rank(incident, found, region)
    slots = []
    for kind, count in plan:
        mine = [s for s in ranked if s.agency_kind == kind]
        slots.append(Slot(kind=kind, count=count, assigned=assigned[kind], suggestions=mine[:per_slot]))
    return slots


def candidates(session: Session, kinds: set[str], region: Region, now: datetime) -> list[Candidate]:
    units = session.scalars(
        select(Unit)
        .join(Agency)
        .options(joinedload(Unit.station), joinedload(Unit.agency))
        .where(Agency.kind.in_(kinds), Unit.status == UnitStatus.available)
    ).all()
    out = []
    for unit in units:
        fresh = unit.position_at is not None and now - unit.position_at <= region.policy.gps_fresh
        place = unit.station.name if unit.station else unit.callsign
        if fresh and unit.lat is not None and unit.lon is not None and unit.position_at is not None:
            age = (now - unit.position_at).total_seconds()
            out.append(Candidate(unit, unit.lat, unit.lon, "gps", age, unit.callsign))
        elif unit.station is not None:
            out.append(Candidate(unit, unit.station.lat, unit.station.lon, "station", None, place))
    return out


def _assigned_kinds(session: Session, incident_id: int) -> Counter[str]:
    rows = session.scalars(
        select(Agency.kind)
        .select_from(Assignment)
        .join(Unit, Assignment.unit_id == Unit.id)
        .join(Agency)
        .where(Assignment.incident_id == incident_id, Assignment.status.in_(ACTIVE_ASSIGNMENT))
    ).all()
    return Counter(rows)


def fleet(model: TravelModel, candidates: list[Candidate]) -> Origins:
    """The candidates as the travel model's vectorised fleet, grouped by agency kind."""
    return model.origins(
        [c.lat for c in candidates],
        [c.lon for c in candidates],
        [c.unit.unit_type for c in candidates],
        agency=[c.unit.agency.kind for c in candidates],
    )


def _rank(incident: Incident, candidates: list[Candidate], region: Region) -> list[Suggestion]:
    if not candidates:
        return []
    model = region.travel_model
    origins = fleet(model, candidates)
    assert incident.lat is not None and incident.lon is not None
    travel = model.travel(incident.lat, incident.lon, origins, priority=incident.priority)
    out = []
    for i, c in enumerate(candidates):
        eta, dist, ok = float(travel.eta_s[i]), float(travel.distance_m[i]), bool(travel.reachable[i])
        covers = _covers(c.unit.agency, incident.kecamatan_code)
        out.append(
            Suggestion(
                unit_id=c.unit.id,
                callsign=c.unit.callsign,
                agency=c.unit.agency.code,
                agency_kind=c.unit.agency.kind,
                eta_s=round(eta, 1) if math.isfinite(eta) else None,
                distance_m=round(dist) if math.isfinite(dist) else None,
                position_source=c.source,
                position_age_s=c.age_s,
                reachable=ok and math.isfinite(eta),
                covers=covers,
                reason=reason_line(c.place, dist, eta, ok, c.source, c.age_s),
            )
        )
    out.sort(key=lambda s: (not s.reachable, not s.covers, s.eta_s if s.eta_s is not None else math.inf))
    return out


def _covers(agency: Agency, kecamatan_code: str | None) -> bool:
    codes = {c.strip() for c in agency.covers.split(",") if c.strip()}
    return not codes or kecamatan_code in codes


def reason_line(place: str, distance_m: float, eta_s: float, reachable: bool, source: str, age_s: float | None) -> str:
    """One line in Bahasa: "Pos Damkar Padang Barat, 3,2 km, ±6 menit, posisi GPS 40 detik lalu"."""
    if not reachable or not math.isfinite(eta_s):
        return f"{place}: tidak terjangkau lewat darat (pulau lain)"
    km = f"{distance_m / 1000:.1f}".replace(".", ",")
    minutes = max(1, round(eta_s / 60))
    if source == "gps" and age_s is not None:
        where = f"posisi GPS {_age(age_s)} lalu"
    else:
        where = "dari pos (GPS tidak ada atau lama)"
    return f"{place}, {km} km, ±{minutes} menit, {where}"


def _age(seconds: float) -> str:
    return f"{round(seconds)} detik" if seconds < 90 else f"{round(seconds / 60)} menit"
