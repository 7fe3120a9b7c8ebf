"""The queue's order during a major incident (dispatch/calls/queue.py `turn`): a caller who chose 1, or nothing,
first; 2 a lead later, 3 two; never starved, since a caller who waited the lead is passed by nobody who calls
after. The head, a call's position, the supervisor's view and the ACD agree, at the exact ties too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from dispatch.calls import intake, queue
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from tests.mutation.test_queue import taker
from ui.context import Ctx

LEAD = timedelta(seconds=300)
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def offer(ctx: Ctx, channel: str, at: datetime, choice: int | None = None, *, text: str | None = None) -> int:
    with ctx.sessions() as session:
        call = calls.offer(session=session, caller=None, provider="asterisk", channel_id=channel, at=at, text=text)
        if choice is not None:  # as `record_choice` keeps it; 7: a value no key gives, counted as 1
            session.execute(update(Call).where(Call.id == call.id).values(major_choice=choice))
            session.commit()
        return call.id


def head(ctx: Ctx, lead: timedelta = LEAD, limit: int = 50) -> list[int]:
    with ctx.sessions() as session:
        return [c.id for c in queue.head(session=session, limit=limit, lead=lead)]


def positions(ctx: Ctx, ids: list[int], lead: timedelta = LEAD) -> list[int | None]:
    with ctx.sessions() as session:
        return [queue.position(session=session, call_id=i, lead=lead) for i in ids]


def first_rung(ctx: Ctx, lead: timedelta) -> queue.Match:
    """The ACD's pick for the one call-taker who is ready."""
    taker(ctx, "t1")
    with ctx.sessions() as session:
        [match] = queue.claim(session=session, provider="asterisk", actor="acd", lead=lead)
    return match


def test_turn() -> None:
    assert queue.turn(T0, None, LEAD) == T0 and queue.turn(T0, 1, LEAD) == T0 and queue.turn(T0, 7, LEAD) == T0
    assert queue.turn(T0, 2, LEAD) == T0 + LEAD and queue.turn(T0, 3, LEAD) == T0 + 2 * LEAD
    assert queue.turn(T0, 3, timedelta(0)) == T0
    assert queue.turn(T0.replace(tzinfo=None), 2, LEAD) == T0 + LEAD  # a naive time read back from SQLite is UTC
    assert queue.PRIORITY_LEAD == timedelta(minutes=5)


def test_people_in_danger_first_reports_and_information_after(ctx: Ctx) -> None:
    now = utcnow()
    damage = offer(ctx, "a", now - timedelta(seconds=60), 2)  # turn +240 s
    danger = offer(ctx, "b", now - timedelta(seconds=10), 1)  # -10 s
    silent = offer(ctx, "c", now - timedelta(seconds=5))  # -5 s: no key is 1
    info_old = offer(ctx, "d", now - timedelta(seconds=400), 3)  # +200 s
    damage_old = offer(ctx, "e", now - timedelta(seconds=400), 2)  # -100 s: waited the lead, passed by nobody
    noise = offer(ctx, "f", now - timedelta(seconds=1), 7)  # -1 s
    offer(ctx, "g", now - timedelta(seconds=900), 1, text="tolong")  # a text call is not in the voice queue
    order = [damage_old, danger, silent, noise, info_old, damage]
    assert head(ctx) == order
    assert positions(ctx, order) == [1, 2, 3, 4, 5, 6]
    assert head(ctx, limit=2) == order[:2]
    with ctx.sessions() as session:
        view = queue.snapshot(session=session, lead=LEAD)
    assert [c.call_id for c in view.calls] == order and [c.position for c in view.calls] == [1, 2, 3, 4, 5, 6]
    assert [c.major_choice for c in view.calls] == [2, 1, None, 7, 3, 2]
    # without a lead: first come, first served
    fifo = [info_old, damage_old, damage, danger, silent, noise]  # d and e at one time: the first recorded
    assert head(ctx, timedelta(0)) == fifo and positions(ctx, fifo, timedelta(0)) == [1, 2, 3, 4, 5, 6]
    with ctx.sessions() as session:
        assert [c.call_id for c in queue.snapshot(session=session, lead=timedelta(0)).calls] == fifo


def test_at_the_same_turn_the_longer_waiting_comes_first(ctx: Ctx) -> None:
    at = utcnow() - timedelta(hours=1)
    report = offer(ctx, "report", at, 2)  # turn at + LEAD
    trapped = offer(ctx, "trapped", at + LEAD, 1)  # the same turn, called later
    info = offer(ctx, "info", at - LEAD, 3)  # the same turn again, called earliest
    twin = offer(ctx, "twin", at + LEAD, None)  # the same turn and time as `trapped`: the first recorded first
    order = [info, report, trapped, twin]
    assert head(ctx) == order and positions(ctx, order) == [1, 2, 3, 4]


def test_the_acd_rings_for_the_caller_in_danger_first(ctx: Ctx) -> None:
    now = utcnow()
    report = offer(ctx, "report", now - timedelta(seconds=120), 2)
    trapped = offer(ctx, "trapped", now - timedelta(seconds=3), 1)
    match = first_rung(ctx, LEAD)
    assert match.call_id == trapped
    with ctx.sessions() as session:
        assert queue.position(session=session, call_id=trapped, lead=LEAD) == 1  # ringing, offered until answered
        assert queue.position(session=session, call_id=report, lead=LEAD) == 2


def test_a_centre_s_own_lead_orders_the_head_the_acd_and_the_queued_event(ctx: Ctx) -> None:
    """TANGGAP_QUEUE_PRIORITY_LEAD_S set to one minute: a report made two minutes before a caller in danger has
    waited its lead and goes first, where the default five minutes would put it second. Every reader of the order
    is handed the centre's lead, none falls back to the default."""
    lead = timedelta(minutes=1)
    now = utcnow()
    report = offer(ctx, "report", now - timedelta(seconds=120), 2)  # turn -60 s with a minute's lead
    trapped = offer(ctx, "trapped", now - timedelta(seconds=10), 1)
    assert head(ctx, lead) == [report, trapped] and head(ctx) == [trapped, report]
    assert positions(ctx, [report, trapped], lead) == [1, 2]
    with ctx.sessions() as session:
        assert intake.queued(session=session, call_id=trapped, actor="bridge", lead=lead) == 2
    match = first_rung(ctx, lead)
    assert match.call_id == report


def test_without_a_lead_the_head_is_as_long_as_asked(ctx: Ctx) -> None:
    now = utcnow()
    first = offer(ctx, "first", now - timedelta(seconds=30), 3)
    offer(ctx, "second", now - timedelta(seconds=20), 1)
    assert head(ctx, timedelta(0), limit=1) == [first]
