"""Record events inside a transaction; publish them once it has committed, never before."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.clock import utcnow
from dispatch.errors import Invalid
from dispatch.events.bus import EventBus, Published
from dispatch.events.models import Event

_PENDING = "tanggap_pending_events"
_LOCKED = "tanggap_events_locked"
# On PostgreSQL two transactions can take sequence numbers in one order and commit in the other; a reader
# catching up with `since` would then skip an event. One transaction-scoped advisory lock keeps the commit
# order of event-writing transactions equal to their sequence order.
_PG_EVENT_LOCK = 112_112


def record(
    session: Session,
    type: str,
    *,
    actor: str,
    data: dict[str, Any],
    incident_id: int | None = None,
    call_id: int | None = None,
    unit_id: int | None = None,
) -> Event:
    """Append one event to the log within the caller's transaction."""
    if session.bind is not None and session.get_bind().dialect.name == "postgresql":
        if not session.info.get(_LOCKED):
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_EVENT_LOCK})
            session.info[_LOCKED] = True
    row = Event(
        type=type,
        at=utcnow(),
        actor=actor,
        data=data,
        incident_id=incident_id,
        call_id=call_id,
        unit_id=unit_id,
    )
    session.add(row)
    session.flush()
    session.info.setdefault(_PENDING, []).append(
        Published(row.seq, row.type, row.at, row.actor, row.data, incident_id, call_id, unit_id)
    )
    return row


def since(session: Session, seq: int, *, limit: int = 500) -> Sequence[Event]:
    """Events after `seq`, oldest first: the catch-up read for a reconnecting client."""
    if seq < 0:
        raise Invalid("since must be zero or a positive sequence number")
    return session.scalars(select(Event).where(Event.seq > seq).order_by(Event.seq).limit(limit)).all()


def last_seq(session: Session) -> int:
    return session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1)) or 0


def for_incident(session: Session, incident_id: int) -> Sequence[Event]:
    return session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.seq)).all()


def _after_commit(session: Session) -> None:
    pending: list[Published] = session.info.pop(_PENDING, [])
    session.info.pop(_LOCKED, None)
    bus: EventBus | None = session.info.get("bus")
    if pending and bus is not None:
        bus.publish(pending)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_LOCKED, None)


def _forbid_rewrites(session: Session, _ctx: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Event):
            raise Invalid("the event log is append-only")


def install_publisher(factory: sessionmaker[Session]) -> None:
    sa_event.listen(factory, "after_commit", _after_commit)
    sa_event.listen(factory, "after_rollback", _after_rollback)
    sa_event.listen(factory, "before_flush", _forbid_rewrites)
