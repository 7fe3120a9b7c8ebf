"""Record events inside a transaction; publish them once it has committed, never before."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker

from dispatch.clock import utcnow
from dispatch.errors import Invalid
from dispatch.events.bus import EventBus, Published
from dispatch.events.models import Event

log = logging.getLogger(__name__)
_PENDING = "tanggap_pending_events"
_LOCKED = "tanggap_events_locked"
# On PostgreSQL two transactions can take sequence numbers in one order and commit in the other; a reader
# catching up with `since` would then skip an event. One transaction-scoped advisory lock keeps the commit
# order of event-writing transactions equal to their sequence order.
_PG_EVENT_LOCK = 112_112


@dataclass(frozen=True)
class NewEvent:
    """One event to append: `record_many` writes several with one INSERT."""

    type: str
    actor: str
    data: dict[str, Any]
    incident_id: int | None = None
    call_id: int | None = None
    unit_id: int | None = None


def record(
    session: Session,
    type: str,
    *,
    actor: str,
    data: dict[str, Any],
    incident_id: int | None = None,
    call_id: int | None = None,
    unit_id: int | None = None,
) -> Published:
    """Append one event to the log within the caller's transaction."""
    return record_many(session, [NewEvent(type, actor, data, incident_id, call_id, unit_id)])[0]


_TABLE = cast(Table, Event.__table__)


def lock_log(session: Session) -> None:
    """Take the event log's lock for this transaction now (PostgreSQL; SQLite has one writer anyway).

    `record_many` takes it before writing; a service that must lock rows which others change after taking this
    lock (an assignment's status, say) takes it first, so both orders are the same and neither waits forever.
    """
    if session.bind is not None and session.get_bind().dialect.name == "postgresql":
        if not session.info.get(_LOCKED):
            # Not after flushing the changes waiting in the session: that would lock their rows first (a taker's
            # state, say) and then wait here, the reverse order of a claim that holds this lock and wants the row.
            with session.no_autoflush:
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_EVENT_LOCK})
            session.info[_LOCKED] = True


def record_many(session: Session, events: Sequence[NewEvent]) -> list[Published]:
    """Append events to the log within the caller's transaction; returns them in sequence order.

    One multi-row INSERT ... RETURNING, so a burst of 200 new calls costs one statement, not 200 (the ORM's
    unit of work would send one INSERT per row on SQLite). Only the sequence numbers and what tells the rows
    apart come back: reading back the JSON and times we have just written cost the writer more than writing
    them."""
    if not events:
        return []
    lock_log(session)
    now = utcnow()
    values = [
        {
            "type": e.type,
            "at": now,
            "actor": e.actor,
            "data": e.data,
            "incident_id": e.incident_id,
            "call_id": e.call_id,
            "unit_id": e.unit_id,
        }
        for e in events
    ]
    seqs = _insert(session, values, [(e.type, e.incident_id, e.call_id, e.unit_id) for e in events])
    published = sorted(
        (
            Published(seq, e.type, now, e.actor, e.data, e.incident_id, e.call_id, e.unit_id)
            for seq, e in zip(seqs, events, strict=True)
        ),
        key=lambda p: p.seq,
    )
    session.info.setdefault(_PENDING, []).extend(published)
    return published


_KEY = [_TABLE.c[name] for name in ("type", "incident_id", "call_id", "unit_id")]
_INSERT_KEYED = insert(_TABLE).returning(_TABLE.c.seq, *_KEY)  # built once: every event goes through here
_INSERT_SORTED = insert(_TABLE).returning(_TABLE.c.seq, sort_by_parameter_order=True)


def _insert(session: Session, values: list[dict[str, Any]], keys: list[tuple[Any, ...]]) -> list[int]:
    """Insert the rows; their sequence numbers in the order of `values`.

    RETURNING rows come in no promised order on SQLite. When each row's (type, incident, call, unit) is its
    own, as in a burst of new calls, the rows are matched by it, in one statement. Otherwise SQLAlchemy
    matches them (`sort_by_parameter_order`), which on SQLite means one INSERT per row.
    """
    if len(set(keys)) == len(keys):
        rows = session.execute(_INSERT_KEYED, values)
        seq_of = {tuple(row[1:]): row[0] for row in rows}
        return [seq_of[key] for key in keys]
    return list(session.scalars(_INSERT_SORTED, values))


def since(session: Session, seq: int, *, limit: int = 500) -> Sequence[Event]:
    """Events after `seq`, oldest first: the catch-up read for a reconnecting client."""
    if seq < 0:
        raise Invalid("since must be zero or a positive sequence number")
    return session.scalars(select(Event).where(Event.seq > seq).order_by(Event.seq).limit(limit)).all()


def last_seq(session: Session) -> int:
    return session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1)) or 0


def for_incident(session: Session, incident_id: int) -> Sequence[Event]:
    return session.scalars(select(Event).where(Event.incident_id == incident_id).order_by(Event.seq)).all()


publish_failures = 0  # publishes that raised (a bus that reports its own failures, like RedisBus, never does)


def _after_commit(session: Session) -> None:
    global publish_failures
    pending: list[Published] = session.info.pop(_PENDING, [])
    session.info.pop(_LOCKED, None)
    bus: EventBus | None = session.info.get("bus")
    if pending and bus is not None:
        try:
            bus.publish(pending)
        except Exception as exc:  # committed already: the events are in the log, which subscribers catch up from
            publish_failures += 1
            log.warning("publishing events %s..%s failed (%s); they are in the event log", pending[0].seq,
                        pending[-1].seq, type(exc).__name__)  # fmt: skip


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
