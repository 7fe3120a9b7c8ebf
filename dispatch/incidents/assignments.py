"""Assigning units to incidents and moving each assignment through its lifecycle.

The unit's status mirrors its active assignment; the incident keeps the first time any unit reached each
step (dispatched, acknowledged, en route, on scene), which is what response-time reports need. A step's time is
when the crew tapped it, by the phone's clock, when that is plausible: a tap queued where coverage is patchy
reaches the server minutes late.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.agencies.service import unit_data
from dispatch.clock import SKEW, as_utc, utcnow
from dispatch.errors import Conflict, Forbidden, Invalid, InvalidTransition, NotFound
from dispatch.events import service as events
from dispatch.incidents.models import Assignment, Incident
from dispatch.incidents.service import assignment_data, fields, get
from dispatch.lifecycle import (
    ACTIVE_ASSIGNMENT,
    ASSIGNMENT,
    ASSIGNMENT_STAMP,
    PATIENT_STEPS,
    UNIT_FOR_ASSIGNMENT,
    AssignmentStatus,
    IncidentStatus,
    UnitStatus,
    carries_patients,
)

A = AssignmentStatus
# Incident columns that keep the first time any of its units reached a step.
_INCIDENT_FIRST = {A.acknowledged: "acknowledged_at", A.en_route: "en_route_at", A.on_scene: "on_scene_at"}


def get_assignment(*, session: Session, assignment_id: int) -> Assignment:
    row = session.get(Assignment, assignment_id)
    if row is None:
        raise NotFound(f"assignment {assignment_id} not found")
    return row


def active_for_unit(*, session: Session, unit_id: int) -> Assignment | None:
    return session.scalar(
        select(Assignment).where(Assignment.unit_id == unit_id, Assignment.status.in_(ACTIVE_ASSIGNMENT))
    )


def for_unit(*, session: Session, unit_id: int, limit: int = 20) -> Sequence[Assignment]:
    return session.scalars(
        select(Assignment).where(Assignment.unit_id == unit_id).order_by(Assignment.id.desc()).limit(limit)
    ).all()


def assign(
    *,
    session: Session,
    incident_id: int,
    unit_id: int,
    actor: str,
    user_id: int | None,
    reason: str | None = None,
    eta_s: float | None = None,
) -> Assignment:
    incident = get(session=session, incident_id=incident_id)
    if incident.status == IncidentStatus.closed:
        raise InvalidTransition(f"incident {incident_id} is closed")
    unit = session.get(Unit, unit_id, with_for_update=True)
    if unit is None:
        raise NotFound(f"unit {unit_id} not found")
    if unit.status != UnitStatus.available or not _claim(session, unit.id):
        session.rollback()  # nothing is written yet; re-read the unit, which another dispatcher may have just taken
        busy = active_for_unit(session=session, unit_id=unit.id)
        where = f" on incident #{busy.incident_id}" if busy else ""
        raise Conflict(f"unit {unit.callsign} is {unit.status}{where}, not available")
    now = utcnow()
    row = Assignment(
        incident_id=incident.id,
        unit_id=unit.id,
        status=A.dispatched,
        assigned_by=user_id,
        dispatched_at=now,
        reason=reason,
        eta_s=eta_s,
    )
    session.add(row)
    _set_unit(unit, UnitStatus.dispatched, now)
    changes: dict[str, Any] = {}
    if incident.status == IncidentStatus.new:
        incident.status, incident.dispatched_at = IncidentStatus.dispatched, now
        changes = fields(incident, "status", "dispatched_at")
    incident.version += 1
    session.flush()
    _record(session, "assignment.created", actor, row, unit, changes)
    session.commit()
    return row


def step(
    *,
    session: Session,
    assignment_id: int,
    status: str,
    actor: str,
    unit_id: int | None = None,
    at: datetime | None = None,
    reason: str | None = None,
    skew: timedelta = SKEW,
) -> Assignment:
    """Move an assignment to `status`. `unit_id` binds a responder to its own unit; `at` is when the crew tapped
    (`step_time` decides whether it is kept); `reason` says why a unit is stood down (cancelled)."""
    row = get_assignment(session=session, assignment_id=assignment_id)
    if unit_id is not None and row.unit_id != unit_id:
        raise Forbidden("a responder can only update its own unit's assignments")
    target = A(status)
    if row.status == target:
        return row  # a retried tap from a phone on a weak connection
    ASSIGNMENT.check(row.status, target)
    unit = session.get(Unit, row.unit_id)
    assert unit is not None
    if target in PATIENT_STEPS and not carries_patients(unit.unit_type):
        raise Invalid(f"unit {unit.callsign} ({unit.unit_type}) carries no patients: it has no step '{target}'")
    when, source = step_time(row, at, now=utcnow(), skew=skew)
    row.status = target
    setattr(row, ASSIGNMENT_STAMP[target], when)
    if target == A.en_route and row.acknowledged_at is None:
        row.acknowledged_at = when  # driving off is an acknowledgement
    if target == A.cancelled:
        row.cancel_reason = reason
    _set_unit(unit, UNIT_FOR_ASSIGNMENT[target], when)
    incident = get(session=session, incident_id=row.incident_id)
    changes = _roll_up(incident, row)
    timing: dict[str, Any] = {"time_source": source}
    if at is not None:
        timing["device_at"] = as_utc(at).isoformat()  # kept for audit, also when it was not believed
    _record(session, "assignment.status", actor, row, unit, changes, timing)
    session.commit()
    return row


def step_time(row: Assignment, at: datetime | None, *, now: datetime, skew: timedelta = SKEW) -> tuple[datetime, str]:
    """The time of a step and where it came from: the phone's tap time (`device`) when it is plausible, otherwise
    the time the server received it (`server`).

    Plausible: not later than the server's clock plus `skew` (phones' clocks drift; a later one is a wrong clock)
    and not before the assignment's latest time so far (its dispatch, or the step before). A tap cannot come
    before the step that enabled it, and a stamp out of order would make a negative interval in the reports."""
    if at is None:
        return now, "server"
    at = as_utc(at)
    if _latest(row) <= at <= now + skew:
        return at, "device"
    return now, "server"


def _latest(row: Assignment) -> datetime:
    stamps: list[datetime | None] = [getattr(row, column) for column in set(ASSIGNMENT_STAMP.values())]
    return max(t for t in [row.dispatched_at, *stamps] if t is not None)


def _roll_up(incident: Incident, row: Assignment) -> dict[str, Any]:
    changed: list[str] = []
    stamps = [(A.acknowledged, row.acknowledged_at), (A.en_route, row.en_route_at), (A.on_scene, row.on_scene_at)]
    for state, stamped in stamps:
        column = _INCIDENT_FIRST[state]
        first = getattr(incident, column)
        # Earlier than the first so far also counts: a tap queued offline arrives after another unit's, with
        # the earlier time.
        if stamped is not None and (first is None or stamped < first):
            setattr(incident, column, stamped)
            changed.append(column)
    if row.status == A.on_scene and incident.status == IncidentStatus.dispatched:
        incident.status = IncidentStatus.on_scene
        changed.append("status")
    if changed:
        incident.version += 1
    return fields(incident, *changed)


def _claim(session: Session, unit_id: int) -> bool:
    """Take the unit if it is still available: of two dispatchers who both read it available, one UPDATE matches.

    SQLite has no row locks (`with_for_update` is a no-op there) and reads outside a transaction, so without this
    both dispatchers' assignments were written and one unit was sent to two incidents at once."""
    claimed = session.execute(
        update(Unit)
        .where(Unit.id == unit_id, Unit.status == UnitStatus.available)
        .values(status=UnitStatus.dispatched)
        .execution_options(synchronize_session=False)
    )
    return getattr(claimed, "rowcount", 0) == 1


def _set_unit(unit: Unit, status: UnitStatus, now: datetime) -> None:
    unit.status, unit.status_at = status, now
    unit.version += 1


def _record(
    session: Session,
    kind: str,
    actor: str,
    row: Assignment,
    unit: Unit,
    changes: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    payload: dict[str, Any] = {"assignment": assignment_data(row), "unit": unit_data(unit), **(extra or {})}
    if changes:
        payload["incident"] = changes
    events.record(session, kind, actor=actor, data=payload, incident_id=row.incident_id, unit_id=unit.id)
