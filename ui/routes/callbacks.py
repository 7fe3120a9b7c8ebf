"""Callbacks from the console: the call-takers' list of abandoned calls, placing a callback and recording what
came of it; the PBX bridge's side (claiming the attempts it is to place, telling their steps) and Twilio's.

Which way a callback goes (`dispatch.calls.callbacks.route_for`): the PBX when this server knows one
(TANGGAP_ARI_URL) and the call-taker has a desk phone on it, Twilio when it can place calls, else by hand (the
console shows the number). A PBX callback is placed by the bridge: in this server's process it hears of the
request on the event bus, in its own process through the call stream's `callback.requested` notice
(ui/routes/offer_stream.py) and its poll. A Twilio callback is placed here, at once.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy.orm import Session

from dispatch.bounds import Id
from dispatch.calls import callbacks
from dispatch.calls import service as calls
from dispatch.calls.models import Callback
from dispatch.calls.schemas import CallbackOutcomeIn, CallbackStateIn, CallOut
from dispatch.clock import utcnow
from dispatch.errors import DomainError
from dispatch.users.models import User
from telephony import twilio_callback, twilio_voice
from telephony.twilio_callback import Place
from ui import idempotent
from ui.context import Ctx
from ui.deps import DB, CtxDep, Taker, shown
from ui.routes.telephony import Bridge, TwilioForm

log = logging.getLogger(__name__)
router = APIRouter(tags=["callbacks"])
TWIML = "application/xml"


def _pending(row: callbacks.Pending) -> dict[str, Any]:
    out = CallOut.model_validate(row.call).model_dump(mode="json")
    out["attempts"] = [callbacks.data(a, row.call) for a in row.attempts]
    return out


@router.get("/api/v1/callbacks")
def callback_list(ctx: CtxDep, db: DB, user: Taker) -> Any:
    """Abandoned calls nobody has called back yet, newest first, each with its attempts so far."""
    return shown(ctx, user, [_pending(row) for row in callbacks.pending(session=db)])


@router.get("/api/v1/callbacks/{callback_id}")
def get_callback(callback_id: Id, ctx: CtxDep, db: DB, user: Taker) -> Any:
    return shown(ctx, user, callbacks.data(callbacks.get(session=db, callback_id=callback_id)))


def placer(app: FastAPI, ctx: Ctx) -> Place | None:
    """How this server places a Twilio call, if it can (tests put their own in `app.state.callback_place`)."""
    place: Place | None = getattr(app.state, "callback_place", None)
    if place is None and twilio_callback.enabled(ctx.settings):
        place = app.state.callback_place = twilio_callback.twilio_placer(ctx.settings)
    return place


def _route(app: FastAPI, ctx: Ctx, user: User, provider: str) -> tuple[str, str | None, str | None]:
    """The route, the call-taker's phone on it and the number the caller will see."""
    pbx = bool(ctx.settings.ari_url and user.sip_endpoint)
    route = callbacks.route_for(provider=provider, pbx=pbx, twilio=placer(app, ctx) is not None)
    if route == "pbx":
        return route, user.sip_endpoint, ctx.settings.callback_caller_id
    if route == "twilio":  # the call-taker's Twilio Client, named as the queue's <Dial><Client> names it
        return route, user.sip_endpoint or user.username, twilio_callback.caller_id(ctx.settings)
    return route, None, None


@router.post("/api/v1/calls/{call_id}/callbacks", status_code=201)
def place_callback(call_id: Id, request: Request, ctx: CtxDep, db: DB, user: Taker) -> Any:
    """Call an abandoned caller back. 201 with the attempt in whatever state it got to: `requested` (the PBX
    places it), `ringing` (Twilio took it), `failed` with its reason, or route `none` (dial it by hand)."""

    def action() -> Any:
        provider = calls.get(session=db, call_id=call_id).provider
        route, desk, shown_as = _route(request.app, ctx, user, provider)
        attempt = callbacks.request(
            session=db, call_id=call_id, user_id=user.id, actor=user.username, route=route, desk=desk,
            caller_id=shown_as,
        )  # fmt: skip
        if attempt.route == "twilio" and attempt.state == callbacks.State.requested:
            attempt = _by_twilio(request.app, ctx, db, user, attempt)
        return shown(ctx, user, callbacks.data(attempt))

    return idempotent.run(request, db, user, action, status=201)


def _by_twilio(app: FastAPI, ctx: Ctx, db: Session, user: User, attempt: Callback) -> Callback:
    place = placer(app, ctx)
    assert place is not None and attempt.desk is not None
    number = calls.get(session=db, call_id=attempt.call_id).caller or ""
    status_url, action_url = twilio_callback.hooks(ctx.settings.public_url, attempt.id)
    text = twilio_callback.twiml(number, attempt.caller_id, action_url)
    try:
        sid = place(f"client:{attempt.desk}", ctx.settings.twilio_from_number or "", text, status_url)
    except Exception as exc:  # refused or unreachable: the attempt is kept, failed, and the console says why
        log.warning("Twilio callback %s on call %s failed: %s", attempt.id, attempt.call_id, type(exc).__name__)
        why = f"Twilio tidak dapat melakukan panggilan balik ({type(exc).__name__})"
        return callbacks.advance(session=db, callback_id=attempt.id, state="failed", reason=why, actor=user.username)
    return callbacks.advance(session=db, callback_id=attempt.id, state="ringing", ref=sid, actor=user.username)


@router.post("/api/v1/callbacks/{callback_id}/outcome")
def callback_outcome(callback_id: Id, body: CallbackOutcomeIn, ctx: CtxDep, db: DB, user: Taker) -> Any:
    """What came of the callback, in the call-taker's words: reached, no answer, wrong number, voicemail."""
    attempt = callbacks.set_outcome(
        session=db, callback_id=callback_id, user_id=user.id, actor=user.username, outcome=body.outcome,
        note=body.note,
    )  # fmt: skip
    return shown(ctx, user, callbacks.data(attempt))


# -- the PBX bridge -----------------------------------------------------------------------------------------


@router.post("/api/v1/telephony/callbacks/claim")
def bridge_claim_callbacks(db: DB, user: Bridge) -> list[dict[str, Any]]:
    """The callbacks the bridge is to place now, each handed out once."""
    return [asdict(job) for job in callbacks.claim(session=db, actor=user.username)]


@router.post("/api/v1/telephony/callbacks/{callback_id}/state")
def bridge_callback_state(callback_id: Id, body: CallbackStateIn, ctx: CtxDep, db: DB, user: Bridge) -> dict[str, Any]:
    attempt = callbacks.advance(
        session=db, callback_id=callback_id, state=body.state, reason=body.reason, ref=body.ref, at=body.at,
        actor=user.username, skew=ctx.region.policy.clock_skew,
    )  # fmt: skip
    return {"id": attempt.id, "state": attempt.state}


# -- Twilio -------------------------------------------------------------------------------------------------


def _twiml(text: str) -> Response:
    return Response(text, media_type=TWIML)


def _step(db: Session, callback_id: int, state: str, *, reason: str | None = None, seconds: float = 0) -> None:
    """A step Twilio reports; one that comes too late for the attempt's state (told twice, out of order) is
    dropped: Twilio does not promise its callbacks arrive in order."""
    at = utcnow() - timedelta(seconds=seconds)
    try:
        callbacks.advance(session=db, callback_id=callback_id, state=state, reason=reason, at=at, actor="twilio")
    except DomainError as exc:
        db.rollback()
        log.info("Twilio step %s of callback %s dropped: %s", state, callback_id, exc.message)


@router.post("/telephony/twilio/callback-status")
def twilio_callback_status(form: TwilioForm, db: DB, callback_id: Id | None = None) -> Response:
    """The desk leg of a callback: it ended (`completed`: the attempt is over), or nobody picked it up."""
    status = form.get("CallStatus", "")
    if callback_id is not None and status in twilio_callback.DESK:
        _step(db, callback_id, "failed", reason=twilio_callback.DESK[status])
    elif callback_id is not None and status == "completed":
        _step(db, callback_id, "ended")
    return _twiml(twilio_voice.empty())


@router.post("/telephony/twilio/callback-dial")
def twilio_callback_dial(form: TwilioForm, db: DB, callback_id: Id | None = None) -> Response:
    """<Dial>'s action: how the caller's leg went. After a conversation the call-taker's leg hangs up; if the
    caller did not pick up, the call-taker hears so first."""
    state, reason = twilio_callback.DIAL.get(form.get("DialCallStatus", ""), ("failed", None))
    if callback_id is None:
        return _twiml(twilio_voice.hangup())
    if state == "answered":
        _step(db, callback_id, "answered", seconds=_seconds(form.get("DialCallDuration")))
        _step(db, callback_id, "ended")
        return _twiml(twilio_voice.hangup())
    _step(db, callback_id, state, reason=reason or "Panggilan ke penelepon gagal")
    return _twiml(twilio_callback.not_answered())


def _seconds(text: str | None) -> float:
    """Twilio's DialCallDuration; anything that is not a sane number of seconds counts as none."""
    try:
        value = float(text or 0)
    except ValueError:
        return 0.0
    return value if 0 <= value < 86_400 else 0.0
