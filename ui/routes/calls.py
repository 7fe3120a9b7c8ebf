"""Calls: the live list, caller history, answering, classifying, ending, callbacks, location reports."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from dispatch.bounds import Id
from dispatch.calls import abuse, locations, messages, transcript
from dispatch.calls import service as calls
from dispatch.calls.schemas import CallerStatus, CallIn, CallOut, ClassifyIn, LocationOut, ReplyIn
from dispatch.phone import normalise
from dispatch.users import service as users
from telephony import twilio_voice
from telephony.sms import Send, status_callback, twilio_sender
from ui import idempotent, simulator
from ui.context import Ctx
from ui.deps import DB, CtxDep, Staff, Supervisor, Taker, shown
from ui.routes.auth import me_data

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["calls"])


def _out(call: Any) -> dict[str, Any]:
    return CallOut.model_validate(call).model_dump(mode="json")


@router.get("/calls")
def list_calls(ctx: CtxDep, db: DB, user: Staff, active: bool = True, limit: int = Query(100, ge=1, le=500)) -> Any:
    rows = calls.active(session=db) if active else calls.recent(session=db, limit=limit)
    return shown(ctx, user, [_out(c) for c in rows])


@router.post("/calls", status_code=201)
def offer_call(body: CallIn, request: Request, ctx: CtxDep, db: DB, user: Taker) -> Any:
    """Record a call by hand (a call-taker's second phone, a radio report) or from a simulator."""

    def action() -> Any:
        call = calls.offer(
            session=db,
            caller=body.caller,
            provider=body.provider,
            channel_id=body.channel_id,
            dialled=body.dialled,
            text=body.text,
            actor=user.username,
        )
        return shown(ctx, user, _out(call))

    return idempotent.run(request, db, user, action, status=201)


@router.get("/calls/callbacks")
def callback_list(ctx: CtxDep, db: DB, user: Staff) -> Any:
    return shown(ctx, user, [_out(c) for c in calls.callbacks(session=db)])


@router.get("/calls/{call_id}")
def get_call(call_id: Id, ctx: CtxDep, db: DB, user: Staff) -> Any:
    call = calls.get(session=db, call_id=call_id)
    body = _out(call)
    body["locations"] = [
        LocationOut.model_validate(x).model_dump(mode="json") for x in locations.for_call(session=db, call_id=call_id)
    ]
    body["messages"] = [messages.data(m) for m in messages.for_call(session=db, call_id=call_id)]
    body["transcript"] = transcript.for_call(session=db, call_id=call_id)  # what the caller said
    body["caller_status"] = abuse.status(session=db, caller=call.caller, policy=ctx.region.policy).model_dump(
        mode="json"
    )
    return shown(ctx, user, body)


@router.post("/calls/{call_id}/answer")
def answer_call(call_id: Id, ctx: CtxDep, db: DB, user: Taker) -> Any:
    return shown(ctx, user, _out(calls.answer(session=db, call_id=call_id, taker_id=user.id, actor=user.username)))


@router.post("/calls/{call_id}/classify")
def classify_call(call_id: Id, body: ClassifyIn, ctx: CtxDep, db: DB, user: Taker) -> Any:
    call = calls.classify(
        session=db,
        call_id=call_id,
        classification=body.classification,
        notes=body.notes,
        actor=user.username,
        policy=ctx.region.policy,
    )
    return shown(ctx, user, _out(call))


@router.post("/calls/{call_id}/end")
def end_call(call_id: Id, ctx: CtxDep, db: DB, user: Taker) -> Any:
    return shown(ctx, user, _out(calls.end(session=db, call_id=call_id, actor=user.username, cause="console")))


@router.post("/calls/{call_id}/callback-done")
def callback_done(call_id: Id, ctx: CtxDep, db: DB, user: Staff) -> Any:
    return shown(ctx, user, _out(calls.callback_done(session=db, call_id=call_id, actor=user.username)))


def sms_sender(app: FastAPI, ctx: Ctx) -> Send | None:
    """How this server sends an SMS: Twilio when it is configured (tests put their own in `app.state`)."""
    send: Send | None = getattr(app.state, "sms_send", None)
    if send is None and twilio_voice.sms_enabled(ctx.settings):
        send = app.state.sms_send = twilio_sender(ctx.settings)
    return send


@router.post("/calls/{call_id}/messages", status_code=201)
def reply(call_id: Id, body: ReplyIn, request: Request, ctx: CtxDep, db: DB, user: Taker) -> Any:
    """Answer a text caller by SMS. The reply is written as `sending` before it goes and marked `sent` or
    `failed` after (201 either way, with its status): the call shows what the caller was told."""
    # A simulated caller's number is made up, maybe someone's: the reply goes to the simulator, never to Twilio.
    simulated = calls.get(session=db, call_id=call_id).provider == simulator.PROVIDER
    send = simulator.delivered if simulated else sms_sender(request.app, ctx)
    if send is None:
        raise HTTPException(
            503, "SMS replies need Twilio SMS: TANGGAP_TWILIO_AUTH_TOKEN, _ACCOUNT_SID and _FROM_NUMBER"
        )

    def action() -> Any:
        draft = messages.draft_reply(session=db, call_id=call_id, text=body.text, author=user.username)
        to = calls.get(session=db, call_id=call_id).caller or ""
        callback = status_callback(ctx.settings.public_url, reply_id=draft.id)
        ref, status, error = None, "sent", None
        try:
            ref = send(to, body.text, callback)
        except Exception as exc:  # the provider refused or is unreachable: the reply is kept, marked failed
            status, error = "failed", f"not sent ({type(exc).__name__})"
            log.warning("SMS reply %s on call %s failed: %s", draft.id, call_id, type(exc).__name__)
        done = messages.mark(session=db, message_id=draft.id, status=status, actor=user.username, ref=ref, error=error)
        return messages.data(done)

    return idempotent.run(request, db, user, action, status=201)


@router.get("/callers/{number}", response_model=None)
def caller_history(number: str, ctx: CtxDep, db: DB, user: Staff) -> Any:
    status: CallerStatus = abuse.status(session=db, caller=normalise(number), policy=ctx.region.policy)
    return shown(ctx, user, status.model_dump(mode="json"))


@router.delete("/callers/{number}/flag")
def clear_flag(number: str, db: DB, user: Supervisor) -> dict[str, bool]:
    caller = normalise(number)
    if caller:
        abuse.clear(session=db, caller=caller, user_id=user.id, actor=user.username)
    return {"ok": True}


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: bool


@router.post("/me/availability")
def availability(body: AvailabilityIn, db: DB, user: Taker) -> dict[str, object]:
    return me_data(users.set_available(session=db, user=user, available=body.available))
