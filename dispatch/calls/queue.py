"""Automatic call distribution: which waiting call goes to which ready call-taker.

The oldest waiting voice call goes to the call-taker idle longest, except that during a major incident a caller
who chose 2 (damage) or 3 (information) at the announcement queues as if they had called `lead` (2 × `lead`)
later (`turn`): people in danger first, and nobody starved. Reserving a taker for a call is recorded
as a `call.connecting` event (and undone by `call.requeued`), so every process that routes calls (the ARI
bridge, the Twilio webhooks) sees the same reservations; a reservation older than its time-to-live is ignored,
so a bridge that died while a phone was ringing cannot leave a caller waiting forgotten.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.calls.records import DESK_BUSY as DESK_BUSY
from dispatch.calls.records import DESK_FREE_AGAIN
from dispatch.calls.records import Match as Match
from dispatch.clock import as_utc, utcnow
from dispatch.events.bus import Published
from dispatch.events.models import Event
from dispatch.events.service import lock_log, record
from dispatch.lifecycle import CallStatus
from dispatch.major.enums import priority_of
from dispatch.users import service as users
from dispatch.users.models import Role, User

CONNECTING = "call.connecting"
REQUEUED = "call.requeued"
RESERVATION_TTL = timedelta(seconds=60)
# How much later a choice-2 caller's turn comes than a choice-1 (or silent) caller's who called at the same
# moment; choice 3 twice that. Policy.priority_lead (TANGGAP_QUEUE_PRIORITY_LEAD_S) sets it; 0 is first come,
# first served whatever was chosen.
PRIORITY_LEAD = timedelta(minutes=5)
PRIORITIES = (1, 2, 3)


@dataclass(frozen=True)
class Reservation:
    taker_id: int
    at: datetime


@dataclass(frozen=True)
class QueueEntry:
    call_id: int
    position: int
    provider: str
    caller: str | None
    flagged: bool
    offered_at: datetime
    waiting_s: float
    connecting_to: int | None
    major_choice: int | None = None


@dataclass(frozen=True)
class QueueView:
    at: datetime
    calls: list[QueueEntry]
    takers_ready: list[dict[str, object]]

    @property
    def longest_wait_s(self) -> float:
        return max((c.waiting_s for c in self.calls), default=0.0)


def endpoint_of(taker: User) -> str | None:
    return taker.sip_endpoint or None


def turn(offered_at: datetime, choice: int | None, lead: timedelta = PRIORITY_LEAD) -> datetime:
    """When a call's turn comes: when it was offered, plus `lead` for each step of priority below the first
    (`priority_of`: choice 2 one step, 3 two, nothing chosen none). A caller who waited longer than that is never
    passed again by anyone who calls after: served in turn, never starved."""
    return as_utc(offered_at) + lead * (priority_of(choice) - 1)


def queue_key(call: Call, lead: timedelta = PRIORITY_LEAD) -> tuple[datetime, datetime, int]:
    """The queue's order: by turn, then the longer waiting, then the first recorded."""
    return turn(call.offered_at, call.major_choice, lead), as_utc(call.offered_at), call.id


def _of_priority(priority: int) -> ColumnElement[bool]:
    """The calls `priority_of` puts at `priority`: 2 and 3 by their choice, 1 every other (none, or noise)."""
    if priority == 1:
        return or_(Call.major_choice.is_(None), Call.major_choice.not_in((2, 3)))
    return Call.major_choice == priority


def plan(waiting: Sequence[Call], takers: Sequence[User], reserved: Iterable[int]) -> list[tuple[Call, User]]:
    """Pure matching: voice calls not already ringing a taker, in the queue's order, to takers with a phone."""
    busy = set(reserved)
    queue = [c for c in waiting if not c.is_text and c.id not in busy]
    ready = [t for t in takers if endpoint_of(t)]
    return list(zip(queue, ready, strict=False))


def reservations(
    *, session: Session, call_ids: Sequence[int], now: datetime | None = None, ttl: timedelta = RESERVATION_TTL
) -> dict[int, Reservation]:
    """Calls whose latest queue event is a live `call.connecting`."""
    if not call_ids:
        return {}
    rows = session.execute(
        select(Event.call_id, Event.type, Event.at, Event.data)
        .where(Event.call_id.in_(call_ids), Event.type.in_((CONNECTING, REQUEUED)))
        .order_by(Event.seq)
    ).all()
    latest: dict[int, tuple[str, datetime, dict[str, object]]] = {}
    for call_id, kind, at, data in rows:
        latest[call_id] = (kind, at, data)
    cutoff = (now or utcnow()) - ttl
    out = {}
    for call_id, (kind, at, data) in latest.items():
        if kind == CONNECTING and as_utc(at) >= cutoff:
            out[call_id] = Reservation(int(str(data["taker_id"])), as_utc(at))
    return out


def claim(
    *,
    session: Session,
    provider: str,
    actor: str,
    ttl: timedelta = RESERVATION_TTL,
    limit: int = 50,
    lead: timedelta = PRIORITY_LEAD,
) -> list[Match]:
    """Reserve ready takers for this provider's calls at the head of the shared queue. Commits.

    Matching looks at every provider's calls so that the queue stays first-come first-served across
    them; only this provider's pairs are reserved. A taker is taken with a compare-and-set on `available`,
    so two routing processes can never ring the same taker for two calls.
    """
    takers = users.available_takers(session=session)
    if not takers:
        return []  # the common case under load: nobody ready, nothing to read
    # One routing process at a time from here, however many servers: every writer of queue events takes the event
    # log's lock first and keeps it to its commit (PostgreSQL; SQLite has one writer), so the queue read below is
    # the queue these reservations are written to. Read before it, two servers planned from reads a moment apart
    # and rang two call-takers for one call; and taking it only at the first event, after a taker's row, was the
    # reverse of every other writer's order: a deadlock with `requeue` (tests/dispatch/test_two_servers.py).
    lock_log(session)
    waiting = head(session=session, limit=limit, lead=lead)
    taken = reservations(session=session, call_ids=[c.id for c in waiting], ttl=ttl)
    pairs = plan(waiting, takers, taken)
    now = utcnow()
    matches = []
    for call, taker in pairs:
        if call.provider != provider:
            continue
        result = session.execute(
            update(User).where(User.id == taker.id, User.available.is_(True)).values(available=False, available_at=now)
        )
        if not cast("CursorResult[Any]", result).rowcount:
            continue
        record(
            session,
            "taker.available",
            actor=actor,
            data={"user_id": taker.id, "available": False, "reason": "ringing", "call_id": call.id},
        )
        record(
            session,
            CONNECTING,
            actor=actor,
            data={"id": call.id, "taker_id": taker.id, "reserved_at": now.isoformat()},
            call_id=call.id,
        )
        matches.append(Match(call.id, call.provider, call.channel_id, taker.id, endpoint_of(taker) or ""))
    session.commit()
    session.expire_all()
    return matches


def frees_a_taker(event: Published) -> bool:
    """A call-taker became ready for a call: a routing process should try the queue now, not at its next poll."""
    return event.type == "taker.available" and bool(event.data.get("available"))


def requeue(*, session: Session, call_id: int, taker_id: int, reason: str, taker_available: bool, actor: str) -> None:
    """The taker's phone did not connect: the call goes back to the head of the queue. Commits.

    `taker_available` says whether the taker is ready again (the caller hung up while it rang) or stays
    unavailable (no answer, busy: do not keep ringing an empty desk). An unknown call only frees the taker.
    """
    taken = reservations(session=session, call_ids=[call_id], ttl=timedelta(days=1))
    if call_id in taken and taken[call_id].taker_id == taker_id:
        record(
            session,
            REQUEUED,
            actor=actor,
            data={"id": call_id, "taker_id": taker_id, "reason": reason},
            call_id=call_id,
        )
    # A taker who stays unavailable was so already (reserved: "ringing"); the new reason is still news to their
    # console (their desk did not answer, or answered busy), so it is recorded all the same.
    _set_ready(session, taker_id, taker_available, reason, actor, tell=not taker_available)
    session.commit()


def ready_after_busy(*, session: Session, taker_id: int, actor: str, look_back: int = 500) -> bool:
    """The pause after a busy desk phone is over: the call-taker is ready again, unless their state changed
    meanwhile (they said they are not ready, or a call came to them). Their last availability change must still
    be the busy desk; only recent changes are read (this runs seconds after it). Commits; True if made ready."""
    taker = session.get(User, taker_id)
    if taker is None or taker.available:
        return False
    recent = session.scalars(
        select(Event.data).where(Event.type == "taker.available").order_by(Event.seq.desc()).limit(look_back)
    )
    last = next((data for data in recent if data.get("user_id") == taker_id), None)
    if last is None or last.get("reason") != DESK_BUSY:
        return False
    _set_ready(session, taker_id, True, DESK_FREE_AGAIN, actor)
    session.commit()
    return True


def release_after(*, session: Session, call: Call, actor: str) -> None:
    """After a routed call ends, its taker is ready again unless they changed their status meanwhile."""
    if call.taker_id is None:
        return
    taker = session.get(User, call.taker_id)
    taken = reservations(session=session, call_ids=[call.id], ttl=timedelta(days=1))
    reservation = taken.get(call.id)
    if taker is None or taker.available or reservation is None or reservation.taker_id != taker.id:
        return
    if taker.available_at is not None and as_utc(taker.available_at) <= reservation.at:
        _set_ready(session, taker.id, True, "call_ended", actor)
        session.commit()


def _set_ready(
    session: Session, taker_id: int, available: bool, reason: str, actor: str, *, tell: bool = False
) -> None:
    """Set a call-taker ready or not; `tell` records the reason even when the state does not change."""
    taker = session.get(User, taker_id)
    if taker is None or taker.role not in (Role.call_taker, Role.supervisor):
        return
    if taker.available == available:
        if tell:
            data = {"user_id": taker.id, "available": available, "reason": reason}
            record(session, "taker.available", actor=actor, data=data)
        return
    taker.available, taker.available_at = available, utcnow()
    record(
        session, "taker.available", actor=actor, data={"user_id": taker.id, "available": available, "reason": reason}
    )


def snapshot(*, session: Session, now: datetime | None = None, lead: timedelta = PRIORITY_LEAD) -> QueueView:
    """The queue as a supervisor sees it: position, waiting time, who is ringing for it, who is ready."""
    now = now or utcnow()
    waiting = sorted((c for c in calls.waiting(session=session) if not c.is_text), key=lambda c: queue_key(c, lead))
    taken = reservations(session=session, call_ids=[c.id for c in waiting], now=now)
    entries = []
    for position, call in enumerate(waiting, start=1):
        reservation = taken.get(call.id)
        entries.append(
            QueueEntry(
                call_id=call.id,
                position=position,
                provider=call.provider,
                caller=call.caller,
                flagged=call.flagged,
                offered_at=call.offered_at,
                waiting_s=max(0.0, (now - as_utc(call.offered_at)).total_seconds()),
                connecting_to=reservation.taker_id if reservation else None,
                major_choice=call.major_choice,
            )
        )
    ready: list[dict[str, object]] = [
        {
            "user_id": t.id,
            "name": t.name,
            "endpoint": t.sip_endpoint,
            "idle_s": (now - as_utc(t.available_at)).total_seconds() if t.available_at else None,
        }
        for t in users.available_takers(session=session)
    ]
    return QueueView(now, entries, ready)


def head(*, session: Session, limit: int, lead: timedelta = PRIORITY_LEAD) -> Sequence[Call]:
    """The first `limit` voice calls of the queue, in its order: each priority's first `limit`, oldest first
    (through the index on the time offered), merged by turn."""
    waiting = and_(Call.status == CallStatus.offered, Call.is_text.is_(False))
    if lead <= timedelta(0):
        return session.scalars(select(Call).where(waiting).order_by(Call.offered_at, Call.id).limit(limit)).all()
    runs = [
        session.scalars(
            select(Call).where(waiting, _of_priority(p)).order_by(Call.offered_at, Call.id).limit(limit)
        ).all()
        for p in PRIORITIES
    ]
    return list(heapq.merge(*runs, key=lambda c: queue_key(c, lead)))[:limit]


def position(*, session: Session, call_id: int, lead: timedelta = PRIORITY_LEAD) -> int | None:
    """1 for the call answered next; None when the call is not waiting. One count: for each priority, the calls
    whose turn comes before this one's."""
    call = session.get(Call, call_id)
    if call is None or call.status != CallStatus.offered or call.is_text:
        return None
    mine, offered = turn(call.offered_at, call.major_choice, lead), as_utc(call.offered_at)
    ahead_of_me = []
    for p in PRIORITIES if lead > timedelta(0) else (1,):
        bound = mine - lead * (p - 1)  # a call of priority p offered before this comes first
        # At the same turn the longer waiting comes first, then the first recorded.
        tie = true() if bound < offered else Call.id < call.id if bound == offered else false()
        earlier = or_(Call.offered_at < bound, and_(Call.offered_at == bound, tie))
        ahead_of_me.append(and_(_of_priority(p), earlier) if lead > timedelta(0) else earlier)
    ahead = session.scalar(
        select(func.count(Call.id)).where(Call.status == CallStatus.offered, Call.is_text.is_(False), or_(*ahead_of_me))
    )
    return (ahead or 0) + 1
