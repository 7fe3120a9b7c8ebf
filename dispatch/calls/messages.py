"""Text calls as conversations: the caller's SMS and the call-taker's replies, in order, on the call.

A caller who cannot speak texts 112. Their next SMS while that text call is live joins it, so the call-taker
reads one conversation instead of a new call ringing for every message. A reply is written as `sending`
before it goes, and marked `sent` or `failed` after: whatever the SMS provider does, the log says what the
caller was told.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.models import Call, CallMessage
from dispatch.calls.schemas import MessageOut
from dispatch.clock import utcnow
from dispatch.errors import Invalid
from dispatch.events.service import record
from dispatch.lifecycle import LIVE_CALL
from dispatch.phone import normalise

# Twilio's MessageStatus values that a delivery report may bring for a reply, in the order a reply goes
# through them. Twilio does not promise its callbacks arrive in order (and `delivered` can even beat our own
# `sent`), so a report of an earlier step than the one recorded is stale and changes nothing.
STEP = {"sending": 0, "queued": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3, "read": 4}


def data(message: CallMessage) -> dict[str, object]:
    return MessageOut.model_validate(message).model_dump(mode="json")


def for_call(*, session: Session, call_id: int) -> Sequence[CallMessage]:
    return session.scalars(
        select(CallMessage).where(CallMessage.call_id == call_id).order_by(CallMessage.at, CallMessage.id)
    ).all()


def _live_text_call(session: Session, number: str | None) -> Call | None:
    if number is None:
        return None
    return session.scalar(
        select(Call)
        .where(Call.caller == number, Call.status.in_(LIVE_CALL), Call.is_text.is_(True))
        .order_by(Call.id.desc())
        .limit(1)
    )


def receive(
    *,
    session: Session,
    provider: str,
    message_id: str,
    caller: str | None,
    dialled: str | None,
    text: str,
    actor: str,
    at: datetime | None = None,
) -> tuple[Call, bool]:
    """An SMS to 112: the next text of the sender's live text call, else a new text call. Returns the call and
    whether it is new. The same message twice (a webhook retried, or replayed from the Twilio journal) is one
    message. `at`: when it came, if before now (a journal replays it once the database is back). Commits."""
    known = session.scalar(select(CallMessage).where(CallMessage.provider_ref == message_id)) if message_id else None
    if known is not None:
        return calls.get(session=session, call_id=known.call_id), False
    call = _live_text_call(session, normalise(caller))
    new = call is None
    if call is None:
        call = calls.offer(
            session=session, caller=caller, provider=provider, channel_id=message_id or None, dialled=dialled,
            at=at, text=text, actor=actor, commit=False,
        )  # fmt: skip
    _add(session, call, direction="in", body=text, status="received", actor=actor, ref=message_id or None, at=at)
    session.commit()
    return call, new


def draft_reply(*, session: Session, call_id: int, text: str, author: str) -> CallMessage:
    """A call-taker's reply, written (`sending`) before it is sent. Commits."""
    call = calls.get(session=session, call_id=call_id)
    if not call.is_text:
        raise Invalid(f"call {call_id} is a voice call; replies go to text calls")
    if call.caller is None:
        raise Invalid(f"call {call_id} has no number to reply to")
    message = _add(session, call, direction="out", body=text, status="sending", actor=author, author=author)
    session.commit()
    return message


def mark(
    *, session: Session, message_id: int, status: str, actor: str, ref: str | None = None, error: str | None = None
) -> CallMessage:
    """What became of a reply: sent (with the provider's id), failed, or a later delivery report. A report
    older than the recorded state is ignored. Commits."""
    message = session.get(CallMessage, message_id)
    if message is None or message.direction != "out":
        raise Invalid(f"no reply {message_id}")
    if status not in STEP:
        raise Invalid(f"unknown message status {status[:20]!r}")
    if ref is not None:
        message.provider_ref = ref
    if STEP[status] < STEP[message.status] or (status, error) == (message.status, message.error):
        session.commit()  # the provider's id is kept; the later state (or this one, told twice) stands
        return message
    message.status, message.error = status, error
    call = calls.get(session=session, call_id=message.call_id)
    _log(session, call, message, actor)
    session.commit()
    return message


def _log(session: Session, call: Call, message: CallMessage, actor: str) -> None:
    """Every step of a text is a `call.message` event: consoles follow the conversation, the log keeps it."""
    record(session, "call.message", actor=actor, data=data(message), call_id=call.id, incident_id=call.incident_id)


def _add(
    session: Session,
    call: Call,
    *,
    direction: str,
    body: str,
    status: str,
    actor: str,
    ref: str | None = None,
    author: str | None = None,
    at: datetime | None = None,
) -> CallMessage:
    message = CallMessage(
        call_id=call.id, direction=direction, body=body, at=at or utcnow(), author=author, provider_ref=ref,
        status=status,
    )  # fmt: skip
    session.add(message)
    session.flush()
    _log(session, call, message, actor)
    return message
