"""Incidents: create from a call, locate, update, close, link calls, mark duplicates, rebuild from events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.context import Region
from dispatch.errors import Invalid, InvalidTransition, NotFound
from dispatch.events import service as events
from dispatch.incidents.models import Assignment, Incident, IncidentType
from dispatch.incidents.schemas import AssignmentOut, IncidentIn, IncidentOut, IncidentPatch
from dispatch.lifecycle import ACTIVE_ASSIGNMENT, INCIDENT, OPEN_INCIDENT, IncidentStatus
from dispatch.places import service as places


def data(incident: Incident) -> dict[str, Any]:
    return IncidentOut.model_validate(incident).model_dump(mode="json")


def fields(incident: Incident, *names: str) -> dict[str, Any]:
    """Some fields of the incident, serialised exactly as in full snapshots (so the log folds cleanly)."""
    snapshot = data(incident)
    return {name: snapshot[name] for name in names}


def get(*, session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def incident_type(*, session: Session, code: str) -> IncidentType:
    itype = session.get(IncidentType, code)
    if itype is None:
        raise Invalid(f"unknown incident type {code!r}")
    return itype


def catalogue(*, session: Session) -> Sequence[IncidentType]:
    return session.scalars(select(IncidentType).order_by(IncidentType.priority, IncidentType.name_id)).all()


def _place(incident: Incident, region: Region, lat: float, lon: float) -> None:
    where = region.locate(lat, lon)
    incident.lat, incident.lon = lat, lon
    incident.kecamatan_code, incident.kecamatan = where.kecamatan_code, where.kecamatan_name
    incident.kelurahan_code, incident.kelurahan = where.kelurahan_code, where.kelurahan_name
    incident.near_border = where.near_border
    incident.location_confirmed = True  # a person chose this point; AML fixes stay suggestions until then


def create(
    *, session: Session, region: Region, body: IncidentIn, actor: str, user_id: int | None, major_id: int | None = None
) -> Incident:
    """Create an incident, optionally from a call, optionally as a report of a major incident (whose id the
    caller has checked). Everything is checked before anything is written."""
    itype = incident_type(session=session, code=body.type_code)
    call: Call | None = calls.get(session=session, call_id=body.call_id) if body.call_id else None
    if (body.lat is None) != (body.lon is None):
        raise Invalid("give both lat and lon, or neither")
    incident = Incident(
        type_code=itype.code,
        priority=body.priority or itype.priority,
        status=IncidentStatus.new,
        location_source=body.location_source,
        location_accuracy_m=body.location_accuracy_m,
        address=body.address,
        notes=body.notes,
        caller=call.caller if call else None,
        created_by=user_id,
        created_at=utcnow(),
        major_id=major_id,
    )
    incident.type = itype
    if body.lat is not None and body.lon is not None:
        _place(incident, region, body.lat, body.lon)
    session.add(incident)
    session.flush()
    events.record(session, "incident.created", actor=actor, data={"incident": data(incident)}, incident_id=incident.id)
    if call is not None:
        calls.link_incident(session=session, call_id=call.id, incident_id=incident.id, actor=actor)
    session.commit()
    return incident


def update(*, session: Session, region: Region, incident_id: int, body: IncidentPatch, actor: str) -> Incident:
    incident = get(session=session, incident_id=incident_id)
    if incident.status == IncidentStatus.closed:
        raise InvalidTransition(f"incident {incident_id} is closed; reopen is not supported, create a new one")
    before = data(incident)
    fields = body.model_dump(exclude_unset=True)
    if ("lat" in fields) != ("lon" in fields) or (("lat" in fields) and (body.lat is None) != (body.lon is None)):
        raise Invalid("give both lat and lon to move an incident")
    if body.type_code is not None:
        incident.type = incident_type(session=session, code=body.type_code)
        incident.type_code = body.type_code
    for name in ("priority", "location_source", "location_accuracy_m", "address", "notes"):
        if name in fields:
            setattr(incident, name, fields[name])
    if body.lat is not None and body.lon is not None:
        _place(incident, region, body.lat, body.lon)
    after = data(incident)
    changes = {k: v for k, v in after.items() if before.get(k) != v}
    if changes:
        incident.version += 1
        events.record(
            session,
            "incident.updated",
            actor=actor,
            data={"incident": changes, "id": incident.id},
            incident_id=incident.id,
        )
    session.commit()
    return incident


def _ensure_no_active_units(session: Session, incident: Incident, what: str) -> None:
    busy = session.scalars(
        select(Assignment).where(Assignment.incident_id == incident.id, Assignment.status.in_(ACTIVE_ASSIGNMENT))
    ).all()
    if busy:
        raise InvalidTransition(
            f"cannot {what} incident {incident.id}: {len(busy)} unit(s) still assigned; clear or cancel them first"
        )


def close(*, session: Session, incident_id: int, closure: str, actor: str) -> Incident:
    incident = get(session=session, incident_id=incident_id)
    INCIDENT.check(incident.status, IncidentStatus.closed)
    _ensure_no_active_units(session, incident, "close")
    incident.status, incident.closed_at, incident.closure = IncidentStatus.closed, utcnow(), closure
    incident.version += 1
    events.record(
        session,
        "incident.closed",
        actor=actor,
        data={"id": incident.id, "incident": fields(incident, "status", "closed_at", "closure")},
        incident_id=incident.id,
    )
    places.learn(session=session, incident=incident)  # its place words at its confirmed point (issue 24)
    session.commit()
    return incident


def link_call(*, session: Session, incident_id: int, call_id: int, actor: str, notes: str | None = None) -> Call:
    """One-step link of a (duplicate) call to an existing incident, with what its caller said."""
    incident = get(session=session, incident_id=incident_id)
    if incident.status == IncidentStatus.closed:
        raise InvalidTransition(f"incident {incident_id} is closed")
    call = calls.link_incident(session=session, call_id=call_id, incident_id=incident.id, actor=actor, notes=notes)
    session.commit()
    return call


def mark_duplicate(*, session: Session, incident_id: int, of_id: int, actor: str) -> Incident:
    """Close `incident_id` as a duplicate of `of_id` and move its calls there."""
    if incident_id == of_id:
        raise Invalid("an incident cannot be a duplicate of itself")
    incident, target = get(session=session, incident_id=incident_id), get(session=session, incident_id=of_id)
    if target.status == IncidentStatus.closed:
        raise InvalidTransition(f"incident {of_id} is closed; link to an open incident")
    INCIDENT.check(incident.status, IncidentStatus.closed)
    _ensure_no_active_units(session, incident, "merge")
    for call in session.scalars(select(Call).where(Call.incident_id == incident.id)):
        calls.link_incident(session=session, call_id=call.id, incident_id=target.id, actor=actor)
    incident.duplicate_of, incident.status, incident.closed_at = target.id, IncidentStatus.closed, utcnow()
    incident.closure = f"duplikat #{target.id}"
    incident.version += 1
    events.record(
        session,
        "incident.duplicate",
        actor=actor,
        data={"id": incident.id, "incident": fields(incident, "duplicate_of", "status", "closed_at", "closure")},
        incident_id=incident.id,
    )
    session.commit()
    return incident


def open_incidents(*, session: Session) -> Sequence[Incident]:
    return session.scalars(
        select(Incident).where(Incident.status.in_(OPEN_INCIDENT)).order_by(Incident.priority, Incident.id)
    ).all()


def recent(*, session: Session, limit: int = 100) -> Sequence[Incident]:
    return session.scalars(select(Incident).order_by(Incident.id.desc()).limit(limit)).all()


def assignments(*, session: Session, incident_id: int) -> Sequence[Assignment]:
    return session.scalars(
        select(Assignment).where(Assignment.incident_id == incident_id).order_by(Assignment.id)
    ).all()


def linked_calls(*, session: Session, incident_id: int) -> Sequence[Call]:
    return session.scalars(select(Call).where(Call.incident_id == incident_id).order_by(Call.id)).all()


def rebuild(*, session: Session, incident_id: int) -> dict[str, Any]:
    """The incident and its assignments as they follow from the event log alone."""
    state: dict[str, Any] = {}
    units: dict[int, dict[str, Any]] = {}
    for event in events.for_incident(session, incident_id):
        state.update(event.data.get("incident", {}))
        if "assignment" in event.data:
            units[event.data["assignment"]["id"]] = event.data["assignment"]
    if not state:
        raise NotFound(f"incident {incident_id} has no events")
    return {"incident": state, "assignments": [units[k] for k in sorted(units)]}


def assignment_data(assignment: Assignment) -> dict[str, Any]:
    return AssignmentOut.model_validate(assignment).model_dump(mode="json")
