"""The queue and ACD at the edges the main tests skip: who is rung for which call and what the consoles are told,
queue positions, reservations that end, a desk that rang too long or answered busy, and the supervisor's view.
The clock is given (`now`) or held, never slept on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.calls import intake, queue
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.calls.records import DESK_BUSY, DESK_FREE_AGAIN
from dispatch.clock import as_utc, utcnow
from dispatch.events.models import Event
from dispatch.users import service as users
from dispatch.users.models import User
from ui.context import Ctx

CALLER = "+6281234567890"
FLAGGED = "+6281300000001"


def taker(ctx: Ctx, name: str, *, ready: bool = True, role: str = "call_taker", endpoint: str | None = "") -> int:
    """A user with a desk phone (`name`, unless `endpoint` says otherwise), ready for calls unless `ready=False`."""
    with ctx.sessions() as session:
        user = users.create(
            session=session,
            username=name,
            password="rahasia-112",
            role=role,
            sip_endpoint=name if endpoint == "" else endpoint,
        )
        if ready and role in ("call_taker", "supervisor"):
            users.set_available(session=session, user=user, available=True)
        return user.id


def offer(
    ctx: Ctx,
    channel: str,
    *,
    provider: str = "asterisk",
    at: datetime | None = None,
    ago_s: float = 0,
    caller: str | None = CALLER,
    text: str | None = None,
) -> int:
    with ctx.sessions() as session:
        call = calls.offer(
            session=session,
            caller=caller,
            provider=provider,
            channel_id=channel,
            at=at or utcnow() - timedelta(seconds=ago_s),
            text=text,
            actor="test",
        )
        return call.id


def claim(ctx: Ctx, provider: str = "asterisk", **kw: Any) -> list[queue.Match]:
    with ctx.sessions() as session:
        return queue.claim(session=session, provider=provider, actor="acd", **kw)


def requeue(ctx: Ctx, call_id: int, taker_id: int, reason: str, *, available: bool) -> None:
    with ctx.sessions() as session:
        queue.requeue(
            session=session, call_id=call_id, taker_id=taker_id, reason=reason, taker_available=available, actor="acd"
        )


def user(ctx: Ctx, user_id: int) -> User:
    with ctx.sessions() as session:
        found = session.get(User, user_id)
        assert found is not None
        session.expunge(found)
        return found


def events(ctx: Ctx, kind: str, *, after: int = 0) -> list[Event]:
    with ctx.sessions() as session:
        found = list(session.scalars(select(Event).where(Event.type == kind, Event.seq > after).order_by(Event.seq)))
        session.expunge_all()
        return found


def last_seq(ctx: Ctx) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1)) or 0


def backdate_reservation(ctx: Ctx, call_id: int, seconds: float) -> None:
    """The call's phone started ringing `seconds` ago (and its taker stopped being ready then)."""
    with ctx.sessions() as session:
        [event] = session.scalars(select(Event).where(Event.call_id == call_id, Event.type == queue.CONNECTING))
        at = as_utc(event.at) - timedelta(seconds=seconds)
        session.execute(update(Event).where(Event.seq == event.seq).values(at=at))
        session.execute(update(User).where(User.id == event.data["taker_id"]).values(available_at=at))
        session.commit()


def position(ctx: Ctx, call_id: int) -> int | None:
    with ctx.sessions() as session:
        return queue.position(session=session, call_id=call_id)


# --- who is rung for which call, and what the consoles are told ---------------------------------------------------


def test_a_flagged_caller_waiting_longest_is_rung_first(ctx: Ctx) -> None:
    """Flagged, never dropped: a known prankster can have a real emergency, and waits in the same line."""
    one = taker(ctx, "taker1")
    with ctx.sessions() as session:
        flagged = calls.offer(session=session, caller=FLAGGED, provider="asterisk", channel_id="c-flag", actor="t")
        flagged.flagged = True  # as abuse.flagged_among marks them
        flagged.offered_at = utcnow() - timedelta(seconds=30)
        session.commit()
        flagged_id = flagged.id
    offer(ctx, "c-clean", ago_s=5)
    [match] = claim(ctx)
    assert (match.call_id, match.taker_id) == (flagged_id, one)
    with ctx.sessions() as session:
        [first, second] = queue.snapshot(session=session).calls
    assert (first.call_id, first.flagged, first.connecting_to) == (flagged_id, True, one)
    assert (second.flagged, second.connecting_to) == (False, None)


def test_the_match_tells_the_bridge_which_channel_to_connect_to_which_phone(ctx: Ctx) -> None:
    one = taker(ctx, "taker1", endpoint="PJSIP/desk-1")
    call_id = offer(ctx, "CA-123", provider="twilio")
    assert claim(ctx, "twilio") == [queue.Match(call_id, "twilio", "CA-123", one, "PJSIP/desk-1")]


def test_a_reservation_tells_the_consoles_who_is_ringing_for_which_call(ctx: Ctx) -> None:
    one = taker(ctx, "taker1")
    call_id = offer(ctx, "c1")
    before = last_seq(ctx)
    claim(ctx)
    [ringing] = events(ctx, "taker.available", after=before)
    [connecting] = events(ctx, queue.CONNECTING, after=before)
    assert (ringing.actor, ringing.data) == (
        "acd",
        {"user_id": one, "available": False, "reason": "ringing", "call_id": call_id},
    )
    assert (connecting.actor, connecting.call_id) == ("acd", call_id)
    assert connecting.data == {"id": call_id, "taker_id": one, "reserved_at": connecting.data["reserved_at"]}
    # the taker is not ready since the moment their phone started ringing for the call
    reserved_at = datetime.fromisoformat(str(connecting.data["reserved_at"]))
    busy = user(ctx, one)
    assert not busy.available and busy.available_at is not None and as_utc(busy.available_at) == reserved_at


def test_a_call_of_another_provider_at_the_head_does_not_hold_back_the_calls_behind_it(ctx: Ctx) -> None:
    """The Twilio call waiting longest gets the taker idle longest; the Asterisk call behind it the next one."""
    first, second = taker(ctx, "taker1"), taker(ctx, "taker2")
    offer(ctx, "CA1", provider="twilio", ago_s=20)
    asterisk = offer(ctx, "c1", ago_s=5)
    assert [(m.call_id, m.taker_id) for m in claim(ctx)] == [(asterisk, second)]
    assert user(ctx, first).available  # kept for the Twilio call


def test_a_taker_taken_by_another_router_meanwhile_is_not_rung_twice(ctx: Ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two routing processes read the same ready takers; the reservation is a compare-and-set, so a taker the
    other one reserved in between is skipped, and the next pair still goes through."""
    first, second = taker(ctx, "taker1"), taker(ctx, "taker2")
    old, young = offer(ctx, "c-old", ago_s=30), offer(ctx, "c-young", ago_s=1)
    read = users.available_takers

    def then_taken(*, session: Session) -> Any:
        ready = list(read(session=session))
        with ctx.sessions() as other:  # the other process reserves taker1 for a call of its own
            other.execute(update(User).where(User.id == first).values(available=False))
            other.commit()
        return ready

    monkeypatch.setattr(users, "available_takers", then_taken)
    before = last_seq(ctx)
    matches = claim(ctx)
    assert [(m.call_id, m.taker_id) for m in matches] == [(young, second)]
    assert [e.data["taker_id"] for e in events(ctx, queue.CONNECTING, after=before)] == [second]
    assert [e.data["user_id"] for e in events(ctx, "taker.available", after=before)] == [second]
    with ctx.sessions() as session:
        assert queue.reservations(session=session, call_ids=[old, young]).keys() == {young}


def test_claim_reads_only_the_head_of_the_queue(ctx: Ctx) -> None:
    taker(ctx, "taker1")
    second = taker(ctx, "taker2")
    old = offer(ctx, "c-old", ago_s=30)
    offer(ctx, "c-young", ago_s=1)
    assert [m.call_id for m in claim(ctx, limit=1)] == [old]
    assert user(ctx, second).available


def test_text_messages_do_not_take_the_places_of_voice_calls_at_the_head(ctx: Ctx) -> None:
    """SMS wait on the console, not for a phone: however many of them, the voice caller behind them is rung."""
    taker(ctx, "taker1")
    for n in range(3):
        offer(ctx, f"sms-{n}", provider="sms", text="tolong", ago_s=60 - n)
    voice = offer(ctx, "c1", ago_s=1)
    with ctx.sessions() as session:
        assert [c.id for c in queue.head(session=session, limit=1)] == [voice]
    assert [m.call_id for m in claim(ctx, limit=1)] == [voice]


def test_a_caller_who_hung_up_or_was_answered_is_not_rung_for(ctx: Ctx) -> None:
    abandoned, answered = offer(ctx, "c-gone", ago_s=30), offer(ctx, "c-answered", ago_s=20)
    with ctx.sessions() as session:
        intake.finish(session=session, call_id=abandoned, actor="acd", cause="caller")
        intake.answered(session=session, call_id=answered, taker_id=None, actor="console")
    taker(ctx, "taker1")
    assert claim(ctx) == []
    with ctx.sessions() as session:
        assert queue.head(session=session, limit=10) == []


def test_the_head_takes_callers_who_came_in_the_same_instant_in_arrival_order(ctx: Ctx) -> None:
    """The PBX stamps calls to the second; two in the same second go in the order they were offered (also after
    the first one's row was written again)."""
    at = utcnow().replace(microsecond=0) - timedelta(seconds=10)
    first, second = offer(ctx, "c1", at=at), offer(ctx, "c2", at=at)
    with ctx.sessions() as session:
        session.execute(update(Call).where(Call.id == first).values(version=Call.version + 1))
        session.commit()
        assert [c.id for c in queue.head(session=session, limit=10)] == [first, second]
        assert [c.call_id for c in queue.snapshot(session=session).calls] == [first, second]


def test_plan_pairs_voice_calls_not_ringing_with_takers_who_have_a_phone() -> None:
    calls_ = [SimpleNamespace(id=n, is_text=n == 2) for n in (1, 2, 3, 4)]
    takers = [SimpleNamespace(sip_endpoint=e) for e in ("a", None, "", "b", "c")]
    pairs = queue.plan(cast(Any, calls_), cast(Any, takers), reserved=[1])
    assert [(c.id, t.sip_endpoint) for c, t in pairs] == [(3, "a"), (4, "b")]
    assert queue.endpoint_of(cast(Any, takers[2])) is None


# --- reservations --------------------------------------------------------------------------------------------------


def test_a_reservation_lives_exactly_its_time_to_live(ctx: Ctx) -> None:
    """Older than the TTL is ignored (a bridge that died while the phone rang); not older is still ringing."""
    one = taker(ctx, "taker1")
    call_id = offer(ctx, "c1")
    claim(ctx)
    [connecting] = events(ctx, queue.CONNECTING)
    at, ttl = as_utc(connecting.at), queue.RESERVATION_TTL
    with ctx.sessions() as session:
        assert queue.reservations(session=session, call_ids=[call_id], now=at + ttl) == {
            call_id: queue.Reservation(one, at)
        }
        assert queue.reservations(session=session, call_ids=[call_id], now=at + ttl + timedelta(microseconds=1)) == {}
        assert queue.reservations(session=session, call_ids=[call_id], now=at + timedelta(seconds=5), ttl=ttl) != {}


def test_reservations_answer_for_the_calls_asked_about(ctx: Ctx) -> None:
    taker(ctx, "taker1")
    taker(ctx, "taker2")
    first, second = offer(ctx, "c1", ago_s=2), offer(ctx, "c2")
    claim(ctx)
    with ctx.sessions() as session:
        assert queue.reservations(session=session, call_ids=[second]).keys() == {second}
        assert queue.reservations(session=session, call_ids=[first]).keys() == {first}
        assert queue.reservations(session=session, call_ids=[]) == {}


def test_a_call_rung_again_after_a_requeue_is_reserved_for_the_new_taker(ctx: Ctx) -> None:
    """The latest of a call's queue events counts: connecting, requeued, connecting again is ringing."""
    one = taker(ctx, "taker1")
    call_id = offer(ctx, "c1")
    claim(ctx)
    requeue(ctx, call_id, one, "no_answer", available=False)
    two = taker(ctx, "taker2")
    assert [m.taker_id for m in claim(ctx)] == [two]
    with ctx.sessions() as session:
        intake.queued(session=session, call_id=call_id, actor="acd")  # the call's other events do not count
        assert queue.reservations(session=session, call_ids=[call_id])[call_id].taker_id == two
        assert queue.snapshot(session=session).calls[0].connecting_to == two


# --- a desk that did not answer, or answered busy --------------------------------------------------------------


def test_no_answer_after_a_long_ring_still_puts_the_call_back_with_its_reason(ctx: Ctx) -> None:
    """A desk may ring longer than the reservation's TTL before the PBX gives up: the log still says why."""
    one = taker(ctx, "taker1")
    call_id = offer(ctx, "c1")
    claim(ctx)
    backdate_reservation(ctx, call_id, 90)
    requeue(ctx, call_id, one, "no_answer", available=False)
    [event] = events(ctx, queue.REQUEUED)
    assert (event.actor, event.call_id) == ("acd", call_id)
    assert event.data == {"id": call_id, "taker_id": one, "reason": "no_answer"}


def test_a_late_no_answer_from_an_earlier_desk_does_not_cancel_the_new_ring(ctx: Ctx) -> None:
    one = taker(ctx, "taker1")
    call_id = offer(ctx, "c1")
    claim(ctx)
    requeue(ctx, call_id, one, "no_answer", available=False)
    two = taker(ctx, "taker2")
    claim(ctx)
    before = last_seq(ctx)
    requeue(ctx, call_id, one, "no_answer", available=False)  # the PBX repeats itself
    assert events(ctx, queue.REQUEUED, after=before) == []
    with ctx.sessions() as session:
        assert queue.reservations(session=session, call_ids=[call_id])[call_id].taker_id == two


def test_a_requeue_for_a_call_not_ringing_only_frees_the_taker(ctx: Ctx) -> None:
    """The caller hung up while the desk rang, and the call was never (or is no longer) reserved."""
    one = taker(ctx, "taker1", ready=False)
    call_id = offer(ctx, "c1")
    requeue(ctx, call_id, one, "caller_gone", available=True)
    requeue(ctx, 10_000_000, one, "caller_gone", available=True)
    assert events(ctx, queue.REQUEUED) == []
    assert user(ctx, one).available
    [event] = [e for e in events(ctx, "taker.available") if e.data.get("reason") == "caller_gone"]
    assert (event.actor, event.data) == ("acd", {"user_id": one, "available": True, "reason": "caller_gone"})


def test_a_desk_that_stays_not_ready_is_told_why_each_time(ctx: Ctx) -> None:
    one = taker(ctx, "taker1")
    call_id = offer(ctx, "c1")
    claim(ctx)
    before = last_seq(ctx)
    requeue(ctx, call_id, one, DESK_BUSY, available=False)
    [told] = events(ctx, "taker.available", after=before)
    assert (told.actor, told.data) == ("acd", {"user_id": one, "available": False, "reason": DESK_BUSY})
    assert not user(ctx, one).available


def test_a_taker_already_ready_is_not_told_again(ctx: Ctx) -> None:
    one = taker(ctx, "taker1")
    before = last_seq(ctx)
    requeue(ctx, 10_000_000, one, "caller_gone", available=True)
    assert events(ctx, "taker.available", after=before) == []


def test_only_call_takers_and_supervisors_are_made_ready_by_the_queue(ctx: Ctx) -> None:
    dispatcher = taker(ctx, "dispatcher1", role="dispatcher")
    supervisor = taker(ctx, "supervisor1", role="supervisor", ready=False)
    for someone in (dispatcher, supervisor, 10_000_000):
        requeue(ctx, 10_000_000, someone, "caller_gone", available=True)
    assert not user(ctx, dispatcher).available
    assert user(ctx, supervisor).available
    assert [e.data["user_id"] for e in events(ctx, "taker.available")] == [supervisor]


def busy_desk(ctx: Ctx, name: str = "taker1") -> int:
    """A taker rung for a call whose desk phone answered busy: not ready, for a pause."""
    one = taker(ctx, name)
    call_id = offer(ctx, f"call-for-{name}")
    claim(ctx)
    requeue(ctx, call_id, one, DESK_BUSY, available=False)
    return one


def ready_after_busy(ctx: Ctx, taker_id: int, **kw: Any) -> bool:
    with ctx.sessions() as session:
        return queue.ready_after_busy(session=session, taker_id=taker_id, actor="acd", **kw)


def test_after_the_pause_a_busy_desk_is_ready_again(ctx: Ctx) -> None:
    one = busy_desk(ctx)
    before = last_seq(ctx)
    assert ready_after_busy(ctx, one) is True
    assert user(ctx, one).available
    [event] = events(ctx, "taker.available", after=before)
    assert (event.actor, event.data) == ("acd", {"user_id": one, "available": True, "reason": DESK_FREE_AGAIN})


def test_calls_and_other_desks_meanwhile_do_not_hide_the_busy_desk(ctx: Ctx) -> None:
    one = busy_desk(ctx)
    taker(ctx, "taker2")  # another taker says they are ready: a `taker.available` of someone else
    for n in range(3):
        offer(ctx, f"c-{n}")
    assert ready_after_busy(ctx, one, look_back=2) is True


def test_a_busy_desk_too_far_back_is_left_alone(ctx: Ctx) -> None:
    one = busy_desk(ctx)
    for n in (2, 3):
        taker(ctx, f"taker{n}")
    assert ready_after_busy(ctx, one, look_back=2) is False
    assert not user(ctx, one).available


def test_a_taker_who_changed_their_state_in_the_pause_keeps_it(ctx: Ctx) -> None:
    said_no = busy_desk(ctx, "taker1")
    with ctx.sessions() as session:
        u = users.get(session=session, user_id=said_no)
        users.set_available(session=session, user=u, available=True)
        users.set_available(session=session, user=u, available=False)
    said_yes = busy_desk(ctx, "taker2")
    with ctx.sessions() as session:
        users.set_available(session=session, user=users.get(session=session, user_id=said_yes), available=True)
    before = last_seq(ctx)
    assert ready_after_busy(ctx, said_no) is False
    assert ready_after_busy(ctx, said_yes) is False
    assert ready_after_busy(ctx, 10_000_000) is False
    assert not user(ctx, said_no).available and user(ctx, said_yes).available
    assert events(ctx, "taker.available", after=before) == []


def test_a_taker_rung_again_in_the_pause_is_not_made_ready(ctx: Ctx) -> None:
    one = busy_desk(ctx)
    with ctx.sessions() as session:
        users.set_available(session=session, user=users.get(session=session, user_id=one), available=True)
    offer(ctx, "c-next")
    claim(ctx)
    assert ready_after_busy(ctx, one) is False
    assert not user(ctx, one).available


# --- after the call ------------------------------------------------------------------------------------------


def answered_by(ctx: Ctx, taker_id: int, channel: str = "c1") -> int:
    call_id = offer(ctx, channel)
    claim(ctx)
    with ctx.sessions() as session:
        intake.answered(session=session, call_id=call_id, taker_id=taker_id, actor="acd")
    return call_id


def finish(ctx: Ctx, call_id: int) -> None:
    with ctx.sessions() as session:
        intake.finish(session=session, call_id=call_id, actor="acd", cause="caller")


def test_a_long_call_ends_with_its_taker_ready_and_the_console_told(ctx: Ctx) -> None:
    one = taker(ctx, "taker1")
    call_id = answered_by(ctx, one)
    backdate_reservation(ctx, call_id, 20 * 60)  # a twenty-minute call
    before = last_seq(ctx)
    finish(ctx, call_id)
    assert user(ctx, one).available
    [event] = events(ctx, "taker.available", after=before)
    assert (event.actor, event.data) == ("acd", {"user_id": one, "available": True, "reason": "call_ended"})


def test_a_taker_rung_and_reserved_in_the_same_clock_tick_is_ready_after_the_call(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a coarse clock the reservation and the taker's last change read the same instant: that is no change."""
    one = taker(ctx, "taker1")
    call_id = offer(ctx, "c1")
    tick = utcnow()
    import dispatch.events.service as event_service

    with monkeypatch.context() as held:
        held.setattr(queue, "utcnow", lambda: tick)
        held.setattr(event_service, "utcnow", lambda: tick)
        claim(ctx)
    with ctx.sessions() as session:
        intake.answered(session=session, call_id=call_id, taker_id=one, actor="acd")
    finish(ctx, call_id)
    assert user(ctx, one).available


def test_a_call_answered_without_the_acd_leaves_the_takers_state_alone(ctx: Ctx) -> None:
    """Answered from the console, or by another taker than the one rung: the queue did not make them busy."""
    one, two = taker(ctx, "taker1"), taker(ctx, "taker2", ready=False)
    console = offer(ctx, "c-console")
    with ctx.sessions() as session:
        intake.answered(session=session, call_id=console, taker_id=two, actor="console")
    rung = offer(ctx, "c-rung")
    claim(ctx)  # rings taker1
    with ctx.sessions() as session:
        intake.answered(session=session, call_id=rung, taker_id=two, actor="console")
    before = last_seq(ctx)
    finish(ctx, console)
    finish(ctx, rung)
    assert not user(ctx, two).available and not user(ctx, one).available
    assert events(ctx, "taker.available", after=before) == []


# --- the supervisor's view ------------------------------------------------------------------------------------------


def test_the_supervisor_sees_each_caller_in_line_with_how_long_they_wait(ctx: Ctx) -> None:
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    first = offer(ctx, "c1", at=at, caller=FLAGGED)
    second = offer(ctx, "c2", at=at + timedelta(seconds=30), provider="twilio")
    offer(ctx, "sms-1", provider="sms", text="tolong", at=at)
    now = at + timedelta(seconds=30, milliseconds=500)
    with ctx.sessions() as session:
        session.execute(update(Call).where(Call.id == first).values(flagged=True))
        session.commit()
        view = queue.snapshot(session=session, now=now)
        rows = {c.id: c for c in session.scalars(select(Call))}
    assert view.at == now and view.takers_ready == []
    assert view.calls == [
        queue.QueueEntry(first, 1, "asterisk", FLAGGED, True, rows[first].offered_at, 30.5, None),
        queue.QueueEntry(second, 2, "twilio", CALLER, False, rows[second].offered_at, 0.5, None),
    ]
    assert view.longest_wait_s == 30.5
    assert queue.QueueView(now, [], []).longest_wait_s == 0.0


def test_a_clock_a_little_behind_the_pbx_shows_no_negative_wait(ctx: Ctx) -> None:
    at = utcnow()
    offer(ctx, "c1", at=at)
    with ctx.sessions() as session:
        [entry] = queue.snapshot(session=session, now=at - timedelta(seconds=2)).calls
    assert entry.waiting_s == 0.0


def test_the_view_at_a_given_time_shows_reservations_live_then(ctx: Ctx) -> None:
    one = taker(ctx, "taker1")
    offer(ctx, "c1")
    claim(ctx)
    with ctx.sessions() as session:
        assert queue.snapshot(session=session).calls[0].connecting_to == one
        later = utcnow() + queue.RESERVATION_TTL + timedelta(seconds=1)
        assert queue.snapshot(session=session, now=later).calls[0].connecting_to is None


def test_the_supervisor_sees_who_is_ready_and_for_how_long(ctx: Ctx) -> None:
    one = taker(ctx, "taker1")
    two = taker(ctx, "taker2", endpoint=None)
    with ctx.sessions() as session:  # a ready state from before times were kept
        session.execute(update(User).where(User.id == two).values(available_at=None))
        session.commit()
    since = user(ctx, one).available_at
    assert since is not None
    now = as_utc(since) + timedelta(seconds=42)
    with ctx.sessions() as session:
        view = queue.snapshot(session=session, now=now)
    assert {t["user_id"]: t for t in view.takers_ready} == {
        one: {"user_id": one, "name": "taker1", "endpoint": "taker1", "idle_s": 42.0},
        two: {"user_id": two, "name": "taker2", "endpoint": None, "idle_s": None},
    }


# --- a caller's place in line ---------------------------------------------------------------------------------------


def test_a_caller_is_told_their_place_among_the_voice_callers_still_waiting(ctx: Ctx) -> None:
    at = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    answered = offer(ctx, "c-answered", at=at - timedelta(seconds=30))
    offer(ctx, "sms-1", provider="sms", text="tolong", at=at - timedelta(seconds=20))
    first = offer(ctx, "c1", at=at - timedelta(seconds=10))
    same_a, same_b = offer(ctx, "c2", at=at), offer(ctx, "c3", at=at)  # the same second: in arrival order
    last = offer(ctx, "c4", at=at + timedelta(seconds=1))
    with ctx.sessions() as session:
        intake.answered(session=session, call_id=answered, taker_id=None, actor="console")
    assert [position(ctx, c) for c in (first, same_a, same_b, last)] == [1, 2, 3, 4]


def test_a_call_the_dialplan_took_while_the_bridge_was_away_keeps_its_place(ctx: Ctx) -> None:
    """Offered later, when the bridge is back, with the time it really came in: it is ahead of the calls that came
    after it, whatever order the rows were written in."""
    young = offer(ctx, "c-young", ago_s=5)
    old = offer(ctx, "c-fallback", ago_s=60)
    assert (position(ctx, old), position(ctx, young)) == (1, 2)


def test_a_call_not_waiting_by_phone_has_no_place_in_line(ctx: Ctx) -> None:
    answered = offer(ctx, "c1", ago_s=10)
    sms = offer(ctx, "sms-1", provider="sms", text="tolong", ago_s=5)
    with ctx.sessions() as session:
        intake.answered(session=session, call_id=answered, taker_id=None, actor="console")
    assert position(ctx, answered) is None
    assert position(ctx, sms) is None
    assert position(ctx, 10_000_000) is None


def test_frees_a_taker_only_when_someone_became_ready() -> None:
    from dispatch.events.bus import Published

    at = utcnow()
    assert queue.frees_a_taker(Published(1, "taker.available", at, "t", {"user_id": 1, "available": True}))
    assert not queue.frees_a_taker(Published(2, "taker.available", at, "t", {"user_id": 1, "available": False}))
    assert not queue.frees_a_taker(Published(3, "call.offered", at, "t", {"available": True}))
