"""ACD matching and reservations in `dispatch.calls.queue`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from dispatch.calls import intake, queue
from dispatch.calls import service as calls
from dispatch.clock import utcnow
from dispatch.events.service import since
from tests.telephony.conftest import taker_ready
from ui.context import Ctx


def offer(ctx: Ctx, channel: str, *, provider: str = "asterisk", ago_s: float = 0, text: str | None = None) -> int:
    with ctx.sessions() as session:
        call = calls.offer(
            session=session,
            caller="081234567890",
            provider=provider,
            channel_id=channel,
            at=utcnow() - timedelta(seconds=ago_s),
            text=text,
            actor="test",
        )
        return call.id


def test_oldest_call_goes_to_taker_idle_longest(ctx: Ctx, make_taker: Callable[..., int]) -> None:
    first, second = make_taker("taker1"), make_taker("taker2")
    young, old = offer(ctx, "c-young", ago_s=1), offer(ctx, "c-old", ago_s=30)
    with ctx.sessions() as session:
        matches = queue.claim(session=session, provider="asterisk", actor="acd")
    assert [(m.call_id, m.taker_id, m.endpoint) for m in matches] == [(old, first, "taker1"), (young, second, "taker2")]
    assert not taker_ready(ctx, first) and not taker_ready(ctx, second)


def test_a_reserved_call_is_not_offered_to_a_second_taker(ctx: Ctx, make_taker: Callable[..., int]) -> None:
    make_taker("taker1")
    call_id = offer(ctx, "c1")
    with ctx.sessions() as session:
        assert len(queue.claim(session=session, provider="asterisk", actor="acd")) == 1
    make_taker("taker2")
    with ctx.sessions() as session:
        assert queue.claim(session=session, provider="asterisk", actor="acd") == []
        assert queue.snapshot(session=session).calls[0].connecting_to is not None
        assert queue.position(session=session, call_id=call_id) == 1


def test_stale_reservation_expires_so_no_caller_is_forgotten(ctx: Ctx, make_taker: Callable[..., int]) -> None:
    make_taker("taker1")
    offer(ctx, "c1")
    with ctx.sessions() as session:
        queue.claim(session=session, provider="asterisk", actor="acd")
    make_taker("taker2")
    with ctx.sessions() as session:
        again = queue.claim(session=session, provider="asterisk", actor="acd", ttl=timedelta(0))
    assert [m.endpoint for m in again] == ["taker2"]


def test_queue_is_first_come_first_served_across_providers(ctx: Ctx, make_taker: Callable[..., int]) -> None:
    make_taker("taker1")
    twilio_call = offer(ctx, "CA1", provider="twilio", ago_s=20)
    offer(ctx, "c1", ago_s=5)
    with ctx.sessions() as session:
        assert queue.claim(session=session, provider="asterisk", actor="acd") == []
        matches = queue.claim(session=session, provider="twilio", actor="twilio")
    assert [m.call_id for m in matches] == [twilio_call]


def test_text_calls_and_takers_without_phone_are_not_routed(ctx: Ctx, make_taker: Callable[..., int]) -> None:
    make_taker("")
    offer(ctx, "sms-1", provider="sms", text="tolong, ada kebakaran")
    offer(ctx, "c1")
    with ctx.sessions() as session:
        assert queue.claim(session=session, provider="asterisk", actor="acd") == []
        assert [c.provider for c in queue.snapshot(session=session).calls] == ["asterisk"]


def test_no_answer_requeues_and_keeps_taker_unavailable(ctx: Ctx, make_taker: Callable[..., int]) -> None:
    taker = make_taker("taker1")
    call_id = offer(ctx, "c1")
    with ctx.sessions() as session:
        queue.claim(session=session, provider="asterisk", actor="acd")
        queue.requeue(
            session=session, call_id=call_id, taker_id=taker, reason="no_answer", taker_available=False, actor="acd"
        )
        assert queue.snapshot(session=session).calls[0].connecting_to is None
        events = [(e.type, e.data.get("reason")) for e in since(session, 0)]
    assert not taker_ready(ctx, taker)
    assert events[-2:] == [("call.requeued", "no_answer"), ("taker.available", "no_answer")]  # the console is told


def test_taker_is_ready_again_after_the_call_unless_they_changed_status(
    ctx: Ctx, make_taker: Callable[..., int]
) -> None:
    one, two = make_taker("taker1"), make_taker("taker2")
    first, second = offer(ctx, "c1", ago_s=2), offer(ctx, "c2")
    with ctx.sessions() as session:
        queue.claim(session=session, provider="asterisk", actor="acd")
        intake.answered(session=session, call_id=first, taker_id=one, actor="acd")
        intake.answered(session=session, call_id=second, taker_id=two, actor="acd")
        from dispatch.users import service as users

        # taker2 says "not now" during the call, then changes their mind twice: their choice stands
        users.set_available(session=session, user=users.get(session=session, user_id=two), available=True)
        users.set_available(session=session, user=users.get(session=session, user_id=two), available=False)
        intake.finish(session=session, call_id=first, actor="acd", cause="caller")
        intake.finish(session=session, call_id=second, actor="acd", cause="caller")
        intake.finish(session=session, call_id=first, actor="acd", cause="again")
    assert taker_ready(ctx, one) and not taker_ready(ctx, two)
