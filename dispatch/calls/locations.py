"""Caller locations reported during a call (AML, history...): suggestions for the call-taker.

A report never moves an incident by itself; the call-taker confirms it, which sets the incident's location
through the incident service like any other choice of point.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls.models import Call, CallerLocation
from dispatch.calls.schemas import LocationOut
from dispatch.clock import utcnow
from dispatch.events.service import record
from dispatch.lifecycle import LIVE_CALL
from dispatch.phone import normalise

# A handset sends AML within ~20 s of dialling (REFERENCE.md), and on a congested network the SMS can come minutes
# later; but a fix that arrives long after a call says nothing about that call's emergency.
AFTER_HANGUP = timedelta(minutes=30)


def current_call_for(*, session: Session, caller: str | None, now: datetime | None = None) -> Call | None:
    """The caller's call still in progress, else the one they hung up in the last `AFTER_HANGUP` (AML can
    arrive just after hang-up); None otherwise, and the report is kept without a call."""
    number = normalise(caller)
    if number is None:
        return None
    live = session.scalar(
        select(Call).where(Call.caller == number, Call.status.in_(LIVE_CALL)).order_by(Call.id.desc()).limit(1)
    )
    if live is not None:
        return live
    recent = Call.ended_at >= (now or utcnow()) - AFTER_HANGUP
    return session.scalar(select(Call).where(Call.caller == number, recent).order_by(Call.id.desc()).limit(1))


def report(
    *,
    session: Session,
    caller: str | None,
    source: str,
    lat: float | None,
    lon: float | None,
    accuracy_m: float | None,
    fix_at: datetime | None,
    raw: str | None,
    actor: str,
    error: str | None = None,
    call_id: int | None = None,
    at: datetime | None = None,
) -> CallerLocation:
    """Keep a location report (valid or not, raw text included) and tell the consoles if it is usable.

    A report with the raw text and the time (`at`) of one already kept from this caller and source is that report
    (an AML SMS replayed from the Twilio journal, which keeps the time it came in): nothing is written. `at`: when
    it came, if before now (the journal replays it once the database is back); it also picks the call it belongs
    to."""
    kept = _kept(session, caller, source, raw, at)
    if kept is not None:
        return kept
    call = session.get(Call, call_id) if call_id else current_call_for(session=session, caller=caller, now=at)
    row = CallerLocation(
        call_id=call.id if call else None,
        caller=normalise(caller),
        source=source,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy_m,
        fix_at=fix_at,
        received_at=at or utcnow(),
        raw=raw,
        valid=error is None,
        error=error,
    )
    session.add(row)
    session.flush()
    if error is None and call is not None:
        payload = LocationOut.model_validate(row).model_dump(mode="json")
        record(
            session,
            "call.location",
            actor=actor,
            data={**payload, "caller": row.caller},
            call_id=call.id,
            incident_id=call.incident_id,
        )
    session.commit()
    return row


def _kept(
    session: Session, caller: str | None, source: str, raw: str | None, at: datetime | None
) -> CallerLocation | None:
    """The report already kept from this number with this raw text, received at `at` (by number: indexed).

    Only the time the webhook came in tells a replay from a new report: a handset may send the same text twice
    (AML without its own time, a retry), and each of those is a report of its own. Without `at` there is no
    replay to recognise."""
    if raw is None or at is None:
        return None
    number = normalise(caller)
    same_caller = CallerLocation.caller == number if number is not None else CallerLocation.caller.is_(None)
    return session.scalar(
        select(CallerLocation)
        .where(
            same_caller, CallerLocation.source == source, CallerLocation.raw == raw, CallerLocation.received_at == at
        )
        .order_by(CallerLocation.id)
        .limit(1)
    )


def for_call(*, session: Session, call_id: int) -> Sequence[CallerLocation]:
    return session.scalars(
        select(CallerLocation)
        .where(CallerLocation.call_id == call_id, CallerLocation.valid.is_(True))
        .order_by(CallerLocation.id)
    ).all()
