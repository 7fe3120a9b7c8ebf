"""Declaring a major incident and standing it down, filing reports under it, triage counts per site and units
staged for it. Refusals say why in Bahasa Indonesia first, then English."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.alerts import service as alerts
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.context import Region
from dispatch.errors import Conflict, Invalid, InvalidTransition, NotFound
from dispatch.events import service as events
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Incident, IncidentType
from dispatch.incidents.schemas import IncidentIn
from dispatch.lifecycle import UnitStatus
from dispatch.major import area
from dispatch.major import events as kinds
from dispatch.major.enums import TRIAGE_COLOURS, Choice, MajorStatus
from dispatch.major.models import MajorIncident, TriageCount
from dispatch.major.schemas import MajorIn, MajorOut, ReportIn, TriageIn


def data(major: MajorIncident) -> dict[str, Any]:
    return MajorOut.model_validate(major).model_dump(mode="json")


def get(*, session: Session, major_id: int) -> MajorIncident:
    row = session.get(MajorIncident, major_id)
    if row is None:
        raise NotFound(f"Insiden besar #{major_id} tidak ada. / Major incident {major_id} not found.")
    return row


def active(*, session: Session) -> MajorIncident | None:
    """The major incident in force, if one is: at most one at a time, so a call-taker's one key is unambiguous."""
    return session.scalar(
        select(MajorIncident).where(MajorIncident.status == MajorStatus.active).order_by(MajorIncident.id.desc())
    )


def listing(*, session: Session, limit: int = 50) -> Sequence[MajorIncident]:
    return session.scalars(select(MajorIncident).order_by(MajorIncident.id.desc()).limit(limit)).all()


def declare(*, session: Session, region: Region, body: MajorIn, user_id: int | None, actor: str) -> MajorIncident:
    """Declare a major incident, by hand, from a burst of calls a supervisor accepted, or from an alert (its
    name and area taken when none is given). Everything is checked before anything is written."""
    events.lock_log(session)  # two supervisors declaring at once: the second sees the first's
    current = active(session=session)
    if current is not None:
        raise Conflict(
            f"Sudah ada insiden besar aktif: #{current.id} {current.name}; akhiri dulu. / "
            f"Major incident {current.id} is active already; stand it down first."
        )
    if session.get(IncidentType, body.type_code) is None:
        raise Invalid(f"Jenis kejadian {body.type_code!r} tidak dikenal. / Unknown incident type {body.type_code!r}.")
    name, codes, shape, origin = body.name, list(dict.fromkeys(body.kecamatan_codes)), None, body.origin
    if body.alert_id is not None:
        alert = _alert(session, body.alert_id)
        name = name or (alert.headline or alert.event)[:200]
        shape, origin = alert.area, "alert"
        codes = codes or area.touched_by(alert.area, region.pack.geo_dir)
    if not name:
        raise Invalid("Beri nama insiden besar. / Give the major incident a name.")
    known = area.names(region.pack.geo_dir)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise Invalid(
            f"Kecamatan tidak dikenal di {region.pack.name}: {', '.join(unknown[:5])}. / "
            f"Unknown kecamatan in {region.pack.name}: {', '.join(unknown[:5])}."
        )
    major = MajorIncident(
        name=name,
        type_code=body.type_code,
        kecamatan_codes=codes,
        area=shape,
        alert_id=body.alert_id,
        origin=origin,
        status=MajorStatus.active,
        declared_by=user_id,
        declared_at=utcnow(),
        version=1,
    )
    session.add(major)
    session.flush()
    events.record(session, kinds.DECLARED, actor=actor, data={"major": data(major)})
    session.commit()
    return major


def _alert(session: Session, alert_id: int) -> Any:
    try:
        alert = alerts.get(session=session, alert_id=alert_id)
    except NotFound:
        raise NotFound(f"Peringatan #{alert_id} tidak ada. / Alert {alert_id} not found.") from None
    if alert.cancelled_at is not None:
        raise Conflict(f"Peringatan #{alert_id} sudah dibatalkan. / Alert {alert_id} was cancelled.")
    return alert


def stand_down(*, session: Session, major_id: int, user_id: int | None, actor: str) -> MajorIncident:
    """End disaster mode. Its reports stay open incidents, handled as any other; staged units are released."""
    major = get(session=session, major_id=major_id)
    if major.status == MajorStatus.stood_down:
        return major  # a retried request
    now = utcnow()
    major.status, major.stood_down_at, major.stood_down_by = MajorStatus.stood_down, now, user_id
    major.version += 1
    for unit in session.scalars(select(Unit).where(Unit.staged_for == major.id)):
        unit.staged_for = None
    events.record(session, kinds.STOOD_DOWN, actor=actor, data={"major": data(major)})
    session.commit()
    return major


def _require_active(major: MajorIncident) -> None:
    if major.status != MajorStatus.active:
        raise InvalidTransition(
            f"Insiden besar #{major.id} sudah diakhiri. / Major incident {major.id} has been stood down."
        )


def file_report(
    *, session: Session, region: Region, major_id: int, body: ReportIn, actor: str, user_id: int | None
) -> Incident:
    """File a call (or a report from the field) under the major incident: an incident of its own, with its own
    place and needs, of the major incident's type unless another is given. The call is linked and counts as an
    emergency. One transaction: nothing is written if any part is refused."""
    major = get(session=session, major_id=major_id)
    _require_active(major)
    fields = body.model_dump(exclude_unset=True)
    fields["type_code"] = body.type_code or major.type_code
    return incidents.create(
        session=session, region=region, body=IncidentIn(**fields), actor=actor, user_id=user_id, major_id=major.id
    )


def reports(*, session: Session, major_id: int) -> Sequence[Incident]:
    """Every report of the major incident, the most urgent first (priority, then the oldest)."""
    return session.scalars(
        select(Incident).where(Incident.major_id == major_id).order_by(Incident.priority, Incident.created_at)
    ).all()


def triage(*, session: Session, incident_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Casualty counts by colour for each site that has any."""
    out: dict[int, dict[str, int]] = {}
    if not incident_ids:
        return out
    for row in session.scalars(select(TriageCount).where(TriageCount.incident_id.in_(list(incident_ids)))):
        out.setdefault(row.incident_id, {})[row.colour] = row.count
    return out


def set_triage(
    *, session: Session, incident_id: int, body: TriageIn, user_id: int | None, actor: str
) -> dict[str, int]:
    """Set the casualty counts of a site, colour by colour as given; the others stay. An event says what changed."""
    incident = incidents.get(session=session, incident_id=incident_id)
    given = {c: n for c, n in body.model_dump().items() if n is not None}
    if not given:
        raise Invalid(
            "Isi paling sedikit satu warna triase (merah, kuning, hijau, hitam). / "
            "Give at least one triage colour (merah, kuning, hijau, hitam)."
        )
    rows = {r.colour: r for r in session.scalars(select(TriageCount).where(TriageCount.incident_id == incident.id))}
    now, changed = utcnow(), {}
    for colour in TRIAGE_COLOURS:
        if colour not in given:
            continue
        row = rows.get(colour)
        if row is None:
            session.add(
                TriageCount(incident_id=incident.id, colour=colour, count=given[colour], updated_by=user_id, at=now)
            )
        elif row.count != given[colour]:
            row.count, row.updated_by, row.at = given[colour], user_id, now
        else:
            continue
        changed[colour] = given[colour]
    counts = {c: r.count for c, r in rows.items()} | given
    if changed:
        events.record(
            session,
            kinds.TRIAGE,
            actor=actor,
            data={"incident_id": incident.id, "major_id": incident.major_id, "changed": changed, "counts": counts},
            incident_id=incident.id,
        )
    session.commit()
    return {c: counts.get(c, 0) for c in TRIAGE_COLOURS}


def stage(*, session: Session, major_id: int, unit_id: int, staged: bool, actor: str) -> Unit:
    """Stage a unit for the major incident (it gathers at the staging point, ready to be committed), or release
    it. Only an available unit is staged: one on an assignment is committed already."""
    major = get(session=session, major_id=major_id)
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"Unit #{unit_id} tidak ada. / Unit {unit_id} not found.")
    if staged:
        _require_active(major)
        if unit.staged_for == major.id:
            return unit
        if unit.status != UnitStatus.available:
            raise InvalidTransition(
                f"Unit {unit.callsign} sedang {unit.status}; hanya unit yang tersedia bisa disiagakan. / "
                f"Unit {unit.callsign} is {unit.status}; only an available unit can be staged."
            )
        unit.staged_for = major.id
    else:
        if unit.staged_for != major.id:
            return unit
        unit.staged_for = None
    unit.version += 1
    events.record(
        session,
        kinds.STAGED,
        actor=actor,
        data={"major_id": major.id, "unit_id": unit.id, "staged": staged},
        unit_id=unit.id,
    )
    session.commit()
    return unit


def record_choice(*, session: Session, call_id: int, choice: int, actor: str) -> Call:
    """Keep the caller's choice at the announcement on the call (the IVR's seam: it calls this once the caller
    pressed 1, 2 or 3). The queue orders by `enums.priority_of(call.major_choice)`."""
    if choice not in {c.value for c in Choice}:
        raise Invalid(f"Pilihan {choice} tidak dikenal (1, 2 atau 3). / Unknown choice {choice} (1, 2 or 3).")
    call = calls.get(session=session, call_id=call_id)
    if call.major_choice != choice:
        call.major_choice = choice
        call.version += 1
        events.record(
            session, "call.major_choice", actor=actor, data={"id": call.id, "major_choice": choice}, call_id=call.id
        )
    session.commit()
    return call
