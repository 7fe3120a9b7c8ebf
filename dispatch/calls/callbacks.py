"""Calling abandoned callers back: the call-takers' callback list, and each attempt as a record of its own.

An attempt is placed by the PBX (the bridge rings the call-taker's desk, then the caller), by Twilio, or by hand
(route `none`: the console shows the number). Its state follows the phones: requested -> ringing -> answered,
no_answer, busy or failed (with a reason in Bahasa Indonesia), every step stamped and in the event log. What came
of it is the call-taker's word (`outcome`): a caller reached, a wrong number or a message left takes the call off
the list; a caller who did not pick up stays on it for another try.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.models import Call, Callback
from dispatch.calls.records import CallbackJob
from dispatch.calls.schemas import CallbackOut
from dispatch.clock import SKEW, as_utc, not_ahead, utcnow
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.events.service import lock_log, record
from dispatch.lifecycle import CallClass, Machine


class State(StrEnum):
    requested = "requested"  # asked for; the PBX or Twilio has not rung anything yet
    ringing = "ringing"  # the call-taker's desk, then the caller, are being rung
    answered = "answered"  # the caller picked up: call-taker and caller are talking
    no_answer = "no_answer"
    busy = "busy"
    failed = "failed"  # with a reason: the desk busy or unreachable, the number invalid, the PBX refused


ROUTES = ("pbx", "twilio", "none")
OUTCOMES = ("reached", "no_answer", "wrong_number", "voicemail")
DONE = frozenset({"reached", "wrong_number", "voicemail"})  # the caller needs no other try
SIMULATED = "simulator"  # ui/simulator.py's provider: its callers' numbers are made up, maybe someone's
# A request the bridge has not taken within this long is not placed any more: a bridge back an hour later must not
# ring a desk for a callback its call-taker gave up on (they dial by hand, or ask again).
CLAIM_TTL = timedelta(seconds=60)
# Phones ringing longer than this are past any PBX's or Twilio's timeout: the attempt no longer holds others back.
RING_TTL = timedelta(minutes=5)
# What a PBX or Twilio can dial: E.164. A number that is not (a short code, digits a trunk garbled) is called by
# hand, if at all: the attempt fails at once with this reason, and the console shows the number.
DIALABLE = re.compile(r"^\+[1-9][0-9]{6,14}$")
NOT_DIALABLE = "Nomor penelepon bukan nomor telepon lengkap: tidak bisa dipanggil otomatis, hubungi secara manual"

S = State
STEPS = Machine(
    "callback",
    {
        S.requested: frozenset({S.ringing, S.answered, S.no_answer, S.busy, S.failed}),
        S.ringing: frozenset({S.answered, S.no_answer, S.busy, S.failed}),
    },
)
_STAMP: dict[str, str] = {S.ringing: "ringing_at", S.answered: "answered_at"}
_FINAL: frozenset[str] = frozenset({S.no_answer, S.busy, S.failed})  # the phones are down: the attempt has ended too


@dataclass(frozen=True)
class Pending:
    """An abandoned call on the callback list, with its attempts so far (newest first)."""

    call: Call
    attempts: list[Callback]


def route_for(*, provider: str, pbx: bool, twilio: bool) -> str:
    """Back the way the caller came when that way can dial out, else the other one, else by hand. A simulated
    caller is never dialled: the number is made up, and may be a real person's."""
    if provider == SIMULATED:
        return "none"
    if provider == "twilio" and twilio:
        return "twilio"
    if pbx:
        return "pbx"
    return "twilio" if twilio else "none"


def get(*, session: Session, callback_id: int) -> Callback:
    found = session.get(Callback, callback_id)
    if found is None:
        raise NotFound(f"callback {callback_id} not found")
    return found


def data(callback: Callback, call: Call | None = None) -> dict[str, Any]:
    call = call or calls.get(session=cast(Session, Session.object_session(callback)), call_id=callback.call_id)
    out = CallbackOut.model_validate(callback).model_copy(update={"caller": call.caller, "caller_ext": call.caller_ext})
    return out.model_dump(mode="json")


def in_progress(*, session: Session, call_id: int, now: datetime | None = None) -> Callback | None:
    """The attempt whose phones are being rung for this call, if any: a second one would ring the caller twice."""
    now = now or utcnow()
    rows = session.scalars(
        select(Callback).where(
            Callback.call_id == call_id, Callback.route != "none", Callback.state.in_((S.requested, S.ringing))
        )
    ).all()
    for row in rows:
        if row.state == S.requested and as_utc(row.requested_at) >= now - CLAIM_TTL:
            return row
        if row.state == S.ringing and as_utc(row.ringing_at or row.requested_at) >= now - RING_TTL:
            return row
    return None


def request(
    *,
    session: Session,
    call_id: int,
    user_id: int,
    actor: str,
    route: str,
    desk: str | None = None,
    caller_id: str | None = None,
) -> Callback:
    """A call-taker calls an abandoned caller back. Commits. `Invalid` for a call that is not on the callback
    list, `Conflict` while another attempt is ringing the same caller."""
    if route not in ROUTES:
        raise Invalid(f"unknown callback route {route!r}")
    if route != "none" and not desk:
        raise Invalid(f"a callback by {route} needs the call-taker's phone")
    lock_log(session)  # two call-takers asking at once: the second waits here, then sees the first's attempt
    call = calls.get(session=session, call_id=call_id)
    if call.classification != CallClass.abandoned:
        raise Invalid("only abandoned calls are called back")
    if not call.caller:
        raise Invalid("the caller's number was withheld: there is no number to call back")
    if call.callback_done_at is not None:
        raise Conflict(f"call {call_id} has been called back already")
    busy = in_progress(session=session, call_id=call_id)
    if busy is not None:
        raise Conflict(f"callback {busy.id} to this caller is under way")
    callback = Callback(
        call_id=call_id,
        requested_by=user_id,
        route=route,
        state=S.requested,
        desk=desk if route != "none" else None,
        caller_id=caller_id if route != "none" else None,
        requested_at=utcnow(),
        version=1,
    )
    session.add(callback)
    session.flush()
    record(session, "callback.requested", actor=actor, data=data(callback, call), call_id=call_id)
    if route != "none" and not DIALABLE.match(call.caller):
        callback.state, callback.reason, callback.ended_at = S.failed, NOT_DIALABLE, callback.requested_at
        _changed(session, callback, "callback.failed", actor, call)
    session.commit()
    return callback


def claim(*, session: Session, actor: str, ttl: timedelta = CLAIM_TTL, limit: int = 20) -> list[CallbackJob]:
    """The PBX's requested callbacks, each taken once (a compare-and-set on `claimed_at`), oldest first. Commits."""
    now = utcnow()
    rows = session.execute(
        select(Callback, Call.caller)
        .join(Call, Call.id == Callback.call_id)
        .where(Callback.state == S.requested, Callback.route == "pbx", Callback.requested_at >= now - ttl)
        .where(Callback.claimed_at.is_(None))
        .order_by(Callback.requested_at, Callback.id)
        .limit(limit)
    ).all()
    jobs = []
    for callback, number in rows:
        taken = session.execute(
            update(Callback).where(Callback.id == callback.id, Callback.claimed_at.is_(None)).values(claimed_at=now)
        )
        if cast("CursorResult[Any]", taken).rowcount and number and callback.desk:
            jobs.append(CallbackJob(callback.id, callback.call_id, number, callback.desk, callback.caller_id))
    session.commit()
    return jobs


def advance(
    *,
    session: Session,
    callback_id: int,
    state: str,
    actor: str,
    reason: str | None = None,
    ref: str | None = None,
    at: datetime | None = None,
    skew: timedelta = SKEW,
) -> Callback:
    """A step of the phones, as the bridge or Twilio tells it; `ended` stamps the end of the attempt. A step told
    twice (retries, hang-up events in threes) changes nothing the second time. Commits."""
    callback = get(session=session, callback_id=callback_id)
    when = not_ahead(at, what="the callback's time", skew=skew) if at else utcnow()
    if state == "ended":
        if callback.ended_at is None:
            callback.ended_at = when
            _changed(session, callback, "callback.ended", actor)
        session.commit()
        return callback
    if callback.state == state:
        return callback
    STEPS.check(callback.state, state)
    callback.state = state
    if state in _STAMP:
        setattr(callback, _STAMP[state], when)
    if state in _FINAL:
        callback.ended_at = callback.ended_at or when
        callback.reason = reason
    callback.provider_ref = ref or callback.provider_ref
    _changed(session, callback, f"callback.{state}", actor)
    session.commit()
    return callback


def set_outcome(
    *, session: Session, callback_id: int, user_id: int, actor: str, outcome: str, note: str | None = None
) -> Callback:
    """What came of the attempt, in the call-taker's words. Once: `Conflict` if it was recorded already. A caller
    reached, a wrong number or a message left takes the call off the callback list. Commits."""
    if outcome not in OUTCOMES:
        raise Invalid(f"unknown callback outcome {outcome!r}")
    lock_log(session)
    callback = get(session=session, callback_id=callback_id)
    if callback.outcome is not None:
        raise Conflict(f"the outcome of callback {callback_id} is recorded already")
    callback.outcome, callback.note = outcome, note or None
    callback.outcome_at, callback.outcome_by = utcnow(), user_id
    call = calls.get(session=session, call_id=callback.call_id)
    if outcome in DONE and call.callback_done_at is None:
        call.callback_done_at = callback.outcome_at
        record(session, "call.callback_done", actor=actor, data=calls.data(call), call_id=call.id)
    _changed(session, callback, "callback.outcome", actor, call)
    session.commit()
    return callback


def pending(*, session: Session, limit: int = 200) -> list[Pending]:
    """The callback list: abandoned calls nobody has called back yet, newest first, each with its attempts."""
    waiting = calls.callbacks(session=session, limit=limit)
    by_call: dict[int, list[Callback]] = {c.id: [] for c in waiting}
    if by_call:
        attempts = session.scalars(
            select(Callback).where(Callback.call_id.in_(list(by_call))).order_by(Callback.id.desc())
        )
        for attempt in attempts:
            by_call[attempt.call_id].append(attempt)
    return [Pending(call, by_call[call.id]) for call in waiting]


def for_call(*, session: Session, call_id: int) -> Sequence[Callback]:
    return session.scalars(select(Callback).where(Callback.call_id == call_id).order_by(Callback.id)).all()


def _changed(session: Session, callback: Callback, kind: str, actor: str, call: Call | None = None) -> None:
    callback.version += 1
    record(session, kind, actor=actor, data=data(callback, call), call_id=callback.call_id)
