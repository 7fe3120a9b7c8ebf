"""Location links (dispatch/calls/links.py) on a real database, SQLite and PostgreSQL: one call, 30 minutes,
only the token's hash stored, and a refused report writes nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from dispatch.calls import links, locations
from dispatch.calls import service as calls
from dispatch.calls.models import CallerLocation, CallMessage, LocationLink
from dispatch.clock import utcnow
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.events.bus import Published
from dispatch.events.models import Event
from ui.context import Ctx

FIX = links.Fix(-0.9471, 100.4172, 35.0)


def _call(session: Session, caller: str = "081266331234", channel: str = "c1") -> int:
    return calls.offer(session=session, caller=caller, provider="asterisk", channel_id=channel).id


def _written(session: Session) -> tuple[int, int, int, int]:
    """Locations, messages and events stored, and the positions counted on every link."""
    count = lambda model: session.scalar(select(func.count()).select_from(model)) or 0  # noqa: E731
    used = session.scalar(select(func.coalesce(func.sum(LocationLink.positions + LocationLink.notes), 0))) or 0
    return count(CallerLocation), count(CallMessage), count(Event), used


def test_a_position_becomes_a_link_location_of_that_call_and_is_published(ctx: Ctx, session: Session) -> None:
    call_id = _call(session)
    issued = links.create(session=session, call_id=call_id, created_by="taker1")
    seen: list[Published] = []
    unsubscribe = ctx.bus.subscribe(seen.append)
    row = links.report(session=session, token=issued.token, fix=FIX)
    unsubscribe()
    assert row is not None
    assert (row.call_id, row.source, row.lat, row.lon, row.accuracy_m) == (call_id, "link", -0.9471, 100.4172, 35.0)
    assert [x.id for x in locations.for_call(session=session, call_id=call_id)] == [row.id]
    # The event the AML path publishes: the consoles draw it live, circle and all.
    assert [e.type for e in seen] == ["call.location"]
    assert seen[0].call_id == call_id and seen[0].data["source"] == "link" and seen[0].data["accuracy_m"] == 35.0
    link = session.get(LocationLink, issued.link.id)
    assert link is not None and link.positions == 1 and link.last_used_at is not None


def test_only_the_hash_of_the_token_is_stored(session: Session) -> None:
    issued = links.create(session=session, call_id=_call(session), created_by="taker1")
    assert len(issued.token) == 26 and links.clean_token(issued.token) == issued.token  # 128 bits, base32
    stored = session.execute(text("SELECT * FROM location_links")).mappings().one()
    assert stored["token_hash"] == hashlib.sha256(issued.token.encode()).hexdigest()
    assert issued.token not in {str(v) for v in stored.values()}
    tokens = {links.create(session=session, call_id=issued.link.call_id, created_by="t").token for _ in range(20)}
    assert len(tokens) == 20


def test_a_token_typed_from_a_read_out_link_is_the_same_token(session: Session) -> None:
    issued = links.create(session=session, call_id=_call(session), created_by="taker1")
    spoken = "-".join(issued.token[i : i + 4] for i in range(0, 26, 4)).upper()
    assert links.find(session=session, token=spoken).id == issued.link.id
    for bad in ("", "x" * 26, issued.token[:-1], issued.token + "a", "../" + issued.token, "1" * 26):
        with pytest.raises(NotFound):
            links.find(session=session, token=bad)


def test_a_link_reports_to_its_own_call_only(session: Session) -> None:
    """The same caller on another live call (a second phone line) does not get this link's positions."""
    first = _call(session, channel="c1")
    second = _call(session, channel="c2")
    issued = links.create(session=session, call_id=first, created_by="taker1")
    links.report(session=session, token=issued.token, fix=FIX)
    assert len(locations.for_call(session=session, call_id=first)) == 1
    assert locations.for_call(session=session, call_id=second) == []


def test_the_link_expires_after_30_minutes_and_then_writes_nothing(session: Session) -> None:
    start = utcnow()
    issued = links.create(session=session, call_id=_call(session), created_by="taker1", now=start)
    assert issued.link.expires_at == start + timedelta(minutes=30)
    links.report(session=session, token=issued.token, fix=FIX, now=start + timedelta(minutes=29, seconds=59))
    before = _written(session)
    for _ in range(2):  # refused twice, the same way
        with pytest.raises(links.Expired):
            links.report(session=session, token=issued.token, fix=FIX, note="halo", now=start + timedelta(minutes=30))
    session.rollback()
    assert _written(session) == before


def test_no_link_for_a_call_that_ended_long_ago(session: Session) -> None:
    call_id = _call(session)
    calls.end(session=session, call_id=call_id, actor="ari", at=utcnow() - timedelta(hours=1))
    with pytest.raises(Conflict):
        links.create(session=session, call_id=call_id, created_by="taker1")
    with pytest.raises(NotFound):
        links.create(session=session, call_id=999_999, created_by="taker1")
    recent = _call(session, channel="c2")
    calls.end(session=session, call_id=recent, actor="ari", at=utcnow() - timedelta(minutes=5))
    assert links.create(session=session, call_id=recent, created_by="taker1").link.call_id == recent


@pytest.mark.parametrize(
    ("lat", "lon", "accuracy_m"),
    [
        (-0.9471, 100.4172, 0.0),  # no measurement is exact
        (-0.9471, 100.4172, -5.0),
        (-0.9471, 100.4172, 50_001.0),  # locates no one
        (-0.9471, 100.4172, float("inf")),
        (-0.9471, 100.4172, float("nan")),
        (91.0, 100.4172, 35.0),
        (-0.9471, 181.0, 35.0),
        (float("nan"), 100.4172, 35.0),
    ],
)
def test_an_absurd_position_is_refused_and_writes_nothing(
    session: Session, lat: float, lon: float, accuracy_m: float
) -> None:
    issued = links.create(session=session, call_id=_call(session), created_by="taker1")
    before = _written(session)
    with pytest.raises(Invalid):
        links.report(session=session, token=issued.token, fix=links.Fix(lat, lon, accuracy_m), note="di sini")
    session.rollback()
    assert _written(session) == before
    assert links.report(session=session, token=issued.token, fix=links.Fix(-0.9, 100.4, 50_000.0)) is not None


def test_a_note_joins_the_calls_messages_within_its_length(ctx: Ctx, session: Session) -> None:
    call_id = _call(session)
    issued = links.create(session=session, call_id=call_id, created_by="taker1")
    before = _written(session)
    for bad in ("x" * (links.NOTE_MAX + 1), "   ", None):
        with pytest.raises(Invalid):
            links.report(session=session, token=issued.token, fix=None, note=bad)
        session.rollback()
    assert _written(session) == before
    seen: list[Published] = []
    unsubscribe = ctx.bus.subscribe(seen.append)
    assert links.report(session=session, token=issued.token, fix=None, note="  lantai 2, rumah hijau ") is None
    links.report(session=session, token=issued.token, fix=None, note="é" * links.NOTE_MAX)
    unsubscribe()
    bodies = session.scalars(select(CallMessage.body).where(CallMessage.call_id == call_id).order_by(CallMessage.id))
    assert list(bodies) == ["lantai 2, rumah hijau", "é" * links.NOTE_MAX]
    assert [e.type for e in seen] == ["call.message", "call.message"]
    assert seen[0].data["direction"] == "in" and seen[0].data["author"] == "link"


def test_notes_per_link_are_limited(session: Session) -> None:
    issued = links.create(session=session, call_id=_call(session), created_by="taker1")
    for n in range(links.NOTES_MAX):
        links.report(session=session, token=issued.token, fix=None, note=f"catatan {n}")
    with pytest.raises(links.TooSoon):
        links.report(session=session, token=issued.token, fix=None, note="satu lagi")


def test_a_retried_report_is_one_location_and_a_flood_is_refused(session: Session) -> None:
    start = utcnow()
    issued = links.create(session=session, call_id=_call(session), created_by="taker1", now=start)
    first = links.report(session=session, token=issued.token, fix=FIX, now=start)
    assert first is not None
    # The answer was lost and the page sent the same position again: that location, nothing new.
    again = links.report(session=session, token=issued.token, fix=FIX, now=start + timedelta(seconds=2))
    assert again is not None and again.id == first.id
    before = _written(session)
    moved = links.Fix(FIX.lat + 0.001, FIX.lon, FIX.accuracy_m)
    with pytest.raises(links.TooSoon):  # another position sooner than the page sends them
        links.report(session=session, token=issued.token, fix=moved, now=start + timedelta(seconds=3))
    session.rollback()
    assert _written(session) == before
    later = links.report(session=session, token=issued.token, fix=moved, now=start + links.MIN_INTERVAL)
    assert later is not None and later.id != first.id
    assert len(locations.for_call(session=session, call_id=issued.link.call_id)) == 2


def test_a_link_takes_at_most_a_half_hour_of_positions(session: Session) -> None:
    start = utcnow()
    issued = links.create(session=session, call_id=_call(session), created_by="taker1", now=start)
    link = session.get(LocationLink, issued.link.id)
    assert link is not None
    link.positions = links.POSITIONS_MAX - 1
    session.commit()
    assert links.report(session=session, token=issued.token, fix=FIX, now=start) is not None
    with pytest.raises(links.TooSoon):
        links.report(session=session, token=issued.token, fix=FIX, now=start + timedelta(minutes=1))


def test_mark_sent(session: Session) -> None:
    issued = links.create(session=session, call_id=_call(session), created_by="taker1")
    assert issued.link.sent_by == "none"
    assert links.mark_sent(session=session, link_id=issued.link.id, sent_by="sms").sent_by == "sms"
    with pytest.raises(NotFound):
        links.mark_sent(session=session, link_id=999_999, sent_by="sms")
