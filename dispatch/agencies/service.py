"""Agencies, stations and units: listing, positions from GPS, going in and out of service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency, Station, Unit
from dispatch.agencies.schemas import UnitOut
from dispatch.clock import SKEW, not_ahead, utcnow
from dispatch.errors import Invalid, InvalidTransition, NotFound
from dispatch.events import service as events
from dispatch.lifecycle import UnitStatus


def unit_data(unit: Unit) -> dict[str, Any]:
    return UnitOut.model_validate(unit).model_dump(mode="json")


def agencies(*, session: Session) -> Sequence[Agency]:
    return session.scalars(select(Agency).order_by(Agency.kind, Agency.name)).all()


def stations(*, session: Session) -> Sequence[Station]:
    return session.scalars(select(Station).order_by(Station.name)).all()


def units(*, session: Session) -> Sequence[Unit]:
    return session.scalars(select(Unit).order_by(Unit.callsign)).all()


def get_unit(*, session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} not found")
    return unit


def report_position(
    *,
    session: Session,
    unit_id: int,
    lat: float,
    lon: float,
    accuracy_m: float | None,
    at: datetime | None,
    actor: str,
    skew: timedelta = SKEW,
) -> Unit:
    """A GPS fix from a responder's phone. Fixes older than the one we hold are ignored (arrive out of order);
    one dated more than `skew` ahead of now is `Invalid` (the phone's clock is wrong)."""
    unit = get_unit(session=session, unit_id=unit_id)
    fix_at = not_ahead(at, what="the position's time", skew=skew) if at else utcnow()
    if unit.position_at is not None and fix_at <= unit.position_at:
        return unit
    unit.lat, unit.lon, unit.position_accuracy_m, unit.position_at = lat, lon, accuracy_m, fix_at
    events.record(
        session,
        "unit.position",
        actor=actor,
        data={"unit_id": unit.id, "lat": lat, "lon": lon, "accuracy_m": accuracy_m, "at": fix_at.isoformat()},
        unit_id=unit.id,
    )
    session.commit()
    return unit


def set_status(*, session: Session, unit_id: int, status: str, actor: str) -> Unit:
    """Put a unit in or out of service; assignment states move only through their own lifecycle."""
    unit = get_unit(session=session, unit_id=unit_id)
    if unit.status not in (UnitStatus.available, UnitStatus.out_of_service):
        raise InvalidTransition(f"unit {unit.callsign} is {unit.status}; clear its assignment first")
    if status not in (UnitStatus.available, UnitStatus.out_of_service):
        raise Invalid("a unit can only be set available or out_of_service directly")
    if unit.status != status:
        unit.status, unit.status_at = status, utcnow()
        unit.version += 1
        events.record(session, "unit.status", actor=actor, data={"unit": unit_data(unit)}, unit_id=unit.id)
    session.commit()
    return unit
