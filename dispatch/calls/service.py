"""The life of a call: offered -> answered -> ended, its classification and what it is linked to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from dispatch.calls import abuse
from dispatch.calls.models import Call
from dispatch.calls.records import CallBrief as CallBrief
from dispatch.calls.records import Ringing as Ringing
from dispatch.calls.schemas import CallOut
from dispatch.clock import SKEW, not_ahead, utcnow
from dispatch.context import Policy
from dispatch.errors import Invalid, NotFound
from dispatch.events.service import NewEvent, record, record_many
from dispatch.lifecycle import CALL, LIVE_CALL, CallClass, CallStatus
from dispatch.phone import extension, normalise


def data(call: Call) -> dict[str, object]:
    return CallOut.model_validate(call).model_dump(mode="json")


def get(*, session: Session, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(f"call {call_id} not found")
    return call


def get_by_channel(*, session: Session, provider: str, channel_id: str) -> Call | None:
    return session.scalar(select(Call).where(Call.provider == provider, Call.channel_id == channel_id))


def offer(
    *,
    session: Session,
    caller: str | None,
    provider: str,
    channel_id: str | None = None,
    dialled: str | None = "112",
    at: datetime | None = None,
    text: str | None = None,
    actor: str = "system",
    commit: bool = True,
) -> Call:
    """A call is ringing. Offering the same channel twice returns the first record (reconnects, retries).

    A flagged caller is marked, never refused: a known prankster can have a real emergency. With
    `commit=False` the caller commits, so a burst of calls can be written in one transaction.
    """
    (offered,) = offer_many(
        session=session, ringing=[Ringing(caller, provider, channel_id, dialled, at, text)], actor=actor
    )
    call = get(session=session, call_id=offered.id)
    if commit:
        session.commit()
    return call


_CALLS = cast(Table, Call.__table__)
_OFFERED = [_CALLS.c[name] for name in ("id", "channel_id", "status", "flagged", "taker_id")]  # CallBrief's fields
# Built once: for a call or two, building these cost the writer more than running them.
# By provider and channel: the order of the unique index, so the lookup is a seek, not a scan of every call (a
# row-value IN over both columns still scans on SQLite, hence one query per provider).
_KNOWN = select(_CALLS.c.provider, *_OFFERED).where(
    _CALLS.c.provider == bindparam("provider"), _CALLS.c.channel_id.in_(bindparam("channels", expanding=True))
)
_INSERT = insert(_CALLS).returning(_CALLS.c.provider, *_OFFERED)


def offer_many(*, session: Session, ringing: Sequence[Ringing], actor: str, skew: timedelta = SKEW) -> list[CallBrief]:
    """Several calls ringing at once, one `CallBrief` each in the same order; does not commit. `Invalid`, with
    nothing written, if one of them is dated more than `skew` ahead of now.

    The same rules as `offer`, in a fixed handful of statements whatever the number of calls (a lookup of
    known channels, one of flags, one insert of calls, one of events): a burst of 200 callers reaches the
    consoles in milliseconds, not in the ~300 ms that 200 separate offers take on SQLite. Core statements,
    not ORM objects: a new call is the CPU of the writer thread while a burst waits, and building, loading
    and validating 200 `Call` objects doubled it.
    """
    times = ringing_times(ringing, skew=skew)
    keys = [(r.provider, r.channel_id or f"{r.provider}-{uuid.uuid4()}") for r in ringing]
    by_provider: dict[str, set[str]] = {}
    for provider, channel in keys:
        by_provider.setdefault(provider, set()).add(channel)
    known: dict[tuple[str, str], CallBrief] = {
        (row.provider, row.channel_id): CallBrief(*row[1:])
        for provider, channels in by_provider.items()
        for row in session.execute(_KNOWN, {"provider": provider, "channels": list(channels)})
    }
    numbers = [normalise(r.caller) for r in ringing]
    flagged = abuse.flagged_among(session=session, callers=numbers)
    values: dict[tuple[str, str], dict[str, Any]] = {}
    for r, key, number, at in zip(ringing, keys, numbers, times, strict=True):
        if key not in known and key not in values:
            values[key] = {
                "caller": number,
                "caller_raw": r.caller,
                "caller_ext": extension(r.caller),
                "provider": r.provider,
                "channel_id": key[1],
                "dialled": r.dialled,
                "offered_at": at,  # UTC, as the database gives it back
                "flagged": number in flagged,
                "is_text": r.text is not None,
                "text": r.text,
                "status": CallStatus.offered,
                "source": r.source,
            }
    if values:
        # One multi-row INSERT ... RETURNING; rows come back in no promised order, so they are matched by
        # channel (unique per provider, and known channels were left out above).
        rows = session.execute(_INSERT, list(values.values()))
        new = sorted((((row.provider, row.channel_id), CallBrief(*row[1:])) for row in rows), key=lambda kv: kv[1].id)
        known.update(new)
        record_many(
            session, [NewEvent("call.offered", actor, offered_data(values[k], c.id), call_id=c.id) for k, c in new]
        )
    return [known[key] for key in keys]


def ringing_times(ringing: Sequence[Ringing], *, skew: timedelta = SKEW) -> list[datetime]:
    """When each call rang, in UTC (now if not told); `Invalid` if one lies more than `skew` ahead of now. Asked
    before a batch of calls goes to the call desk, too: the desk writes a failed batch call by call."""
    now = utcnow()
    return [not_ahead(r.at, what="the call's time", now=now, skew=skew) if r.at else now for r in ringing]


_BLANK: dict[str, object] = dict.fromkeys(CallOut.model_fields)  # what a new call has not got yet


def offered_data(values: dict[str, Any], call_id: int) -> dict[str, object]:
    """`data(call)` of a call just inserted, from the values it was inserted with, without the fields a new
    call has not got yet (an absent field is empty). A burst's `call.offered` goes to every console: the
    nine empty fields were a third of its bytes (200 calls to 100 consoles: 8.7 MB -> 5.5 MB)."""
    return CallOut.model_validate({**_BLANK, **values, "id": call_id}).model_dump(mode="json", exclude_none=True)


def answer(
    *,
    session: Session,
    call_id: int,
    taker_id: int | None,
    actor: str,
    at: datetime | None = None,
    skew: timedelta = SKEW,
) -> Call:
    """`at`: when it was answered, if not now (`Invalid` more than `skew` ahead)."""
    call = get(session=session, call_id=call_id)
    CALL.check(call.status, CallStatus.answered)
    at = not_ahead(at, what="the answer's time", skew=skew) if at else utcnow()
    call.status, call.answered_at, call.taker_id = CallStatus.answered, at, taker_id
    call.version += 1
    record(session, "call.answered", actor=actor, data=data(call), call_id=call.id)
    session.commit()
    return call


def end(
    *,
    session: Session,
    call_id: int,
    actor: str,
    at: datetime | None = None,
    cause: str | None = None,
    skew: timedelta = SKEW,
) -> Call:
    """The call is over. A call nobody answered is abandoned and goes to the callback list. `at`: when it
    ended, if not now (`Invalid` more than `skew` ahead)."""
    call = get(session=session, call_id=call_id)
    if call.status == CallStatus.ended:
        return call  # hang-up events arrive more than once (ChannelHangupRequest, StasisEnd, ChannelDestroyed)
    CALL.check(call.status, CallStatus.ended)
    at = not_ahead(at, what="the call's end", skew=skew) if at else utcnow()
    if call.status == CallStatus.offered and not call.is_text:
        call.classification, call.classified_at = CallClass.abandoned, at
    call.status, call.ended_at = CallStatus.ended, at
    call.version += 1
    record(session, "call.ended", actor=actor, data={**data(call), "cause": cause}, call_id=call.id)
    session.commit()
    return call


def classify(
    *, session: Session, call_id: int, classification: str, actor: str, policy: Policy, notes: str | None = None
) -> Call:
    """Classify an answered (or finished) call; prank/ghost calls may flag the caller."""
    call = get(session=session, call_id=call_id)
    if classification not in {c.value for c in CallClass} or classification == CallClass.abandoned:
        raise Invalid(f"unknown classification {classification!r}")
    if call.status == CallStatus.offered:
        raise Invalid("answer the call before classifying it")
    call.classification, call.classified_at = classification, utcnow()
    if notes:
        call.notes = notes
    call.version += 1
    record(session, "call.classified", actor=actor, data=data(call), call_id=call.id)
    if classification in (CallClass.prank, CallClass.ghost) and call.caller:
        abuse.evaluate(session=session, caller=call.caller, policy=policy, actor=actor)
    session.commit()
    return call


def link_incident(*, session: Session, call_id: int, incident_id: int, actor: str, notes: str | None = None) -> Call:
    """`notes`: what this caller said, typed during the call; kept on the call and, with the `call.linked`
    event, in the incident's timeline (a second caller often adds what the first did not see)."""
    call = get(session=session, call_id=call_id)
    call.incident_id = incident_id
    if notes:
        call.notes = notes
    if call.classification is None:
        call.classification, call.classified_at = CallClass.emergency, utcnow()
    call.version += 1
    record(session, "call.linked", actor=actor, data=data(call), call_id=call.id, incident_id=incident_id)
    return call


def set_recording(*, session: Session, call_id: int, ref: str, actor: str) -> Call:
    call = get(session=session, call_id=call_id)
    call.recording_ref = ref
    record(session, "call.recording", actor=actor, data={"id": call.id, "recording_ref": ref}, call_id=call.id)
    session.commit()
    return call


def callback_done(*, session: Session, call_id: int, actor: str) -> Call:
    call = get(session=session, call_id=call_id)
    if call.classification != CallClass.abandoned:
        raise Invalid("only abandoned calls are on the callback list")
    call.callback_done_at = utcnow()
    record(session, "call.callback_done", actor=actor, data=data(call), call_id=call.id)
    session.commit()
    return call


def active(*, session: Session) -> Sequence[Call]:
    """Calls ringing or in conversation, oldest first."""
    return session.scalars(select(Call).where(Call.status.in_(LIVE_CALL)).order_by(Call.offered_at, Call.id)).all()


def waiting(*, session: Session) -> Sequence[Call]:
    """The queue: calls offered and not yet answered, the longest waiting first."""
    return session.scalars(
        select(Call).where(Call.status == CallStatus.offered).order_by(Call.offered_at, Call.id)
    ).all()


def callbacks(*, session: Session, limit: int = 200) -> Sequence[Call]:
    """Abandoned calls nobody has called back yet."""
    return session.scalars(
        select(Call)
        .where(Call.classification == CallClass.abandoned, Call.callback_done_at.is_(None), Call.caller.is_not(None))
        .order_by(Call.offered_at.desc())
        .limit(limit)
    ).all()


def recent(*, session: Session, limit: int = 100) -> Sequence[Call]:
    return session.scalars(select(Call).order_by(Call.id.desc()).limit(limit)).all()
