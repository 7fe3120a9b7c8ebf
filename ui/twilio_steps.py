"""The database step of each Twilio webhook, as a function of the webhook alone (`Hook`: its form, query and the
time it came in), so that a step kept in the journal while the database was down (ui/twilio_journal.py) is
replayed later by the very code that would have run then, at the time it came in.

Every step is idempotent by Twilio's references (CallSid, MessageSid): a webhook Twilio posts twice, or an
entry replayed twice after a crash, changes nothing the second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dispatch.calls import intake, locations, messages, queue
from dispatch.calls import service as calls
from dispatch.calls.fallback import SOURCE as DESKS
from dispatch.calls.service import CallBrief, Ringing
from dispatch.clock import as_utc
from dispatch.errors import NotFound
from dispatch.major import service as major
from dispatch.users.models import User
from telephony import aml, twilio_voice

log = logging.getLogger(__name__)
ACTOR = "twilio"
ENTRY_VERSION = 1


@dataclass(frozen=True)
class Hook:
    """One Twilio webhook as it came in: what its step reads, and what the journal keeps of it."""

    route: str  # voice, wait, queue-exit, client-status, dial, status, sms, sms-status
    form: dict[str, str]
    query: dict[str, str]
    at: datetime  # when it came in (UTC); a replay records this time, not its own
    desks: bool = False  # voice: answered by ringing the desk phones (the database could not be asked)

    @property
    def sid(self) -> str:
        """Twilio's reference of what it is about: the caller's call (a <Client> leg's parent), or the SMS."""
        form = self.form
        return form.get("ParentCallSid") or form.get("CallSid") or form.get("MessageSid") or ""

    def number(self, name: str) -> int | None:
        """An id of ours in the callback URL (`call_id`, `taker_id`, ...); the route checked it is an int."""
        value = self.query.get(name)
        return int(value) if value is not None else None

    def seconds(self, name: str) -> timedelta:
        """A duration Twilio reports in whole seconds (QueueTime, DialCallDuration, CallDuration); 0 if absent."""
        value = self.form.get(name, "")
        return timedelta(seconds=int(value)) if value.isdigit() else timedelta(0)

    def entry(self) -> dict[str, Any]:
        return {"v": ENTRY_VERSION, "route": self.route, "at": self.at.isoformat(), "sid": self.sid,
                "desks": self.desks, "form": self.form, "query": self.query}  # fmt: skip

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Hook:
        form, query = entry["form"], entry["query"]
        if entry["route"] not in STEPS or not isinstance(form, dict) or not isinstance(query, dict):
            raise ValueError(f"not a Twilio webhook entry: route {entry['route']!r}")
        at = as_utc(datetime.fromisoformat(entry["at"]))
        strings = {str(k): str(v) for k, v in form.items()}
        return cls(entry["route"], strings, {str(k): str(v) for k, v in query.items()}, at, bool(entry.get("desks")))


@dataclass(frozen=True)
class Seek:
    """Where a queued caller stands: a call-taker reserved for them (id, Twilio Client identity), else their
    place in the queue."""

    call_id: int | None
    taker: tuple[int, str] | None
    position: int | None


def voice(session: Session, hook: Hook) -> CallBrief:
    """A call to the 112 number: recorded as ringing since the webhook came in. Idempotent by CallSid."""
    ringing = Ringing(hook.form.get("From"), "twilio", hook.sid, hook.form.get("To"), hook.at,
                      source=DESKS if hook.desks else None)  # fmt: skip
    (offered,) = calls.offer_many(session=session, ringing=[ringing], actor=ACTOR)
    session.commit()
    return offered


def seek(session: Session, hook: Hook) -> Seek:
    """The queue's waitUrl and its <Enqueue> action: is a call-taker reserved for this caller (claiming ready
    takers for the head of the queue if not)?"""
    call_id = _call_of(session, hook, offer=True)
    if call_id is None:
        return Seek(None, None, None)
    taker = _reserved(session, call_id)
    if taker is not None:
        return Seek(call_id, taker, None)
    return Seek(call_id, None, queue.position(session=session, call_id=call_id))


def client_status(session: Session, hook: Hook) -> None:
    """The call-taker's Twilio Client answered: the call is answered, since then."""
    if hook.form.get("CallStatus") not in ("in-progress", "answered"):
        return
    call_id = _call_of(session, hook, offer=False)
    if call_id is not None:
        intake.answered(session=session, call_id=call_id, taker_id=hook.number("taker_id"), actor=ACTOR, at=hook.at)


def dial(session: Session, hook: Hook) -> int | None:
    """The <Dial> action. A call-taker's Client that did not answer: back to the queue, the taker stays
    unavailable. A desk phone (the fallback while the database was down) that answered: the call was answered
    when the conversation began. Answers the call's id, for the caller's next TwiML."""
    status = hook.form.get("DialCallStatus", "")
    call_id, taker_id = _call_of(session, hook, offer=False), hook.number("taker_id")
    if call_id is None:
        return None
    if status in ("completed", "answered"):
        if taker_id is None:
            began = hook.at - hook.seconds("DialCallDuration")
            intake.answered(session=session, call_id=call_id, taker_id=None, actor=ACTOR, at=began)
        return call_id
    if taker_id is not None and _reserved_for(session, call_id, taker_id):
        queue.requeue(session=session, call_id=call_id, taker_id=taker_id, reason=f"twilio {status or 'failed'}",
                      taker_available=False, actor=ACTOR)  # fmt: skip
    return call_id


def status(session: Session, hook: Hook) -> None:
    """The call's status callback: completed, no-answer, busy, failed or canceled end it, when it ended."""
    state = hook.form.get("CallStatus", "")
    if state not in twilio_voice.ENDED:
        return
    call = calls.get_by_channel(session=session, provider="twilio", channel_id=hook.sid)
    if call is None and hook.sid and hook.form.get("From"):
        # Its voice webhook was lost (the database down and the journal unwritable): the caller still called
        # 112, and is on the callback list unless a call-taker answered.
        began = hook.at - hook.seconds("CallDuration")
        call_id = voice(session, replace(hook, route="voice", at=began)).id
    elif call is None:
        return
    else:
        call_id = call.id
    intake.finish(session=session, call_id=call_id, actor=ACTOR, cause=f"twilio {state}", at=hook.at)


def sms(session: Session, hook: Hook) -> bool:
    """SMS to 112: an AML location report, or a text call. True for the first text of a conversation (it is
    acknowledged)."""
    form = hook.form
    body, sender, sid = form.get("Body", ""), form.get("From"), form.get("MessageSid", "")
    if aml.is_aml(body):
        _aml_report(session, sender, body, sid, hook.at)
        return False
    _, new = messages.receive(session=session, provider="sms", message_id=sid, caller=sender, dialled=form.get("To"),
                              text=body, actor=ACTOR, at=hook.at)  # fmt: skip
    return new


def sms_status(session: Session, hook: Hook) -> None:
    """A delivery report: of a call-taker's reply to a text caller (its own record), or of an alert to a unit."""
    form, state = hook.form, hook.form.get("MessageStatus", "")
    reply_id = hook.number("reply_id")
    if reply_id is not None:
        code = form.get("ErrorCode")
        messages.mark(session=session, message_id=reply_id, status=state, actor=ACTOR,
                      error=f"Twilio {code}" if code else None)  # fmt: skip
        return
    unit_id = hook.number("unit_id")
    data: dict[str, object] = {"message_sid": form.get("MessageSid"), "status": state,
                               "error_code": form.get("ErrorCode"), "unit_id": unit_id,
                               "assignment_id": hook.number("assignment_id")}  # fmt: skip
    intake.sms_event(session=session, kind="sms.status", actor=ACTOR, data=data,
                     incident_id=hook.number("incident_id"), unit_id=unit_id)  # fmt: skip


def major_now(session: Session, hook: Hook) -> tuple[int, str] | None:
    """The major incident in force (id, name), announced to every caller while it lasts. Only a read."""
    found = major.active(session=session)
    return (found.id, found.name) if found is not None else None


def choice(session: Session, hook: Hook) -> int | None:
    """The caller's key at the major incident's announcement (`Digits`), kept on the call; answers the choice.
    During the information (`info` in the URL) only 1 or 2 change it. A call not found keeps the caller on the
    line all the same: the queue counts a call without a choice as 1."""
    digits = hook.form.get("Digits", "")
    if hook.number("info") is not None and digits not in ("1", "2"):
        return None  # 0 (a person), or noise: the caller is queued as they chose
    picked = twilio_voice.choice_of(digits)
    call_id = _call_of(session, hook, offer=False)
    if call_id is not None and picked is not None:
        try:
            major.record_choice(session=session, call_id=call_id, choice=picked, actor=ACTOR)
        except NotFound:
            log.warning("choice for call %s, which is not on record", call_id)
    return picked


STEPS: dict[str, Callable[[Session, Hook], Any]] = {
    "voice": voice,
    "wait": seek,
    "queue-exit": seek,
    "client-status": client_status,
    "dial": dial,
    "status": status,
    "sms": sms,
    "sms-status": sms_status,
    "major": major_now,
    "choice": choice,
}
# What the journal keeps when the database cannot be reached. Not the queue's waitUrl and action: they record
# nothing, only ask, and Twilio asks again within seconds (the hold TwiML ends, or the caller is queued again).
JOURNALED = frozenset(STEPS) - {"wait", "queue-exit", "major"}


def _call_of(session: Session, hook: Hook, *, offer: bool) -> int | None:
    """The call a callback is about: `call_id` in its URL, else by Twilio's CallSid (a caller greeted while the
    database was down has no id in the URLs). `offer`: a caller in our queue whose voice webhook was lost (the
    journal unwritable) is recorded now, as ringing since they were queued (QueueTime)."""
    call_id = hook.number("call_id")
    if call_id is not None or not hook.sid:
        return call_id
    call = calls.get_by_channel(session=session, provider="twilio", channel_id=hook.sid)
    if call is not None:
        return call.id
    if not offer:
        return None
    return voice(session, replace(hook, route="voice", at=hook.at - hook.seconds("QueueTime"))).id


def _reserved(session: Session, call_id: int) -> tuple[int, str] | None:
    """The taker reserved for this call, claiming ready takers for the head of the queue if needed."""
    found = queue.reservations(session=session, call_ids=[call_id]).get(call_id)
    if found is None:
        queue.claim(session=session, provider="twilio", actor=ACTOR)
        found = queue.reservations(session=session, call_ids=[call_id]).get(call_id)
    if found is None:
        return None
    taker = session.get(User, found.taker_id)
    return (found.taker_id, taker.sip_endpoint or taker.username) if taker else None


def _reserved_for(session: Session, call_id: int, taker_id: int) -> bool:
    """Is this taker still the one reserved for the call? Once requeued it is not: a dial result told twice
    requeues once."""
    found = queue.reservations(session=session, call_ids=[call_id], ttl=timedelta(days=1)).get(call_id)
    return found is not None and found.taker_id == taker_id


def _aml_report(session: Session, sender: str | None, body: str, sid: str, at: datetime) -> None:
    """Keep the report, raw text included, whatever its shape: a parser bug must not lose a caller's fix."""
    fix: aml.AmlFix | None = None
    error: str | None = None
    try:
        fix = aml.parse(body, now=at)
    except aml.AmlError as exc:
        error = str(exc)
        log.warning("malformed AML SMS %s: %s", sid, error)  # never the number or the location
    except Exception as exc:
        error = "AML message could not be read"
        log.error("AML SMS %s could not be read (%s); kept raw", sid, type(exc).__name__)
    locations.report(
        session=session,
        caller=sender,
        source="aml",
        lat=fix.lat if fix else None,
        lon=fix.lon if fix else None,
        accuracy_m=fix.accuracy_m if fix else None,
        fix_at=fix.fix_at if fix else None,
        raw=body,
        actor=ACTOR,
        error=error,
        at=at,
    )
