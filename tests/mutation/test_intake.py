"""What the telephony bridges ask of the core, at the edges the main tests skip: the hints the PBX gets about a
caller (a flagged caller still goes to a person), each step of a call passing on what the bridge said (who, when,
why), repeated steps and delivery reports that change nothing, and which calls a bridge still owns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import intake, queue
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.calls.schemas import CallerStatus, CallOut
from dispatch.clock import as_utc, utcnow
from dispatch.events.models import Event
from dispatch.users import service as users
from ui.context import Ctx

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LOCAL = "+6281300000001"


def earlier(offered_at: datetime, *, classification: str | None = None, incident_id: int | None = None) -> CallOut:
    return CallOut(
        id=1,
        caller=LOCAL,
        provider="asterisk",
        channel_id="c-earlier",
        dialled="112",
        status="ended",
        classification=classification,
        offered_at=offered_at,
        answered_at=None,
        ended_at=None,
        taker_id=None,
        incident_id=incident_id,
        recording_ref=None,
        flagged=False,
        is_text=False,
        text=None,
        notes=None,
        callback_done_at=None,
    )


def status(caller: str | None = LOCAL, *, flagged: bool = False, recent: list[CallOut] | None = None) -> CallerStatus:
    return CallerStatus(
        caller=caller,
        flagged=flagged,
        flagged_until=NOW + timedelta(days=1) if flagged else None,
        prank_or_ghost_recent=3 if flagged else 0,
        calls_total=7,
        incidents=[],
        recent_calls=recent or [],
    )


def events(session: Session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.seq)))


# --- triage: the hints the PBX gets before the call is queued ----------------------------------------------------


def test_a_flagged_caller_goes_to_the_review_desk_not_away() -> None:
    """Flagged, never dropped: even a flagged caller who had an emergency just now is answered, by the desk that
    knows the history."""
    emergency = earlier(NOW - timedelta(minutes=5), classification="emergency")
    triage = intake.triage_of(status(flagged=True, recent=[emergency]), now=NOW)
    assert triage == intake.Triage(True, "low", "id", intake.REVIEW_QUEUE, 7)
    assert triage.variables() == {
        "TANGGAP_FLAGGED": "1",
        "TANGGAP_PRIORITY": "low",
        "TANGGAP_LANG": "id",
        "TANGGAP_QUEUE": "tanggap112-review",
    }


def test_a_caller_back_about_an_emergency_within_the_hour_goes_first() -> None:
    by_class = earlier(NOW - timedelta(minutes=20), classification="emergency")
    by_incident = earlier(NOW - timedelta(minutes=20), incident_id=42)
    on_the_hour = earlier(NOW - intake.RECENT_EMERGENCY, classification="emergency")
    for recent in (by_class, by_incident, on_the_hour):
        assert intake.triage_of(status(recent=[recent]), now=NOW) == intake.Triage(False, "high", "id", intake.QUEUE, 7)


def test_an_old_emergency_or_a_recent_call_about_nothing_is_normal() -> None:
    too_old = earlier(NOW - intake.RECENT_EMERGENCY - timedelta(seconds=1), classification="emergency", incident_id=4)
    nothing = earlier(NOW - timedelta(minutes=2), classification="info")
    unclassified = earlier(NOW - timedelta(minutes=2))
    triage = intake.triage_of(status(recent=[too_old, nothing, unclassified]), now=NOW)
    assert triage == intake.Triage(False, "normal", "id", intake.QUEUE, 7)
    assert intake.triage_of(status(recent=[]), now=NOW).priority == "normal"


def test_the_hour_is_counted_from_now_when_no_time_is_given() -> None:
    just_now = earlier(utcnow() - timedelta(minutes=1), classification="emergency")
    assert intake.triage_of(status(recent=[just_now])).priority == "high"
    long_ago = earlier(NOW - timedelta(minutes=1), classification="emergency")  # NOW is far from today
    assert intake.triage_of(status(recent=[long_ago])).priority == "normal"
    assert intake.triage_of(status(recent=[long_ago]), now=NOW).priority == "high"


def test_foreign_callers_are_greeted_in_english_indonesian_ones_in_indonesian() -> None:
    def language(caller: str | None) -> str:
        return intake.triage_of(status(caller), now=NOW).language

    assert language("+447700900123") == "en"
    assert language("+6281300000001") == "id"
    assert language("081300000001") == "id"  # not normalised: a local number is Indonesian
    assert language(None) == "id"  # withheld


def test_triage_finds_a_flagged_caller_however_the_pbx_writes_the_number(ctx: Ctx, session: Session) -> None:
    for _ in range(3):
        call = calls.offer(session=session, caller=LOCAL, provider="manual", channel_id=None)
        calls.answer(session=session, call_id=call.id, taker_id=None, actor="t")
        calls.classify(
            session=session, call_id=call.id, classification="prank", actor="taker1", policy=ctx.region.policy
        )
    triage = intake.triage(session=session, caller="0813-0000-0001", policy=ctx.region.policy)
    assert (triage.flagged, triage.queue, triage.calls_total) == (True, intake.REVIEW_QUEUE, 3)
    assert intake.triage(session=session, caller=None, policy=ctx.region.policy) == intake.DEFAULT_TRIAGE


# --- each step of a call --------------------------------------------------------------------------------------------


def test_an_offered_call_keeps_what_the_bridge_said(ctx: Ctx) -> None:
    at = utcnow().replace(microsecond=0) - timedelta(seconds=8)
    with ctx.sessions() as session:
        call = intake.offer(
            session=session,
            provider="twilio",
            channel_id="CA-77",
            caller="0813-0000-0001",
            dialled="110",
            at=at,
            actor="twilio-hook",
        )
        call_id = call.id
    with ctx.sessions() as other:  # committed
        row = other.get(Call, call_id)
        assert row is not None
        assert (row.provider, row.channel_id, row.caller, row.dialled, row.is_text, row.text) == (
            "twilio",
            "CA-77",
            LOCAL,
            "110",
            False,
            None,
        )
        assert as_utc(row.offered_at) == at
        [offered] = events(other, "call.offered")
        assert (offered.actor, offered.call_id) == ("twilio-hook", call_id)


def test_a_text_is_offered_as_a_text(ctx: Ctx, session: Session) -> None:
    call = intake.offer(
        session=session,
        provider="sms",
        channel_id="SM-1",
        caller=LOCAL,
        dialled="112",
        at=None,
        actor="sms",
        text="tolong, banjir",
    )
    assert call.is_text and call.text == "tolong, banjir"
    assert intake.live(session=session, provider="sms") == []


def test_a_burst_can_be_offered_in_one_transaction(ctx: Ctx) -> None:
    with ctx.sessions() as session:
        ids = [
            intake.offer(
                session=session,
                provider="asterisk",
                channel_id=f"c{n}",
                caller=LOCAL,
                dialled="112",
                at=None,
                actor="ari",
                commit=False,
            ).id
            for n in range(2)
        ]
        with ctx.sessions() as other:
            assert other.scalars(select(Call)).all() == []  # nothing is written until the burst is
        session.commit()
    with ctx.sessions() as other:
        assert [c.id for c in other.scalars(select(Call).order_by(Call.id))] == ids


def test_a_caller_on_hold_is_told_their_place_and_supervisors_see_it(ctx: Ctx) -> None:
    with ctx.sessions() as session:
        first = calls.offer(
            session=session, caller=LOCAL, provider="asterisk", channel_id="c1", at=utcnow() - timedelta(seconds=9)
        )
        second = calls.offer(session=session, caller=None, provider="asterisk", channel_id="c2")
        assert intake.queued(session=session, call_id=second.id, actor="ari") == 2
        assert intake.queued(session=session, call_id=first.id, actor="ari") == 1
        first_id, second_id = first.id, second.id
    with ctx.sessions() as other:  # committed
        queued = events(other, "call.queued")
    assert [(e.actor, e.call_id, e.data) for e in queued] == [
        ("ari", second_id, {"id": second_id, "position": 2}),
        ("ari", first_id, {"id": first_id, "position": 1}),
    ]


def test_a_call_no_longer_waiting_has_no_place_and_nothing_is_said(ctx: Ctx, session: Session) -> None:
    call = calls.offer(session=session, caller=LOCAL, provider="asterisk", channel_id="c1")
    intake.answered(session=session, call_id=call.id, taker_id=None, actor="console")
    assert intake.queued(session=session, call_id=call.id, actor="ari") is None
    assert events(session, "call.queued") == []


def make_taker(session: Session, name: str) -> int:
    user = users.create(session=session, username=name, password="rahasia-112", role="call_taker", sip_endpoint=name)
    users.set_available(session=session, user=user, available=True)
    return user.id


def test_an_answer_says_who_answered_and_when_and_a_repeat_changes_nothing(ctx: Ctx, session: Session) -> None:
    one, two = make_taker(session, "taker1"), make_taker(session, "taker2")
    call = calls.offer(session=session, caller=LOCAL, provider="asterisk", channel_id="c1")
    at = utcnow().replace(microsecond=0) - timedelta(seconds=30)  # a step the bridge kept while the server was away
    answered = intake.answered(session=session, call_id=call.id, taker_id=one, actor="ari", at=at)
    again = intake.answered(session=session, call_id=call.id, taker_id=two, actor="console")
    assert answered.id == again.id == call.id
    assert (again.status, again.taker_id, as_utc(again.answered_at or NOW)) == ("answered", one, at)
    [event] = events(session, "call.answered")
    assert (event.actor, event.call_id, event.data["taker_id"]) == ("ari", call.id, one)


def test_the_end_of_a_call_says_when_and_why_and_frees_its_taker(ctx: Ctx) -> None:
    with ctx.sessions() as session:
        one = make_taker(session, "taker1")
        call = calls.offer(session=session, caller=LOCAL, provider="asterisk", channel_id="c1")
        call_id = call.id
        queue.claim(session=session, provider="asterisk", actor="ari")
        intake.answered(session=session, call_id=call_id, taker_id=one, actor="ari")
        at = utcnow() + timedelta(seconds=1)
        ended = intake.finish(session=session, call_id=call_id, actor="ari", cause="caller", at=at)
        assert (ended.id, ended.status, as_utc(ended.ended_at or NOW)) == (call_id, "ended", at)
        again = intake.finish(session=session, call_id=call_id, actor="ari", cause="again", at=at + timedelta(hours=1))
        assert as_utc(again.ended_at or NOW) == at  # the first end stands
    with ctx.sessions() as session:
        [event] = events(session, "call.ended")
        assert (event.actor, event.call_id, event.data["cause"]) == ("ari", call_id, "caller")
        [freed] = [e for e in events(session, "taker.available") if e.data.get("reason") == "call_ended"]
        assert (freed.actor, freed.data["user_id"], freed.data["available"]) == ("ari", one, True)


def test_a_bridge_owns_its_own_voice_calls_still_ringing_or_talking(ctx: Ctx, session: Session) -> None:
    def offer(provider: str, channel: str, ago_s: int, **kw: Any) -> int:
        at = utcnow() - timedelta(seconds=ago_s)
        return calls.offer(session=session, caller=LOCAL, provider=provider, channel_id=channel, at=at, **kw).id

    talking = offer("asterisk", "c-talking", 30)
    ringing = offer("asterisk", "c-ringing", 10)
    over = offer("asterisk", "c-over", 20)
    offer("twilio", "CA-1", 25)
    offer("asterisk", "c-text", 15, text="tolong")
    intake.answered(session=session, call_id=talking, taker_id=None, actor="ari")
    intake.finish(session=session, call_id=over, actor="ari", cause="caller")
    assert [c.id for c in intake.live(session=session, provider="asterisk")] == [talking, ringing]


# --- delivery reports --------------------------------------------------------------------------------------------


def sms(session: Session, kind: str, data: dict[str, object], **where: Any) -> None:
    intake.sms_event(session=session, kind=kind, actor="twilio", data=data, **where)


def test_a_delivery_report_posted_twice_is_recorded_once(ctx: Ctx) -> None:
    for where in (
        {"unit_id": 5, "incident_id": None},
        {"unit_id": None, "incident_id": 9},
        {"unit_id": 5, "incident_id": 9},
    ):
        with ctx.sessions() as session:
            for kind in ("sms.sent", "sms.status", "sms.status"):
                sms(session, kind, {"message_sid": f"SM-{where}", "status": "delivered"}, **where)
    with ctx.sessions() as session:  # committed
        recorded = events(session, "sms.status")
        sent = events(session, "sms.sent")
    assert len(recorded) == len(sent) == 3
    assert [(e.actor, e.unit_id, e.incident_id) for e in recorded] == [
        ("twilio", 5, None),
        ("twilio", None, 9),
        ("twilio", 5, 9),
    ]
    assert recorded[0].data == {"message_sid": "SM-{'unit_id': 5, 'incident_id': None}", "status": "delivered"}


def test_each_new_state_of_a_message_is_recorded(ctx: Ctx, session: Session) -> None:
    for state in ("queued", "sent", "delivered"):
        sms(session, "sms.status", {"message_sid": "SM-1", "status": state}, unit_id=5)
    sms(session, "sms.status", {"message_sid": "SM-2", "status": "delivered"}, unit_id=5)
    assert [(e.data["message_sid"], e.data["status"]) for e in events(session, "sms.status")] == [
        ("SM-1", "queued"),
        ("SM-1", "sent"),
        ("SM-1", "delivered"),
        ("SM-2", "delivered"),
    ]


def test_reports_without_a_message_id_or_an_owner_are_all_recorded(ctx: Ctx, session: Session) -> None:
    for _ in range(2):
        sms(session, "sms.failed", {"to": "+62812****890", "error": "TimeoutError"}, unit_id=5)
        sms(session, "sms.status", {"message_sid": "SM-9", "status": "failed"})
    assert len(events(session, "sms.failed")) == 2
    assert len(events(session, "sms.status")) == 2
