"""What the telephony bridges ask of the core, one function per step of a phone call.

The ARI bridge (in the server process or on its own behind the HTTP API) and the Twilio webhooks all go
through these functions, so a call is handled the same way whichever way it came in. Every step is
idempotent: PBX events arrive more than once and in several orders.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import abuse, queue
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.calls.records import DEFAULT_TRIAGE as DEFAULT_TRIAGE
from dispatch.calls.records import QUEUE as QUEUE
from dispatch.calls.records import Triage as Triage
from dispatch.calls.schemas import CallerStatus
from dispatch.clock import SKEW, as_utc, utcnow
from dispatch.context import Policy
from dispatch.events.models import Event
from dispatch.events.service import record
from dispatch.lifecycle import CallClass, CallStatus
from dispatch.phone import normalise

REVIEW_QUEUE = "tanggap112-review"  # flagged callers: still answered, by a desk that knows the history
RECENT_EMERGENCY = timedelta(hours=1)


def triage_of(status: CallerStatus, *, now: datetime | None = None) -> Triage:
    """Pure: the caller's history turned into PBX hints."""
    now = now or utcnow()
    caller = status.caller
    language = "en" if caller and caller.startswith("+") and not caller.startswith("+62") else "id"
    recent_emergency = any(
        (c.incident_id is not None or c.classification == CallClass.emergency)
        and now - as_utc(c.offered_at) <= RECENT_EMERGENCY
        for c in status.recent_calls
    )
    if status.flagged:
        priority, name = "low", REVIEW_QUEUE
    elif recent_emergency:
        priority, name = "high", QUEUE
    else:
        priority, name = "normal", QUEUE
    return Triage(status.flagged, priority, language, name, status.calls_total)


def triage(*, session: Session, caller: str | None, policy: Policy) -> Triage:
    return triage_of(abuse.status(session=session, caller=normalise(caller), policy=policy))


def offer(
    *,
    session: Session,
    provider: str,
    channel_id: str,
    caller: str | None,
    dialled: str | None,
    at: datetime | None,
    actor: str,
    text: str | None = None,
    commit: bool = True,
) -> Call:
    return calls.offer(
        session=session,
        caller=caller,
        provider=provider,
        channel_id=channel_id,
        dialled=dialled,
        at=at,
        text=text,
        actor=actor,
        commit=commit,
    )


def queued(*, session: Session, call_id: int, actor: str, lead: timedelta = queue.PRIORITY_LEAD) -> int | None:
    """The caller is on hold in the queue: tell supervisors where they stand. Commits."""
    call = calls.get(session=session, call_id=call_id)
    if call.status != CallStatus.offered:
        return None
    position = queue.position(session=session, call_id=call_id, lead=lead)
    record(session, "call.queued", actor=actor, data={"id": call_id, "position": position}, call_id=call_id)
    session.commit()
    return position


def answered(
    *,
    session: Session,
    call_id: int,
    taker_id: int | None,
    actor: str,
    at: datetime | None = None,
    skew: timedelta = SKEW,
) -> Call:
    """A call-taker is talking to the caller. Repeating it (or a console answer that came first) is fine.
    `at`: when it happened, for a step the bridge kept in its journal while the server was unreachable."""
    call = calls.get(session=session, call_id=call_id)
    if call.status != CallStatus.offered:
        return call
    return calls.answer(session=session, call_id=call_id, taker_id=taker_id, actor=actor, at=at, skew=skew)


def finish(
    *,
    session: Session,
    call_id: int,
    actor: str,
    cause: str | None,
    at: datetime | None = None,
    skew: timedelta = SKEW,
) -> Call:
    """The call is over (either side hung up): end it and make its taker ready again. `at`: when it ended (a
    journal replays the end long after it); ending an ended call changes nothing, not even its end time."""
    call = calls.end(session=session, call_id=call_id, actor=actor, cause=cause, at=at, skew=skew)
    queue.release_after(session=session, call=call, actor=actor)
    return call


def live(*, session: Session, provider: str) -> list[Call]:
    """Calls of this provider we believe are still ringing or in conversation, oldest first.

    Read by status (the few live calls), then picked by provider here: asked in SQL, SQLite took the unique
    index on (provider, channel) and read every call the provider ever carried."""
    return [c for c in calls.active(session=session) if c.provider == provider and not c.is_text]


def sms_event(
    *,
    session: Session,
    kind: str,
    actor: str,
    data: dict[str, object],
    incident_id: int | None = None,
    unit_id: int | None = None,
) -> None:
    """`sms.sent`, `sms.failed` and `sms.status` (delivery reports) in the event log. Commits.

    Twilio may post a delivery report twice, and one kept in the Twilio journal while the database was down is
    replayed: a report with the `message_sid` and `status` of a recorded event of this kind and unit is that
    event, and records nothing."""
    if _recorded(session, kind, data, incident_id=incident_id, unit_id=unit_id):
        return
    record(session, kind, actor=actor, data=data, incident_id=incident_id, unit_id=unit_id)
    session.commit()


def _recorded(
    session: Session, kind: str, data: dict[str, object], *, incident_id: int | None, unit_id: int | None
) -> bool:
    """Read by the unit, else the incident (both indexed): a unit gets a handful of SMS an incident. With
    neither the check would read every event, and is skipped (our alerts always name their unit)."""
    sid = data.get("message_sid")
    if not sid or (unit_id is None and incident_id is None):
        return False
    where = Event.unit_id == unit_id if unit_id is not None else Event.incident_id == incident_id
    seen = session.scalars(select(Event.data).where(where, Event.type == kind))
    return any(d.get("message_sid") == sid and d.get("status") == data.get("status") for d in seen)
