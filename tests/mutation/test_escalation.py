"""Escalation at the edges the main tests skip: what the event says, which unit is proposed instead, and what the
log tells the operator. The clock is driven, never slept on."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.incidents import escalation
from tests.dispatch.test_escalation import dispatch, escalations, timeout
from ui.context import Ctx

SIKUAI = (-1.1276, 100.3528)  # an island: no fire engine or ambulance drives there from the mainland


def test_the_event_says_how_overdue_to_the_millisecond(ctx: Ctx, session: Session) -> None:
    late = dispatch(ctx, session)
    overdue = timeout(ctx) + timedelta(seconds=7, microseconds=123_456)
    assert escalation.escalate_due(session=session, region=ctx.region, now=late.dispatched_at + overdue) == [late.id]
    [event] = escalations(session)
    assert event.data["overdue_s"] == round(overdue.total_seconds(), 3) == ctx.region.policy.ack_timeout_s + 7.123


def test_late_together_each_is_escalated_on_its_own(ctx: Ctx, session: Session) -> None:
    """One pass, several late assignments: each one's guarded UPDATE touches that assignment and no other."""
    first = dispatch(ctx, session, "DAMKAR-03-PMK1")
    second = dispatch(ctx, session, "PSC119-03-AMB1")
    now = max(first.dispatched_at, second.dispatched_at) + timeout(ctx)
    assert escalation.escalate_due(session=session, region=ctx.region, now=now) == [first.id, second.id]
    assert [(e.data["assignment"]["id"], e.unit_id) for e in escalations(session)] == [
        (first.id, first.unit_id),
        (second.id, second.unit_id),
    ]
    for a in (first, second):
        session.refresh(a)
        assert a.escalated_at == now


def test_an_ambulance_that_did_not_answer_is_replaced_by_an_ambulance(ctx: Ctx, session: Session) -> None:
    """A fire's plan lists fire engines first; the unit of the late unit's kind comes first all the same."""
    late = dispatch(ctx, session, "PSC119-03-AMB1")
    assert escalation.escalate_due(session=session, region=ctx.region, now=late.dispatched_at + timeout(ctx)) == [
        late.id
    ]
    [event] = escalations(session)
    proposal = event.data["next"]
    unit = session.get(Unit, proposal["unit_id"])
    assert unit is not None and unit.id != late.unit_id and unit.status == "available"
    assert proposal["kind"] == unit.agency.kind == "psc119"
    assert proposal["callsign"] == unit.callsign
    assert isinstance(proposal["eta_s"], float) and proposal["eta_s"] > 0
    assert proposal["reason"]


def test_the_proposal_names_the_unit_and_its_eta(ctx: Ctx, session: Session) -> None:
    late = dispatch(ctx, session)
    proposal = escalation.next_unit(
        session=session, region=ctx.region, incident_id=late.incident_id, late_unit_id=late.unit_id
    )
    assert proposal is not None
    unit = session.get(Unit, proposal["unit_id"])
    assert unit is not None
    assert set(proposal) == {"unit_id", "callsign", "kind", "eta_s", "reason"}
    assert proposal["callsign"] == unit.callsign and proposal["kind"] == "damkar"
    assert proposal["eta_s"] is not None and proposal["eta_s"] > 0


def test_a_late_unit_no_longer_on_record_gets_the_plans_first_kind(ctx: Ctx, session: Session) -> None:
    late = dispatch(ctx, session, "PSC119-03-AMB1")
    proposal = escalation.next_unit(
        session=session, region=ctx.region, incident_id=late.incident_id, late_unit_id=10_000_000
    )
    assert proposal is not None and proposal["kind"] == "damkar"


def test_no_unit_that_can_reach_the_incident_means_no_proposal(ctx: Ctx, session: Session) -> None:
    """On an island no fire engine or ambulance from the mainland gets there: none is proposed."""
    late = dispatch(ctx, session, at=SIKUAI)
    proposal = escalation.next_unit(
        session=session, region=ctx.region, incident_id=late.incident_id, late_unit_id=late.unit_id
    )
    assert proposal is None


def test_the_log_names_the_assignment_and_the_incident(
    ctx: Ctx, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    late = dispatch(ctx, session)
    with caplog.at_level(logging.INFO, logger=escalation.__name__):
        escalation.escalate_due(session=session, region=ctx.region, now=late.dispatched_at + timeout(ctx))
    assert [r.getMessage() for r in caplog.records if r.name == escalation.__name__] == [
        f"assignment {late.id} on incident {late.incident_id} escalated: not acknowledged"
    ]


def test_a_broken_road_graph_still_escalates_and_is_logged(
    ctx: Ctx, session: Session, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    broken = replace(ctx.region, road_graph=tmp_path / "no-such-graph")
    late = dispatch(ctx, session)
    with caplog.at_level(logging.INFO, logger=escalation.__name__):
        assert escalation.escalate_due(session=session, region=broken, now=late.dispatched_at + timeout(ctx)) == [
            late.id
        ]
    [event] = escalations(session)
    assert event.data["next"] is None
    errors = [r for r in caplog.records if r.name == escalation.__name__ and r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [f"no recommendation for escalated incident {late.incident_id}"]
    assert errors[0].exc_info is not None
