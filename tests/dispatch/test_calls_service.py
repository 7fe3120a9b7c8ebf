"""Calls and the repeat-abuse policy, on a real database (SQLite and PostgreSQL)."""

from sqlalchemy.orm import Session

from dispatch.calls import abuse
from dispatch.calls import service as calls
from dispatch.events.bus import Published
from ui.context import Ctx


def test_offering_a_channel_twice_keeps_one_call(session: Session) -> None:
    a = calls.offer(session=session, caller="0812 1111 2222", provider="asterisk", channel_id="1795334438.0")
    b = calls.offer(session=session, caller="0812 1111 2222", provider="asterisk", channel_id="1795334438.0")
    assert a.id == b.id and a.caller == "+6281211112222"


def test_unanswered_hangup_is_abandoned_and_on_the_callback_list(session: Session) -> None:
    call = calls.offer(session=session, caller="081299990000", provider="asterisk", channel_id="c1")
    calls.end(session=session, call_id=call.id, actor="ari", cause="caller hung up")
    calls.end(session=session, call_id=call.id, actor="ari")  # StasisEnd after ChannelHangupRequest
    assert call.classification == "abandoned"
    assert [c.id for c in calls.callbacks(session=session)] == [call.id]


def test_three_pranks_flag_the_caller_who_still_gets_through(ctx: Ctx, session: Session) -> None:
    policy = ctx.region.policy
    for n in range(3):
        call = calls.offer(session=session, caller="+6281300000001", provider="manual", channel_id=f"p{n}")
        calls.answer(session=session, call_id=call.id, taker_id=None, actor="t")
        calls.classify(session=session, call_id=call.id, classification="prank", actor="t", policy=policy)
    status = abuse.status(session=session, caller="+6281300000001", policy=policy)
    assert status.flagged and status.prank_or_ghost_recent == 3
    fourth = calls.offer(session=session, caller="0813 0000 0001", provider="manual", channel_id="p4")
    assert fourth.flagged and fourth.status == "offered"  # flagged, never dropped


def test_events_are_published_after_commit_only(ctx: Ctx) -> None:
    seen: list[Published] = []
    unsubscribe = ctx.bus.subscribe(seen.append)
    with ctx.sessions() as session:
        calls.offer(session=session, caller="0812", provider="manual", channel_id="x")
    with ctx.sessions() as session:
        from dispatch.events.service import record

        record(session, "test.rolled_back", actor="t", data={})
        session.rollback()
    unsubscribe()
    assert [e.type for e in seen] == ["call.offered"]
