"""Incidents: creation checks, duplicates, closing rules, rebuilding from events."""

import math

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.calls import service as calls
from dispatch.errors import Invalid, InvalidTransition
from dispatch.events.models import Event
from dispatch.incidents import assignments, duplicates
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Incident
from dispatch.incidents.schemas import IncidentIn, IncidentOut, IncidentPatch
from ui.context import Ctx

PADANG_BARAT = (-0.9262, 100.3560)


def make(ctx: Ctx, session: Session, **kw: object) -> Incident:
    fields = {"type_code": "fire_house", "lat": PADANG_BARAT[0], "lon": PADANG_BARAT[1], **kw}
    if "lat" in kw and "lon" not in kw:
        fields["lon"] = None
    body = IncidentIn(**fields)
    return incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)


def counts(session: Session) -> tuple[int, int]:
    return (session.scalar(select(func.count(Incident.id))) or 0, session.scalar(select(func.count(Event.seq))) or 0)


def test_located_in_kecamatan_and_kelurahan(ctx: Ctx, session: Session) -> None:
    incident = make(ctx, session)
    assert incident.kecamatan == "Padang Barat" and incident.kelurahan
    assert incident.priority == 1 and incident.location_confirmed


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"type_code": "alien_invasion"}, "unknown incident type"),
        ({"lat": 3.59, "lon": 98.67}, "outside Kota Padang"),  # Medan
        ({"lat": 100.356, "lon": -0.926}, "swapped"),
        ({"lat": 91.0, "lon": 100.3}, "latitude"),
        ({"lat": -0.9262}, "both lat and lon"),
    ],
)
def test_bad_input_writes_nothing(ctx: Ctx, session: Session, kw: dict[str, object], message: str) -> None:
    before = counts(session)
    with pytest.raises((Invalid, ValueError), match=message):
        make(ctx, session, **kw)
    session.rollback()
    assert counts(session) == before


def test_nan_is_refused_at_the_edge() -> None:
    with pytest.raises(ValueError, match="finite"):
        IncidentIn(type_code="fire_house", lat=math.nan, lon=100.3)


def test_duplicate_by_distance_and_by_caller(ctx: Ctx, session: Session) -> None:
    first = make(ctx, session)
    found = duplicates.find(
        session=session,
        policy=ctx.region.policy,
        type_code="fire_market",
        lat=PADANG_BARAT[0] + 0.001,
        lon=PADANG_BARAT[1],
        caller=None,
    )
    assert [d.incident_id for d in found] == [first.id] and found[0].distance_m < 200
    assert not duplicates.find(
        session=session,
        policy=ctx.region.policy,
        type_code="medical",
        lat=PADANG_BARAT[0],
        lon=PADANG_BARAT[1],
        caller=None,
    )
    call = calls.offer(session=session, caller="081255556666", provider="manual", channel_id="d1")
    calls.answer(session=session, call_id=call.id, taker_id=None, actor="t")
    linked = make(ctx, session, type_code="medical", call_id=call.id, lat=-0.95, lon=100.40)
    by_caller = duplicates.find(
        session=session, policy=ctx.region.policy, type_code="crime", lat=None, lon=None, caller="+6281255556666"
    )
    assert [d.incident_id for d in by_caller] == [linked.id]


def test_mark_duplicate_moves_calls(ctx: Ctx, session: Session) -> None:
    target = make(ctx, session)
    call = calls.offer(session=session, caller="0812", provider="manual", channel_id="dup")
    calls.answer(session=session, call_id=call.id, taker_id=None, actor="t")
    other = make(ctx, session, call_id=call.id)
    incidents.mark_duplicate(session=session, incident_id=other.id, of_id=target.id, actor="t")
    assert other.status == "closed" and other.duplicate_of == target.id
    assert calls.get(session=session, call_id=call.id).incident_id == target.id


def test_closing_with_units_assigned_is_refused(ctx: Ctx, session: Session) -> None:
    incident = make(ctx, session)
    unit = session.scalars(select(Unit).where(Unit.callsign == "DAMKAR-03-PMK1")).one()
    a = assignments.assign(session=session, incident_id=incident.id, unit_id=unit.id, actor="d", user_id=None)
    with pytest.raises(InvalidTransition, match="still assigned"):
        incidents.close(session=session, incident_id=incident.id, closure="x", actor="d")
    second = make(ctx, session, lat=-0.93, lon=100.36)
    with pytest.raises(Exception, match="not available"):
        assignments.assign(session=session, incident_id=second.id, unit_id=unit.id, actor="d", user_id=None)
    for status in ("en_route", "on_scene", "cleared"):
        assignments.step(session=session, assignment_id=a.id, status=status, actor="r")
    assert a.acknowledged_at == a.en_route_at  # driving off counts as acknowledging
    assert unit.status == "available"
    incidents.close(session=session, incident_id=incident.id, closure="padam", actor="d")


def test_state_rebuilt_from_events_matches_the_row(ctx: Ctx, session: Session) -> None:
    incident = make(ctx, session)
    incidents.update(
        session=session,
        region=ctx.region,
        incident_id=incident.id,
        body=IncidentPatch(notes="dua rumah", priority=2, lat=-0.9300, lon=100.3600),
        actor="t",
    )
    unit = session.scalars(select(Unit).where(Unit.callsign == "PSC119-03-AMB1")).one()
    a = assignments.assign(session=session, incident_id=incident.id, unit_id=unit.id, actor="d", user_id=None)
    for status in ("acknowledged", "en_route", "on_scene", "transporting", "at_hospital", "cleared"):
        assignments.step(session=session, assignment_id=a.id, status=status, actor="r")
    incidents.close(session=session, incident_id=incident.id, closure="selesai", actor="d")
    rebuilt = incidents.rebuild(session=session, incident_id=incident.id)
    session.refresh(incident)
    assert rebuilt["incident"] == IncidentOut.model_validate(incident).model_dump(mode="json")
    assert rebuilt["assignments"] == [incidents.assignment_data(a)]


def test_event_log_is_append_only(ctx: Ctx, session: Session) -> None:
    make(ctx, session)
    event = session.scalars(select(Event)).first()
    assert event is not None
    event.type = "tampered"
    with pytest.raises(Invalid, match="append-only"):
        session.flush()
