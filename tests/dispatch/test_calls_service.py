"""Calls and the repeat-abuse policy, on a real database (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from dispatch.calls import abuse, intake, locations
from dispatch.calls import service as calls
from dispatch.clock import utcnow
from dispatch.errors import Invalid
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


def test_a_burst_is_offered_at_once_in_order_with_one_event_per_new_call(ctx: Ctx) -> None:
    """`offer_many`: the same rules as `offer` (a known channel is not offered again, a flagged caller is
    marked), each call once, events published in sequence order after the one commit."""
    seen: list[Published] = []
    unsubscribe = ctx.bus.subscribe(seen.append)
    with ctx.sessions() as session:
        known = calls.offer(session=session, caller="0812 0000 0000", provider="asterisk", channel_id="c-known")
        until = utcnow() + timedelta(days=1)
        session.add(abuse.CallerFlag(caller="+6281300000009", flagged_at=utcnow(), until=until, count=3, reason="t"))
        session.commit()
        seen.clear()
        ringing = [calls.Ringing(f"0812 5555 {n:04d}", "asterisk", f"c{n}") for n in range(40)]
        ringing[7] = calls.Ringing("0813 0000 0009", "asterisk", "c7")  # flagged: marked, still offered
        ringing.insert(3, calls.Ringing("0812 0000 0000", "asterisk", "c-known"))  # offered before: same record
        ringing.append(calls.Ringing("0812 5555 0001", "asterisk", "c1"))  # twice in one burst: one call
        offered = calls.offer_many(session=session, ringing=ringing, actor="ari")
        assert not seen  # nothing is published before the commit
        session.commit()
    unsubscribe()
    assert [c.channel_id for c in offered] == [r.channel_id for r in ringing]
    assert offered[3].id == known.id and offered[-1].id == offered[1].id
    assert [c.flagged for c in offered].count(True) == 1 and offered[8].flagged  # c7, after the insert at 3
    assert [e.type for e in seen] == ["call.offered"] * 40
    assert [e.seq for e in seen] == sorted(e.seq for e in seen)
    assert {e.data["channel_id"] for e in seen} == {f"c{n}" for n in range(40)}
    assert all(e.call_id == e.data["id"] for e in seen)


def test_the_same_channel_id_from_two_providers_is_two_calls(session: Session) -> None:
    ringing = [calls.Ringing("0812 1111 0001", "asterisk", "CA1"), calls.Ringing("0812 1111 0002", "twilio", "CA1")]
    first = calls.offer_many(session=session, ringing=ringing, actor="t")
    again = calls.offer_many(session=session, ringing=list(reversed(ringing)), actor="t")
    assert first[0].id != first[1].id
    assert [c.id for c in again] == [first[1].id, first[0].id]


def _aml(session: Session, caller: str) -> int | None:
    row = locations.report(
        session=session, caller=caller, source="aml", lat=-0.95, lon=100.35, accuracy_m=8.0, fix_at=None,
        raw='A"ML=2;...', actor="twilio",
    )  # fmt: skip
    return row.call_id


def test_aml_joins_the_live_call_or_one_just_ended_never_an_old_one(session: Session) -> None:
    caller = "081277776666"
    old = calls.offer(session=session, caller=caller, provider="asterisk", channel_id="old")
    calls.end(session=session, call_id=old.id, actor="ari", at=utcnow() - timedelta(hours=3))
    assert _aml(session, caller) is None  # kept, but it says nothing about a call of three hours ago
    live = calls.offer(session=session, caller=caller, provider="asterisk", channel_id="live")
    assert _aml(session, caller) == live.id
    calls.end(session=session, call_id=live.id, actor="ari", at=utcnow() - timedelta(minutes=2))
    assert _aml(session, caller) == live.id  # the SMS came just after the hang-up
    assert _aml(session, "081200000000") is None


def test_an_extension_is_stored_apart_and_the_callers_history_is_the_numbers(ctx: Ctx, session: Session) -> None:
    """Security finding 8: the extension's digits were appended, making 'ext 5' another caller with no history."""
    policy = ctx.region.policy
    first = calls.offer(session=session, caller="+62 812-3456-7890 ext 5", provider="manual", channel_id="e1")
    assert (first.caller, first.caller_ext, first.caller_raw) == ("+6281234567890", "5", "+62 812-3456-7890 ext 5")
    second = calls.offer(session=session, caller="0812-3456-7890 pes. 12", provider="manual", channel_id="e2")
    plain = calls.offer(session=session, caller="081234567890", provider="manual", channel_id="e3")
    assert (second.caller, second.caller_ext) == ("+6281234567890", "12")
    assert (plain.caller, plain.caller_ext) == ("+6281234567890", None)
    assert abuse.status(session=session, caller="+6281234567890", policy=policy).calls_total == 3
    assert calls.data(first)["caller_ext"] == "5"


def test_an_answer_or_end_dated_ahead_is_held_to_the_centres_own_clock_skew(session: Session) -> None:
    """TANGGAP_CLOCK_SKEW_S of one minute: a bridge's answer or end dated two minutes ahead is refused (its clock is
    wrong, the record would be), where the default five minutes would let both through; nothing is written."""
    call = calls.offer(session=session, caller="081234567890", provider="asterisk", channel_id="c-skew")
    ahead, skew = utcnow() + timedelta(minutes=2), timedelta(minutes=1)
    with pytest.raises(Invalid, match="lies in the future"):
        intake.answered(session=session, call_id=call.id, taker_id=None, actor="bridge", at=ahead, skew=skew)
    with pytest.raises(Invalid, match="lies in the future"):
        intake.finish(session=session, call_id=call.id, actor="bridge", cause="hangup", at=ahead, skew=skew)
    session.rollback()
    assert calls.get(session=session, call_id=call.id).status == "offered"
