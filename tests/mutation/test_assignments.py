"""Assignments as the command center relies on them: one unit goes to one incident at a time (also when two
dispatchers press at once), a refusal says where the unit is, the record keeps who sent it, why and how far away,
the incident keeps the first time any unit reached each step, and the event log alone rebuilds all of it."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.errors import Conflict, Forbidden, InvalidTransition, NotFound
from dispatch.events.models import Event
from dispatch.incidents import assignments
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Assignment, Incident
from dispatch.incidents.schemas import IncidentIn, IncidentOut
from dispatch.users import service as users
from ui.context import Ctx

PADANG_BARAT = (-0.9262, 100.3560)
WAIT_S = 30.0  # a deadline for a condition that normally holds within milliseconds, never a pause


def incident(ctx: Ctx, session: Session, n: int = 0) -> Incident:
    body = IncidentIn(type_code="fire_house", lat=PADANG_BARAT[0] + n / 1000, lon=PADANG_BARAT[1])
    return incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)


def unit(session: Session, callsign: str) -> Unit:
    return session.scalars(select(Unit).where(Unit.callsign == callsign)).one()


def send(session: Session, inc: Incident, u: Unit, **kw: Any) -> Assignment:
    return assignments.assign(session=session, incident_id=inc.id, unit_id=u.id, actor="d", user_id=None, **kw)


def step(session: Session, a: Assignment, *statuses: str) -> None:
    for status in statuses:
        assignments.step(session=session, assignment_id=a.id, status=status, actor="r")


def events_of(session: Session, incident_id: int, kind: str) -> list[Event]:
    return [
        e
        for e in session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.seq))
        if e.type == kind
    ]


def assert_log_rebuilds(session: Session, inc: Incident) -> None:
    """The incident as the event log alone tells it is the incident as stored: what consoles and reports see."""
    session.refresh(inc)
    assert incidents.rebuild(session=session, incident_id=inc.id)["incident"] == IncidentOut.model_validate(
        inc
    ).model_dump(mode="json")


def test_two_dispatchers_pressing_at_once_send_the_unit_to_one_incident(ctx: Ctx, session: Session) -> None:
    """The first dispatcher's assignment is written but not yet committed when the second reads the unit as
    available. The second must be refused, told where the unit went; before the fix, on SQLite (no row locks) both
    assignments were written and one fire engine was sent to two fires."""
    first, second, engine = incident(ctx, session), incident(ctx, session, 1), unit(session, "DAMKAR-03-PMK1")
    claimed, go, second_waits = threading.Event(), threading.Event(), threading.Event()

    @event.listens_for(ctx.engine, "before_cursor_execute")
    def choreograph(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        name = threading.current_thread().name
        if name == "first" and statement.startswith("INSERT INTO events"):
            claimed.set()  # the unit is taken and the assignment written, uncommitted
            assert go.wait(WAIT_S)
        elif name == "second" and (
            statement.startswith("UPDATE units") or (statement.startswith("SELECT") and "FOR UPDATE" in statement)
        ):
            second_waits.set()  # about to wait for the first dispatcher's lock

    results: dict[str, Any] = {}

    def dispatcher(inc: Incident) -> None:
        with ctx.sessions() as mine:
            try:
                results[threading.current_thread().name] = send(mine, inc, engine).id
            except Exception as exc:
                results[threading.current_thread().name] = exc
            finally:  # a thread that ends early must not leave the other side waiting out the deadline
                claimed.set()
                second_waits.set()

    threads = {
        name: threading.Thread(target=dispatcher, args=(inc,), name=name)
        for name, inc in (("first", first), ("second", second))
    }
    try:
        threads["first"].start()
        assert claimed.wait(WAIT_S)
        threads["second"].start()
        assert second_waits.wait(WAIT_S)
    finally:
        go.set()
        for t in threads.values():
            t.join(WAIT_S)
        event.remove(ctx.engine, "before_cursor_execute", choreograph)
    assert isinstance(results["first"], int), results
    refused = results["second"]
    assert isinstance(refused, Conflict), results
    assert str(refused) == f"unit DAMKAR-03-PMK1 is dispatched on incident #{first.id}, not available"
    session.expire_all()
    sent = session.scalars(select(Assignment.incident_id).where(Assignment.unit_id == engine.id)).all()
    assert sent == [first.id] and unit(session, "DAMKAR-03-PMK1").status == "dispatched"


def test_a_busy_unit_is_refused_naming_the_incident_it_is_on_now(ctx: Ctx, session: Session) -> None:
    """Not an incident it has left, nor another unit's: the dispatcher phones the crew about that one."""
    engine, ambulance = unit(session, "DAMKAR-03-PMK1"), unit(session, "PSC119-03-AMB1")
    earlier, other, now_on, new = (incident(ctx, session, n) for n in range(4))
    step(session, send(session, earlier, engine), "en_route", "on_scene", "cleared")
    send(session, other, ambulance)
    send(session, now_on, engine)
    with pytest.raises(Conflict) as refused:
        send(session, new, engine)
    assert str(refused.value) == f"unit DAMKAR-03-PMK1 is dispatched on incident #{now_on.id}, not available"
    with pytest.raises(Conflict) as busy_too:
        send(session, new, ambulance)
    assert str(busy_too.value) == f"unit PSC119-03-AMB1 is dispatched on incident #{other.id}, not available"


def test_a_unit_out_of_service_is_refused_without_an_incident(ctx: Ctx, session: Session) -> None:
    police = unit(session, "POLISI-03-PTR1")
    police.status = "out_of_service"
    session.commit()
    with pytest.raises(Conflict) as refused:
        send(session, incident(ctx, session), police)
    assert str(refused.value) == "unit POLISI-03-PTR1 is out_of_service, not available"


def test_refusals_say_what_is_wrong(ctx: Ctx, session: Session) -> None:
    inc = incident(ctx, session)
    engine = unit(session, "DAMKAR-03-PMK1")
    with pytest.raises(NotFound, match=r"^unit 987654 not found$"):
        assignments.assign(session=session, incident_id=inc.id, unit_id=987654, actor="d", user_id=None)
    with pytest.raises(NotFound, match=r"^assignment 987654 not found$"):
        assignments.step(session=session, assignment_id=987654, status="en_route", actor="r")
    a = send(session, inc, engine)
    with pytest.raises(Forbidden, match=r"^a responder can only update its own unit's assignments$"):
        assignments.step(session=session, assignment_id=a.id, status="en_route", actor="r", unit_id=engine.id + 1)
    assert a.status == "dispatched"
    step(session, a, "cancelled")
    incidents.close(session=session, incident_id=inc.id, closure="salah alamat", actor="d")
    with pytest.raises(InvalidTransition, match=rf"^incident {inc.id} is closed$"):
        send(session, inc, engine)


def test_the_assignment_keeps_who_sent_the_unit_why_and_how_far(ctx: Ctx, session: Session) -> None:
    dispatcher = users.create(
        session=session, username=f"d-{uuid.uuid4().hex[:6]}", password="rahasia-demo-112", role="dispatcher"
    )
    inc, engine = incident(ctx, session), unit(session, "DAMKAR-03-PMK1")
    reason = "Pos Damkar Padang Barat, 0,1 km, ±1 menit, dari pos (GPS tidak ada atau lama)"
    a = assignments.assign(
        session=session,
        incident_id=inc.id,
        unit_id=engine.id,
        actor="d",
        user_id=dispatcher.id,
        reason=reason,
        eta_s=42.5,
    )
    session.expire_all()
    stored = session.get(Assignment, a.id)
    assert stored is not None
    assert (stored.status, stored.assigned_by, stored.reason, stored.eta_s) == (
        "dispatched",
        dispatcher.id,
        reason,
        42.5,
    )
    assert stored.acknowledged_at is None and stored.cleared_at is None
    engine = unit(session, "DAMKAR-03-PMK1")
    assert engine.status == "dispatched" and engine.status_at == stored.dispatched_at  # the board's "since"
    [created] = events_of(session, inc.id, "assignment.created")
    assert created.unit_id == engine.id and created.actor == "d"
    assert created.data["assignment"] == incidents.assignment_data(stored)
    assert (created.data["assignment"]["reason"], created.data["assignment"]["eta_s"]) == (reason, 42.5)
    assert created.data["unit"]["id"] == engine.id and created.data["unit"]["status"] == "dispatched"
    session.refresh(inc)
    assert created.data["incident"] == {
        "status": "dispatched",
        "dispatched_at": created.data["assignment"]["dispatched_at"],
    }
    assert inc.dispatched_at == stored.dispatched_at
    assert_log_rebuilds(session, inc)


def test_a_second_unit_does_not_move_the_incident_back_or_restamp_its_dispatch(ctx: Ctx, session: Session) -> None:
    inc = incident(ctx, session)
    first = send(session, inc, unit(session, "DAMKAR-03-PMK1"))
    step(session, first, "en_route", "on_scene")
    session.refresh(inc)
    assert inc.status == "on_scene"
    dispatched_at = inc.dispatched_at
    assert dispatched_at is not None
    second = send(session, inc, unit(session, "DAMKAR-04-PMK1"))
    session.refresh(inc)
    assert (inc.status, inc.dispatched_at) == ("on_scene", dispatched_at) and second.dispatched_at > dispatched_at
    [_, created] = events_of(session, inc.id, "assignment.created")
    assert "incident" not in created.data and created.data["unit"]["status"] == "dispatched"
    assert_log_rebuilds(session, inc)


def test_the_incident_keeps_the_first_time_any_unit_reached_each_step(ctx: Ctx, session: Session) -> None:
    """Response-time reports read these: the first acknowledgement, the first unit moving, the first on scene."""
    inc = incident(ctx, session)
    engine = send(session, inc, unit(session, "DAMKAR-03-PMK1"))
    ambulance = send(session, inc, unit(session, "PSC119-03-AMB1"))

    step(session, engine, "acknowledged")
    session.refresh(inc)
    assert (inc.status, inc.acknowledged_at, inc.en_route_at) == ("dispatched", engine.acknowledged_at, None)
    assert inc.acknowledged_at is not None
    assert_log_rebuilds(session, inc)

    step(session, ambulance, "en_route")  # the ambulance drives off first, unacknowledged: that counts as both
    session.refresh(inc)
    assert ambulance.acknowledged_at == ambulance.en_route_at is not None
    assert (inc.status, inc.acknowledged_at, inc.en_route_at) == (
        "dispatched",
        engine.acknowledged_at,
        ambulance.en_route_at,
    )
    [moved] = events_of(session, inc.id, "assignment.status")[1:]
    assert moved.data["incident"] == {"en_route_at": moved.data["assignment"]["en_route_at"]}
    assert_log_rebuilds(session, inc)

    step(session, engine, "en_route")  # later than the ambulance: the incident keeps the ambulance's time
    session.refresh(inc)
    assert engine.acknowledged_at is not None and engine.en_route_at is not None
    assert engine.acknowledged_at < engine.en_route_at and inc.en_route_at == ambulance.en_route_at
    assert "incident" not in events_of(session, inc.id, "assignment.status")[-1].data
    assert inc.on_scene_at is None and inc.status == "dispatched"

    step(session, engine, "on_scene")
    session.refresh(inc)
    assert (inc.status, inc.on_scene_at) == ("on_scene", engine.on_scene_at) and inc.on_scene_at is not None
    assert_log_rebuilds(session, inc)
    step(session, ambulance, "on_scene")
    session.refresh(inc)
    assert (inc.status, inc.on_scene_at) == ("on_scene", engine.on_scene_at)
    assert_log_rebuilds(session, inc)


def test_every_step_is_stamped_and_moves_the_unit_with_it(ctx: Ctx, session: Session) -> None:
    a = send(session, incident(ctx, session), unit(session, "PSC119-03-AMB1"))
    for status, column in [
        ("acknowledged", "acknowledged_at"),
        ("en_route", "en_route_at"),
        ("on_scene", "on_scene_at"),
        ("transporting", "transporting_at"),
        ("at_hospital", "at_hospital_at"),
        ("cleared", "cleared_at"),
    ]:
        step(session, a, status)
        stamp = getattr(a, column)
        assert stamp is not None
        ambulance = unit(session, "PSC119-03-AMB1")
        assert ambulance.status == ("available" if status == "cleared" else status)
        assert ambulance.status_at == stamp
        last = events_of(session, a.incident_id, "assignment.status")[-1]
        assert last.data["unit"]["status"] == ambulance.status and last.data["assignment"]["status"] == status
    assert a.acknowledged_at is not None and a.en_route_at is not None
    assert a.acknowledged_at < a.en_route_at  # not restamped by driving off


def test_a_unit_stood_down_before_answering_never_acknowledged(ctx: Ctx, session: Session) -> None:
    """Acknowledgement times feed escalation and reports; standing a unit down is not the crew answering."""
    a = send(session, incident(ctx, session), unit(session, "DAMKAR-03-PMK1"))
    step(session, a, "cancelled")
    assert (a.status, a.acknowledged_at, a.en_route_at) == ("cancelled", None, None)
    assert a.cleared_at is not None
    engine = unit(session, "DAMKAR-03-PMK1")
    assert (engine.status, engine.status_at) == ("available", a.cleared_at)


def test_a_responder_sees_its_own_assignments_newest_first(ctx: Ctx, session: Session) -> None:
    engine, other = unit(session, "DAMKAR-03-PMK1"), unit(session, "DAMKAR-04-PMK1")
    mine = []
    for n in range(3):
        inc = incident(ctx, session, n)
        send(session, inc, other) if n == 1 else None
        a = send(session, inc, engine)
        step(session, a, "cancelled")
        mine.append(a.id)
    assert [a.id for a in assignments.for_unit(session=session, unit_id=engine.id)] == mine[::-1]
    assert [a.id for a in assignments.for_unit(session=session, unit_id=engine.id, limit=2)] == mine[:0:-1]
    assert [a.unit_id for a in assignments.for_unit(session=session, unit_id=other.id)] == [other.id]


def test_a_responders_list_stops_at_the_twenty_newest(ctx: Ctx, session: Session) -> None:
    """A crew's phone on a weak connection gets its recent work, not its whole history."""
    inc, engine = incident(ctx, session), unit(session, "DAMKAR-03-PMK1")
    ids = []
    for _ in range(21):
        a = send(session, inc, engine)
        step(session, a, "cancelled")
        ids.append(a.id)
    assert [a.id for a in assignments.for_unit(session=session, unit_id=engine.id)] == ids[:0:-1]
