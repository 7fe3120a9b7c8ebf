"""The event log: what `record_many` publishes is exactly what it stored (SQLite and PostgreSQL)."""

from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.events import service as events
from dispatch.events.bus import Published
from dispatch.events.service import NewEvent
from ui.context import Ctx


def _stored(session: Session, after: int) -> list[Published]:
    return [
        Published(e.seq, e.type, e.at, e.actor, e.data, e.incident_id, e.call_id, e.unit_id)
        for e in events.since(session, after)
    ]


def test_published_events_match_the_stored_rows_whether_or_not_they_can_be_told_apart(session: Session) -> None:
    """Events that differ in type/call/incident/unit are matched to their rows by those; events that share
    them (two notes on one incident, say) are matched by SQLAlchemy. Either way each published event carries
    the sequence number of its own row."""
    after = events.last_seq(session)
    distinct = [NewEvent(f"test.kind{n}", "t", {"n": n}, call_id=n) for n in range(30)]
    alike = [NewEvent("test.note", "t", {"n": n}) for n in range(30)]
    published = events.record_many(session, distinct) + events.record_many(session, alike)
    session.commit()
    assert published == _stored(session, after)
    assert [p.data["n"] for p in published] == list(range(30)) * 2


def test_an_offered_event_carries_the_call_as_stored(ctx: Ctx) -> None:
    """The writer builds a new call's event from the values it inserted; it must say what the API says, less
    the fields a new call has not got yet (every console gets every new call: an absent field is empty)."""
    seen: list[Published] = []
    unsubscribe = ctx.bus.subscribe(seen.append)
    with ctx.sessions() as session:
        ringing = [calls.Ringing(f"0812 7777 {n:04d}", "asterisk", f"s{n}") for n in range(5)]
        ringing.append(calls.Ringing(None, "twilio", "s-withheld", None, text="tolong, ada kebakaran"))
        wita = datetime(2026, 11, 29, 20, 15, 1, 250000, tzinfo=timezone(timedelta(hours=8)))  # Asterisk's creationtime
        ringing.append(calls.Ringing("0813 1234 5678", "asterisk", "s-wita", at=wita))
        offered = calls.offer_many(session=session, ringing=ringing, actor="ari")
        session.commit()
        for call, event in zip(offered, seen, strict=True):
            full = calls.data(session.get_one(Call, call.id))
            assert event.data == {k: v for k, v in full.items() if v is not None}
            assert {"taker_id", "incident_id", "answered_at", "ended_at"}.isdisjoint(event.data)
            assert event.call_id == call.id and event.type == "call.offered"
    unsubscribe()
    assert len(seen) == 7 and seen[-1].data["offered_at"] == "2026-11-29T12:15:01.250000Z"
