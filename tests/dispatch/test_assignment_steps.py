"""A crew's steps as its phone reports them: the time of the tap when it is plausible (a tap queued where coverage
is patchy arrives minutes late), the steps its kind of unit has (an ambulance takes patients to hospital, a fire
engine never), and why a dispatcher stood it down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.agencies.service import unit_data
from dispatch.clock import SKEW, utcnow
from dispatch.errors import Invalid
from dispatch.events.models import Event
from dispatch.incidents import assignments
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Assignment, Incident
from dispatch.incidents.schemas import IncidentIn, IncidentOut
from dispatch.lifecycle import carries_patients
from dispatch.reports import response_times
from dispatch.reports.period import Period
from ui.context import Ctx

PADANG_BARAT = (-0.9262, 100.3560)
S = timedelta(seconds=1)


def incident(ctx: Ctx, session: Session, n: int = 0) -> Incident:
    body = IncidentIn(type_code="fire_house", lat=PADANG_BARAT[0] + n / 1000, lon=PADANG_BARAT[1])
    return incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)


def send(session: Session, inc: Incident, callsign: str) -> Assignment:
    unit = session.scalars(select(Unit).where(Unit.callsign == callsign)).one()
    return assignments.assign(session=session, incident_id=inc.id, unit_id=unit.id, actor="d", user_id=None)


def tap(session: Session, a: Assignment, status: str, **kw: Any) -> Assignment:
    return assignments.step(session=session, assignment_id=a.id, status=status, actor="r", **kw)


def last_status_event(session: Session, a: Assignment) -> dict[str, Any]:
    rows = session.scalars(select(Event).where(Event.incident_id == a.incident_id).order_by(Event.seq)).all()
    return dict([e for e in rows if e.type == "assignment.status"][-1].data)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def moments(data: dict[str, str]) -> dict[str, datetime]:
    return {k: moment(v) for k, v in data.items()}


def received_at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    """The server receives the next taps at `when` (a phone that was out of coverage sends them late)."""
    monkeypatch.setattr(assignments, "utcnow", lambda: when)


def assert_log_rebuilds(session: Session, inc: Incident) -> None:
    session.refresh(inc)
    assert incidents.rebuild(session=session, incident_id=inc.id)["incident"] == IncidentOut.model_validate(
        inc
    ).model_dump(mode="json")


# ---- the time of a step ---------------------------------------------------------------------------------------


def test_a_tap_sent_late_is_dated_when_it_was_tapped(
    ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walkthrough: tapped 23.37.31, received 23.37.40. Turnout is measured to the tap, not to the signal."""
    inc = incident(ctx, session)
    a = send(session, inc, "DAMKAR-03-PMK1")
    tapped = a.dispatched_at + 31 * S
    received_at(monkeypatch, a.dispatched_at + 40 * S)
    tap(session, a, "en_route", at=tapped)
    assert (a.en_route_at, a.acknowledged_at) == (tapped, tapped)  # driving off acknowledges, at the same moment
    engine = session.get(Unit, a.unit_id)
    assert engine is not None and (engine.status, engine.status_at) == ("en_route", tapped)
    event = last_status_event(session, a)
    assert (event["time_source"], event["device_at"]) == ("device", tapped.isoformat())
    assert moment(event["assignment"]["en_route_at"]) == tapped
    assert moments(event["incident"]) == {"acknowledged_at": tapped, "en_route_at": tapped}
    assert_log_rebuilds(session, inc)
    # The report reads the stored step times: 31 s of turnout, not 40.
    days = Period(inc.created_at.date() - timedelta(days=1), inc.created_at.date() + timedelta(days=1), ZoneInfo("UTC"))
    samples = response_times.samples(session=session, period=days)
    assert [s.seconds for s in samples if s.interval == "turnout"] == [31.0]


def test_a_step_without_a_tap_time_is_dated_when_the_server_received_it(
    ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = send(session, incident(ctx, session), "DAMKAR-03-PMK1")
    now = a.dispatched_at + 9 * S
    received_at(monkeypatch, now)
    tap(session, a, "acknowledged")
    assert a.acknowledged_at == now
    event = last_status_event(session, a)
    assert event["time_source"] == "server" and "device_at" not in event


def test_a_tap_time_in_the_future_is_not_believed_but_kept_for_audit(
    ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone whose clock runs an hour ahead: the step is dated on arrival, and the event says so."""
    a = send(session, incident(ctx, session), "DAMKAR-03-PMK1")
    now = a.dispatched_at + 20 * S
    received_at(monkeypatch, now)
    ahead = now + timedelta(hours=1)
    tap(session, a, "acknowledged", at=ahead)
    assert a.acknowledged_at == now
    event = last_status_event(session, a)
    assert (event["time_source"], event["device_at"]) == ("server", ahead.isoformat())


def test_the_command_centers_skew_decides_how_far_ahead_a_phone_may_be(
    ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Settings.clock_skew_s` reaches the service (ui/routes/incidents.py passes the region's policy)."""
    inc = incident(ctx, session)
    strict, lenient = send(session, inc, "DAMKAR-03-PMK1"), send(session, inc, "DAMKAR-04-PMK1")
    now = strict.dispatched_at + 10 * S
    received_at(monkeypatch, now)
    tap(session, strict, "acknowledged", at=now + 60 * S, skew=30 * S)
    tap(session, lenient, "acknowledged", at=now + 60 * S)  # within the default five minutes
    assert (strict.acknowledged_at, lenient.acknowledged_at) == (now, now + 60 * S)


def test_a_tap_time_before_the_assignment_or_the_step_before_is_not_believed(
    ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone whose clock runs behind, and a tap dated before the step that made it possible: either would make
    a negative interval in the reports."""
    a = send(session, incident(ctx, session), "PSC119-03-AMB1")
    received_at(monkeypatch, a.dispatched_at + 30 * S)
    tap(session, a, "acknowledged", at=a.dispatched_at - S)
    assert a.acknowledged_at == a.dispatched_at + 30 * S
    assert last_status_event(session, a)["time_source"] == "server"
    received_at(monkeypatch, a.dispatched_at + 90 * S)
    tap(session, a, "en_route", at=a.dispatched_at + 29 * S)  # before the acknowledgement as recorded
    assert a.en_route_at == a.dispatched_at + 90 * S
    event = last_status_event(session, a)
    assert (event["time_source"], event["device_at"]) == ("server", (a.dispatched_at + 29 * S).isoformat())
    assert a.acknowledged_at == a.dispatched_at + 30 * S  # not moved by driving off
    # Each later step is measured from the last one, whichever it was.
    tap(session, a, "on_scene", at=a.dispatched_at + 60 * S)
    tap(session, a, "transporting", at=a.dispatched_at + 89 * S)
    assert (a.on_scene_at, a.transporting_at) == (a.dispatched_at + 90 * S, a.dispatched_at + 90 * S)
    tap(session, a, "at_hospital", at=a.dispatched_at + 90 * S)  # the same moment as the step before: plausible
    assert a.at_hospital_at == a.dispatched_at + 90 * S
    assert last_status_event(session, a)["time_source"] == "device"


def test_plausible_means_from_the_latest_step_to_the_servers_clock_plus_the_skew() -> None:
    dispatched = datetime(2026, 12, 6, 23, 37, 0, tzinfo=UTC)
    row = Assignment(dispatched_at=dispatched, acknowledged_at=dispatched + 5 * S)
    now, skew = dispatched + 60 * S, 10 * S
    tiny = timedelta(microseconds=1)

    def when(at: datetime | None, **kw: Any) -> tuple[datetime, str]:
        return assignments.step_time(row, at, now=now, **kw)

    assert when(dispatched + 5 * S, skew=skew) == (dispatched + 5 * S, "device")
    assert when(dispatched + 5 * S - tiny, skew=skew) == (now, "server")
    assert when(now + skew, skew=skew) == (now + skew, "device")
    assert when(now + skew + tiny, skew=skew) == (now, "server")
    assert when(None, skew=skew) == (now, "server")
    assert when(now + tiny, skew=timedelta(0)) == (now, "server")
    assert when(now + SKEW) == (now + SKEW, "device")  # the default skew is the clock's
    assert when(now + SKEW + tiny) == (now, "server")
    row.en_route_at = dispatched + 50 * S  # every step counts, not only the first
    assert when(dispatched + 49 * S, skew=skew) == (now, "server")


def test_a_tap_time_in_another_zone_or_without_one_is_kept_in_utc() -> None:
    """The phone sends UTC (toISOString); a client that sends WIB, or no zone (taken as UTC), is understood."""
    dispatched = datetime(2026, 12, 6, 16, 37, 0, tzinfo=UTC)
    row = Assignment(dispatched_at=dispatched)
    wib = timezone(timedelta(hours=7))
    got, source = assignments.step_time(row, datetime(2026, 12, 6, 23, 37, 31, tzinfo=wib), now=dispatched + 60 * S)
    assert (got, source) == (dispatched + 31 * S, "device") and got.tzinfo == UTC
    naive = (dispatched + 31 * S).replace(tzinfo=None)
    got, source = assignments.step_time(row, naive, now=dispatched + 60 * S)
    assert (got, source) == (dispatched + 31 * S, "device") and got.tzinfo == UTC


def test_the_audit_copy_of_a_tap_time_is_in_utc(ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    a = send(session, incident(ctx, session), "DAMKAR-03-PMK1")
    received_at(monkeypatch, a.dispatched_at + 40 * S)
    tapped = (a.dispatched_at + 31 * S).astimezone(timezone(timedelta(hours=7)))
    tap(session, a, "acknowledged", at=tapped)
    assert last_status_event(session, a)["device_at"] == (a.dispatched_at + 31 * S).isoformat()
    assert moment(last_status_event(session, a)["assignment"]["acknowledged_at"]).utcoffset() == timedelta(0)


def test_an_earlier_tap_arriving_later_becomes_the_incidents_first_time(
    ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two units: the ambulance drove off first but its phone had no signal; the fire engine's tap arrived
    first. The incident's first en-route time (and the total response time) is the ambulance's."""
    inc = incident(ctx, session)
    ambulance, engine = send(session, inc, "PSC119-03-AMB1"), send(session, inc, "DAMKAR-03-PMK1")
    t0 = engine.dispatched_at
    received_at(monkeypatch, t0 + 20 * S)
    tap(session, engine, "en_route", at=t0 + 20 * S)
    received_at(monkeypatch, t0 + 60 * S)
    tap(session, ambulance, "en_route", at=t0 + 10 * S)
    session.refresh(inc)
    assert (inc.en_route_at, inc.acknowledged_at) == (t0 + 10 * S, t0 + 10 * S)
    changed = last_status_event(session, ambulance)["incident"]
    assert moments(changed) == {"acknowledged_at": t0 + 10 * S, "en_route_at": t0 + 10 * S}
    assert_log_rebuilds(session, inc)
    # At the same moment as the first: nothing changes, and the event says nothing about the incident.
    received_at(monkeypatch, t0 + 70 * S)
    tap(session, engine, "on_scene", at=t0 + 30 * S)
    tap(session, ambulance, "on_scene", at=t0 + 30 * S)
    assert "incident" not in last_status_event(session, ambulance)
    session.refresh(inc)
    assert (inc.status, inc.on_scene_at) == ("on_scene", t0 + 30 * S)
    assert_log_rebuilds(session, inc)


# ---- the steps of each kind of unit -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit_type", "carries"),
    [
        ("ambulance", True),
        ("Ambulans", True),
        ("AMBULAN 4WD", True),
        ("pumper", False),
        ("patrol", False),
        ("rescue", False),
        ("rescue_boat", False),
    ],
)
def test_a_unit_carries_patients_when_its_vehicle_is_an_ambulance(unit_type: str, carries: bool) -> None:
    assert carries_patients(unit_type) is carries


def test_a_fire_engine_or_a_patrol_car_has_no_patient_steps(ctx: Ctx, session: Session) -> None:
    engine = send(session, incident(ctx, session), "DAMKAR-03-PMK1")
    tap(session, engine, "en_route")
    tap(session, engine, "on_scene")
    with pytest.raises(Invalid) as refused:
        tap(session, engine, "transporting")
    assert str(refused.value) == "unit DAMKAR-03-PMK1 (pumper) carries no patients: it has no step 'transporting'"
    session.refresh(engine)
    assert engine.status == "on_scene" and engine.transporting_at is None
    assert last_status_event(session, engine)["assignment"]["status"] == "on_scene"  # nothing recorded
    police = send(session, incident(ctx, session, 1), "POLISI-03-PTR1")
    tap(session, police, "en_route")
    tap(session, police, "on_scene")
    with pytest.raises(Invalid, match=r"^unit POLISI-03-PTR1 \(patrol\) carries no patients: it has no step 'tr"):
        tap(session, police, "transporting")
    tap(session, engine, "cleared")  # the step they do have
    assert engine.status == "cleared"


def test_an_ambulance_takes_the_patient_to_hospital_and_clears_after_the_handover(ctx: Ctx, session: Session) -> None:
    a = send(session, incident(ctx, session), "PSC119-03-AMB1")
    for status in ("acknowledged", "en_route", "on_scene", "transporting", "at_hospital", "cleared"):
        tap(session, a, status)
    assert a.transporting_at is not None and a.at_hospital_at is not None and a.cleared_at is not None
    assert a.at_hospital_at <= a.cleared_at  # the handover: from arriving at hospital to available again


def test_the_phone_learns_which_steps_its_unit_has(session: Session) -> None:
    def unit(callsign: str) -> Unit:
        return session.scalars(select(Unit).where(Unit.callsign == callsign)).one()

    assert unit_data(unit("PSC119-03-AMB1"))["carries_patients"] is True
    assert unit_data(unit("DAMKAR-03-PMK1"))["carries_patients"] is False


# ---- standing a unit down -----------------------------------------------------------------------------------


def test_a_unit_stood_down_keeps_the_dispatchers_reason(ctx: Ctx, session: Session) -> None:
    inc = incident(ctx, session)
    a = send(session, inc, "DAMKAR-03-PMK1")
    tap(session, a, "cancelled", reason="laporan palsu, sudah dicek polisi")
    assert a.cancel_reason == "laporan palsu, sudah dicek polisi"
    assert last_status_event(session, a)["assignment"]["cancel_reason"] == "laporan palsu, sudah dicek polisi"
    session.expire_all()
    stored = session.get(Assignment, a.id)
    assert stored is not None and stored.cancel_reason == "laporan palsu, sudah dicek polisi"
    silent = send(session, inc, "DAMKAR-04-PMK1")
    tap(session, silent, "cancelled")
    assert silent.cancel_reason is None


def test_a_reason_goes_with_a_cancellation_only(ctx: Ctx, session: Session) -> None:
    a = send(session, incident(ctx, session), "DAMKAR-03-PMK1")
    tap(session, a, "en_route", reason="not a cancellation")
    assert a.cancel_reason is None


def test_a_retried_tap_changes_nothing(ctx: Ctx, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    a = send(session, incident(ctx, session), "DAMKAR-03-PMK1")
    tap(session, a, "acknowledged", at=a.dispatched_at + S)
    received_at(monkeypatch, utcnow() + 60 * S)
    tap(session, a, "acknowledged", at=a.dispatched_at + 2 * S)
    assert a.acknowledged_at == a.dispatched_at + S
