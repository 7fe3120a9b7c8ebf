"""The server escalates an unacknowledged assignment exactly when its timeout passes, once, and never one a
unit answered or was stood down from. The clock is driven, never slept on."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.events.models import Event
from dispatch.incidents import assignments, escalation
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Assignment
from dispatch.incidents.schemas import IncidentIn
from tests.dispatch.test_query_plans import WHOLE_TABLE, plans
from ui.app import escalate_forever
from ui.context import Ctx

PADANG_BARAT = (-0.9262, 100.3560)
MS = timedelta(milliseconds=1)


def dispatch(
    ctx: Ctx, session: Session, callsign: str = "DAMKAR-03-PMK1", at: tuple[float, float] = PADANG_BARAT
) -> Assignment:
    """A house fire at `at` with `callsign` assigned to it, not acknowledged."""
    body = IncidentIn(type_code="fire_house", lat=at[0], lon=at[1])
    incident = incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)
    unit = session.scalars(select(Unit).where(Unit.callsign == callsign)).one()
    return assignments.assign(session=session, incident_id=incident.id, unit_id=unit.id, actor="d", user_id=None)


def escalations(session: Session) -> list[Event]:
    session.rollback()  # read what is committed now
    return list(session.scalars(select(Event).where(Event.type == escalation.ESCALATED).order_by(Event.seq)))


def timeout(ctx: Ctx) -> timedelta:
    return timedelta(seconds=ctx.region.policy.ack_timeout_s)


def test_escalates_when_the_timeout_passes_and_not_a_moment_before(ctx: Ctx, session: Session) -> None:
    late = dispatch(ctx, session)
    deadline = late.dispatched_at + timeout(ctx)
    assert escalation.escalate_due(session=session, region=ctx.region, now=deadline - MS) == []
    assert escalations(session) == []
    assert escalation.escalate_due(session=session, region=ctx.region, now=deadline) == [late.id]
    [event] = escalations(session)
    assert event.incident_id == late.incident_id and event.unit_id == late.unit_id and event.actor == "server"
    assert event.data["timeout_s"] == ctx.region.policy.ack_timeout_s
    assert event.data["assignment"]["status"] == "dispatched"
    assert event.data["assignment"]["escalated_at"] is not None
    session.refresh(late)
    assert late.escalated_at == deadline
    # The next unit is proposed with the recommendation's reason: a free fire engine, not the late one.
    proposal: dict[str, Any] = event.data["next"]
    assert proposal["unit_id"] != late.unit_id and proposal["kind"] == "damkar" and proposal["reason"]
    assert session.get(Unit, proposal["unit_id"]).status == "available"  # type: ignore[union-attr]


def test_escalates_once_however_often_it_runs(ctx: Ctx, session: Session) -> None:
    late = dispatch(ctx, session)
    deadline = late.dispatched_at + timeout(ctx)
    assert escalation.escalate_due(session=session, region=ctx.region, now=deadline) == [late.id]
    for later in (deadline, deadline + MS, deadline + 10 * timeout(ctx)):
        assert escalation.escalate_due(session=session, region=ctx.region, now=later) == []
    assert len(escalations(session)) == 1


def test_two_servers_racing_escalate_once(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both processes have read the late assignment before either writes: one escalates, the other nothing."""
    with ctx.sessions() as session:
        late = dispatch(ctx, session)
    both_read = threading.Barrier(2, timeout=10)
    propose = escalation.next_unit

    def next_unit_after_both_read(**kw: Any) -> dict[str, Any] | None:
        both_read.wait()
        return propose(**kw)

    monkeypatch.setattr(escalation, "next_unit", next_unit_after_both_read)
    results: list[list[int]] = []

    def server() -> None:
        with ctx.sessions() as mine:
            now = late.dispatched_at + timeout(ctx)
            results.append(escalation.escalate_due(session=mine, region=ctx.region, now=now))

    threads = [threading.Thread(target=server) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [[], [late.id]]
    with ctx.sessions() as session:
        assert len(escalations(session)) == 1


@pytest.mark.parametrize("status", ["acknowledged", "en_route", "cancelled"])
def test_never_an_assignment_answered_or_stood_down(ctx: Ctx, session: Session, status: str) -> None:
    answered = dispatch(ctx, session)
    assignments.step(session=session, assignment_id=answered.id, status=status, actor="r")
    much_later = answered.dispatched_at + 100 * timeout(ctx)
    assert escalation.escalate_due(session=session, region=ctx.region, now=much_later) == []
    assert escalations(session) == []


def test_answered_after_escalation_is_not_escalated_again(ctx: Ctx, session: Session) -> None:
    late = dispatch(ctx, session)
    deadline = late.dispatched_at + timeout(ctx)
    assert escalation.escalate_due(session=session, region=ctx.region, now=deadline) == [late.id]
    assignments.step(session=session, assignment_id=late.id, status="acknowledged", actor="r")
    assert escalation.escalate_due(session=session, region=ctx.region, now=deadline + timeout(ctx)) == []
    assert [e.type for e in escalations(session)] == [escalation.ESCALATED]
    # The log still folds into the row, escalation included.
    rebuilt = incidents.rebuild(session=session, incident_id=late.incident_id)
    assert rebuilt["assignments"] == [incidents.assignment_data(late)]


def test_each_late_assignment_is_escalated_on_its_own_clock(ctx: Ctx, session: Session) -> None:
    first = dispatch(ctx, session, "DAMKAR-03-PMK1")
    second = dispatch(ctx, session, "PSC119-03-AMB1")
    assert escalation.escalate_due(session=session, region=ctx.region, now=first.dispatched_at + timeout(ctx)) == [
        first.id
    ]
    assert escalation.escalate_due(session=session, region=ctx.region, now=second.dispatched_at + timeout(ctx)) == [
        second.id
    ]


def test_no_location_still_escalates_without_a_proposal(ctx: Ctx, session: Session) -> None:
    incident = incidents.create(
        session=session, region=ctx.region, body=IncidentIn(type_code="fire_house"), actor="t", user_id=None
    )
    unit = session.scalars(select(Unit).where(Unit.callsign == "DAMKAR-03-PMK1")).one()
    late = assignments.assign(session=session, incident_id=incident.id, unit_id=unit.id, actor="d", user_id=None)
    assert escalation.escalate_due(session=session, region=ctx.region, now=late.dispatched_at + timeout(ctx)) == [
        late.id
    ]
    [event] = escalations(session)
    assert event.data["next"] is None


async def test_the_server_loop_escalates_with_no_console_open(ctx: Ctx) -> None:
    with ctx.sessions() as session:
        late = dispatch(ctx, session)
    ctx.settings.escalation_check_s = 0.01
    stop = asyncio.Event()
    loop = asyncio.create_task(escalate_forever(ctx, stop, clock=lambda: late.dispatched_at + timeout(ctx)))
    try:
        async with asyncio.timeout(10):
            while True:
                await asyncio.sleep(0.01)
                with ctx.sessions() as session:
                    if escalations(session):
                        break
    finally:
        stop.set()
        await loop


def test_the_pass_reads_through_an_index(tmp_path: Path) -> None:
    """It runs every few seconds all day: a scan of assignments would get slower every day."""
    now = datetime(2026, 11, 1, 12, tzinfo=UTC)
    steps = plans(tmp_path, lambda s: escalation.due(session=s, now=now, timeout=timedelta(seconds=90)))
    assert steps and not [step for step in steps if WHOLE_TABLE.search(step)], steps
