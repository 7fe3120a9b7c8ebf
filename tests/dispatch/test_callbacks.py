"""Calling abandoned callers back (dispatch/calls/callbacks.py), on SQLite and PostgreSQL: the list, an attempt's
route and steps, the outcome, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from dispatch.calls import callbacks
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.errors import Conflict, Invalid, InvalidTransition
from dispatch.events.service import since
from dispatch.users import service as users

Abandon = Callable[..., Call]


@pytest.fixture
def taker(session: Session) -> int:
    return users.create(
        session=session, username="taker1", password="rahasia-112", role="call_taker", sip_endpoint="taker1"
    ).id


@pytest.fixture
def abandoned(session: Session) -> Abandon:
    def make(caller: str | None = "081234567890", provider: str = "asterisk", channel: str = "c1") -> Call:
        call = calls.offer(session=session, caller=caller, provider=provider, channel_id=channel)
        return calls.end(session=session, call_id=call.id, actor="ari", cause="caller hung up")

    return make


def events(session: Session) -> list[str]:
    return [e.type for e in since(session, 0, limit=500) if e.type.startswith(("callback.", "call.callback"))]


def test_the_route_goes_back_the_way_the_caller_came_and_never_dials_a_simulated_number() -> None:
    assert callbacks.route_for(provider="asterisk", pbx=True, twilio=True) == "pbx"
    assert callbacks.route_for(provider="twilio", pbx=True, twilio=True) == "twilio"
    assert callbacks.route_for(provider="twilio", pbx=True, twilio=False) == "pbx"
    assert callbacks.route_for(provider="manual", pbx=False, twilio=True) == "twilio"
    assert callbacks.route_for(provider="asterisk", pbx=False, twilio=False) == "none"
    assert callbacks.route_for(provider="simulator", pbx=True, twilio=True) == "none"


def test_a_callback_through_the_pbx_is_claimed_once_and_stamped_at_every_step(
    session: Session, taker: int, abandoned: Abandon
) -> None:
    call = abandoned()
    attempt = callbacks.request(
        session=session, call_id=call.id, user_id=taker, actor="taker1", route="pbx", desk="taker1",
        caller_id="+62751112",
    )  # fmt: skip
    assert (attempt.state, attempt.route, attempt.requested_by) == ("requested", "pbx", taker)
    (job,) = callbacks.claim(session=session, actor="asterisk")
    assert (job.id, job.number, job.desk, job.caller_id) == (attempt.id, "+6281234567890", "taker1", "+62751112")
    assert callbacks.claim(session=session, actor="asterisk") == []  # handed out once
    callbacks.advance(session=session, callback_id=attempt.id, state="ringing", ref="chan-1", actor="asterisk")
    callbacks.advance(session=session, callback_id=attempt.id, state="ringing", actor="asterisk")  # told twice
    callbacks.advance(session=session, callback_id=attempt.id, state="answered", actor="asterisk")
    callbacks.advance(session=session, callback_id=attempt.id, state="ended", actor="asterisk")
    session.refresh(attempt)
    assert attempt.state == "answered" and attempt.provider_ref == "chan-1"
    assert attempt.claimed_at and attempt.ringing_at and attempt.answered_at and attempt.ended_at
    assert attempt.requested_at <= attempt.claimed_at <= attempt.ringing_at <= attempt.answered_at
    assert events(session) == ["callback.requested", "callback.ringing", "callback.answered", "callback.ended"]
    with pytest.raises(InvalidTransition, match="callback cannot go from 'answered' to 'busy'"):
        callbacks.advance(session=session, callback_id=attempt.id, state="busy", actor="asterisk")


def test_reaching_the_caller_takes_the_call_off_the_list_and_no_answer_leaves_it_for_another_try(
    session: Session, taker: int, abandoned: Abandon
) -> None:
    call = abandoned()
    first = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="taker1", route="none")
    callbacks.set_outcome(session=session, callback_id=first.id, user_id=taker, actor="taker1", outcome="no_answer")
    (pending,) = callbacks.pending(session=session)
    assert pending.call.id == call.id and [a.outcome for a in pending.attempts] == ["no_answer"]
    second = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="taker1", route="none")
    callbacks.set_outcome(
        session=session, callback_id=second.id, user_id=taker, actor="taker1", outcome="reached",
        note="Salah pencet, tidak darurat",
    )  # fmt: skip
    assert callbacks.pending(session=session) == []
    session.refresh(call)
    assert call.callback_done_at is not None and second.outcome_by == taker and second.note.startswith("Salah")
    assert events(session)[-2:] == ["call.callback_done", "callback.outcome"]
    with pytest.raises(Conflict, match="recorded already"):
        callbacks.set_outcome(session=session, callback_id=second.id, user_id=taker, actor="t", outcome="voicemail")
    with pytest.raises(Conflict, match="called back already"):
        callbacks.request(session=session, call_id=call.id, user_id=taker, actor="taker1", route="none")


def test_a_caller_being_rung_is_not_rung_twice_until_the_attempt_is_over(
    session: Session, taker: int, abandoned: Abandon
) -> None:
    call = abandoned()
    first = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="pbx", desk="taker1")
    with pytest.raises(Conflict, match=f"callback {first.id} to this caller is under way"):
        callbacks.request(session=session, call_id=call.id, user_id=taker, actor="b", route="pbx", desk="taker2")
    callbacks.advance(session=session, callback_id=first.id, state="busy", actor="asterisk")
    session.refresh(first)
    assert first.ended_at is not None
    again = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="pbx", desk="taker1")
    assert again.id != first.id


def test_a_request_the_pbx_never_took_is_not_placed_an_hour_later(
    session: Session, taker: int, abandoned: Abandon
) -> None:
    call = abandoned()
    old = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="pbx", desk="taker1")
    old.requested_at = utcnow() - callbacks.CLAIM_TTL - timedelta(seconds=1)
    session.commit()
    assert callbacks.claim(session=session, actor="asterisk") == []
    assert callbacks.in_progress(session=session, call_id=call.id) is None  # and it holds nobody back


def test_a_number_no_pbx_can_dial_fails_at_once_with_a_reason_in_bahasa(
    session: Session, taker: int, abandoned: Abandon
) -> None:
    call = abandoned(caller="1500")  # a short code the trunk passed through
    attempt = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="pbx", desk="t1")
    assert attempt.state == "failed" and attempt.reason == callbacks.NOT_DIALABLE and attempt.ended_at
    assert callbacks.claim(session=session, actor="asterisk") == []
    by_hand = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="none")
    assert by_hand.state == "requested"  # dialled by hand, the call-taker knows what a short code is


@pytest.mark.parametrize(
    ("caller", "provider", "message"),
    [
        (None, "asterisk", "withheld"),
        ("081234567890", "answered", "only abandoned calls"),
    ],
)
def test_only_abandoned_calls_with_a_number_are_called_back(
    session: Session, taker: int, abandoned: Abandon, caller: str | None, provider: str, message: str
) -> None:
    if provider == "answered":
        call = calls.offer(session=session, caller=caller, provider="asterisk", channel_id="x")
        calls.answer(session=session, call_id=call.id, taker_id=taker, actor="t")
    else:
        call = abandoned(caller=caller)
    with pytest.raises(Invalid, match=message):
        callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="none")
    assert events(session) == []  # nothing half-written


def test_unknown_routes_and_outcomes_are_refused(session: Session, taker: int, abandoned: Abandon) -> None:
    call = abandoned()
    with pytest.raises(Invalid, match="route"):
        callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="carrier-pigeon")
    with pytest.raises(Invalid, match="phone"):
        callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="pbx", desk=None)
    attempt = callbacks.request(session=session, call_id=call.id, user_id=taker, actor="a", route="none")
    with pytest.raises(Invalid, match="outcome"):
        callbacks.set_outcome(session=session, callback_id=attempt.id, user_id=taker, actor="a", outcome="maybe")
    with pytest.raises(Invalid, match="future"):
        callbacks.advance(
            session=session, callback_id=attempt.id, state="ringing", actor="a", at=utcnow() + timedelta(hours=1)
        )
