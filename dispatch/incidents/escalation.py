"""Escalate assignments no unit acknowledged in time: decided by the server, once, whoever asks.

The dispatcher's console used to decide this itself, so with no console open nobody was ever escalated. Now
`escalate_due` runs on the server with the time given to it (tests drive the clock). Each escalation is one
`assignment.escalated` event with the next recommended unit; the assignment's `escalated_at`, set in the same
transaction, is the marker that makes a second pass, or a second server process, write nothing again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.context import Region
from dispatch.errors import Invalid
from dispatch.events import service as events
from dispatch.incidents.models import Assignment
from dispatch.incidents.service import assignment_data
from dispatch.lifecycle import AssignmentStatus
from dispatch.recommend.service import recommend

log = logging.getLogger(__name__)

ESCALATED = "assignment.escalated"
ACTOR = "server"


def _late(now: datetime, timeout: timedelta) -> ColumnElement[bool]:
    """Still dispatched, never escalated, and dispatched at least `timeout` before `now`."""
    return (
        (Assignment.status == AssignmentStatus.dispatched)
        & Assignment.escalated_at.is_(None)
        & (Assignment.dispatched_at <= now - timeout)
    )


def due(*, session: Session, now: datetime, timeout: timedelta) -> Sequence[Assignment]:
    """Assignments whose acknowledgement timeout has passed at `now` and that were not escalated yet."""
    return session.scalars(select(Assignment).where(_late(now, timeout)).order_by(Assignment.id)).all()


def escalate_due(*, session: Session, region: Region, now: datetime) -> list[int]:
    """Escalate every assignment not acknowledged within the region's `ack_timeout_s`; the ids escalated.

    One transaction per assignment, so one that fails does not hold back the others, and the event log's lock is
    held for one guarded UPDATE and one INSERT, never while a recommendation is computed.
    """
    timeout = timedelta(seconds=region.policy.ack_timeout_s)
    late = [(row.id, row.incident_id, row.unit_id) for row in due(session=session, now=now, timeout=timeout)]
    done = []
    for assignment_id, incident_id, unit_id in late:
        proposal = next_unit(session=session, region=region, incident_id=incident_id, late_unit_id=unit_id)
        if _escalate(session, assignment_id, now, timeout, proposal):
            done.append(assignment_id)
            log.info("assignment %s on incident %s escalated: not acknowledged", assignment_id, incident_id)
    return done


def _escalate(
    session: Session, assignment_id: int, now: datetime, timeout: timedelta, proposal: dict[str, Any] | None
) -> bool:
    # The log's lock first, as every event writer takes it before touching rows (see events.lock_log). Then one
    # guarded UPDATE: on PostgreSQL a concurrent one waits for our commit and then finds `escalated_at` set or
    # the status moved on; on SQLite writers take turns. Whoever updates the row writes the event.
    events.lock_log(session)
    result = session.execute(
        update(Assignment)
        .where(Assignment.id == assignment_id, _late(now, timeout))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.rollback()
        return False
    row = session.get(Assignment, assignment_id, populate_existing=True)
    assert row is not None
    data = {
        "assignment": assignment_data(row),
        "timeout_s": int(timeout.total_seconds()),
        "overdue_s": round((now - row.dispatched_at).total_seconds(), 3),
        "next": proposal,
    }
    events.record(session, ESCALATED, actor=ACTOR, data=data, incident_id=row.incident_id, unit_id=row.unit_id)
    session.commit()
    return True


def next_unit(*, session: Session, region: Region, incident_id: int, late_unit_id: int) -> dict[str, Any] | None:
    """The best free unit to send instead, with the recommendation's reason; None when there is none.

    A unit of the late unit's kind comes first (a fire engine did not answer: the next fire engine), then the
    incident's other response-plan slots. Escalating never waits on this: when the recommendation cannot be
    made (no location yet, a broken road graph) the escalation is written without a proposal.
    """
    late = session.get(Unit, late_unit_id)
    kind = late.agency.kind if late is not None else None
    try:
        slots = recommend(session=session, region=region, incident_id=incident_id)
    except Invalid:
        return None  # no location to recommend from
    except Exception:  # the escalation matters more than its proposal
        log.exception("no recommendation for escalated incident %s", incident_id)
        return None
    ordered = sorted(slots, key=lambda slot: slot.kind != kind)  # stable: plan order otherwise
    for slot in ordered:
        for s in slot.suggestions:
            if s.reachable and s.unit_id != late_unit_id:
                return {
                    "unit_id": s.unit_id,
                    "callsign": s.callsign,
                    "kind": slot.kind,
                    "eta_s": s.eta_s,
                    "reason": s.reason,
                }
    return None
