"""Telephony over HTTP: the bridge's API (`tanggap ari` as its own process), the queue for supervisors, call
recordings, and the Twilio webhooks (voice, call status, SMS in, SMS delivery reports).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dispatch.audit.models import AccessAction
from dispatch.bounds import Id, Stamp
from dispatch.calls import intake, queue
from dispatch.calls import service as calls
from dispatch.calls.fallback import FallbackCall
from dispatch.calls.models import Call
from dispatch.calls.service import CallBrief, Ringing
from dispatch.clock import utcnow
from dispatch.errors import DomainError
from dispatch.major import service as major
from dispatch.major import shelters as shelter_list
from dispatch.users.models import User
from telephony import aml, twilio_voice
from telephony.ari.client import AriClient, AriError, AriNotFound
from ui import audit
from ui.context import Ctx
from ui.deps import DB, CtxDep, Supervisor, require_detached, shown
from ui.desk import desk_of
from ui.errors import status_of
from ui.twilio_journal import Deferred, journal_of
from ui.twilio_steps import Hook

log = logging.getLogger(__name__)
router = APIRouter(tags=["telephony"])

Bridge = Annotated[User, Depends(require_detached("telephony"))]  # waits for the call desk
TWIML = "application/xml"


def _desk_call(call: Call) -> dict[str, Any]:
    return asdict(CallBrief.of(call))  # what HttpDesk reads back (telephony.desk._brief)


# -- the bridge's API (HttpDesk) ----------------------------------------------------------------------------


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field("asterisk", pattern=r"^(asterisk|twilio|sms)$")
    channel_id: str = Field(min_length=1, max_length=128)
    caller: str | None = Field(None, max_length=64)
    dialled: str | None = Field(None, max_length=32)
    at: Stamp | None = None


class OffersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: list[OfferIn] = Field(min_length=1, max_length=500)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    call_id: Id
    cause: str | None = Field(None, max_length=200)  # for finish
    at: Stamp | None = None  # for finish: when the call ended (a step replayed from the bridge's journal)


class StepsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: list[StepIn] = Field(min_length=1, max_length=500)


class TakerIn(BaseModel):
    taker_id: Id
    at: Stamp | None = None  # when the call-taker answered (None: now)


class CauseIn(BaseModel):
    cause: str | None = Field(None, max_length=200)
    at: Stamp | None = None  # when the call ended (None: now)


class RefIn(BaseModel):
    ref: str = Field(min_length=1, max_length=300)


class ProviderIn(BaseModel):
    provider: str = Field("asterisk", pattern=r"^(asterisk|twilio)$")


class RequeueIn(BaseModel):
    call_id: Id
    taker_id: Id
    reason: str = Field(max_length=200)
    taker_available: bool


# Every step goes through the server's call desk (`ui.desk`): one writer thread, new calls first and in
# batches, exactly as for the bridge inside the server. Run in the request threads instead, a burst of 200
# calls from a remote bridge had 200 threads queueing for SQLite's write lock and the connection pool, and
# answered some of them 500 (measured with scripts/bench_calls.py --remote).


async def offer_calls(app: FastAPI, user: User, offers: list[OfferIn]) -> list[dict[str, Any]]:
    """New calls through the server's desk, written together; answered in the same order (by these routes
    and by the call stream, ui/routes/offer_stream.py)."""
    ringing = [Ringing(c.caller, c.provider, c.channel_id, c.dialled, c.at) for c in offers]
    calls.ringing_times(ringing, skew=app.state.ctx.region.policy.clock_skew)  # one bad time: none is written
    offered = await desk_of(app).offer_many(ringing, actor=user.username)
    return [asdict(call) for call in offered]


@router.post("/api/v1/telephony/calls")
async def bridge_offer(body: OfferIn, request: Request, user: Bridge) -> dict[str, Any]:
    return (await offer_calls(request.app, user, [body]))[0]


@router.post("/api/v1/telephony/calls/batch")
async def bridge_offer_many(body: OffersIn, request: Request, user: Bridge) -> list[dict[str, Any]]:
    """New calls that the bridge saw together (HttpDesk sends those of one event-loop turn). Each is
    idempotent by channel, so a retried batch records nothing twice."""
    return await offer_calls(request.app, user, body.calls)


@router.post("/api/v1/telephony/calls/{call_id}/queued")
async def bridge_queued(call_id: Id, request: Request, user: Bridge) -> dict[str, Any]:
    return {"position": await desk_of(request.app).queued(call_id, actor=user.username)}


async def _each(steps: list[Awaitable[Any]], answer: Callable[[Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps of several calls at once, answered in order: each with its result, or with the error it alone
    met (`{"error": {"status", "detail"}}`), so one call gone missing does not fail the others."""
    out: list[dict[str, Any]] = []
    for result in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(result, DomainError):
            out.append({"error": {"status": status_of(result), "detail": result.message}})
        elif isinstance(result, BaseException):
            raise result
        else:
            out.append(answer(result))
    return out


@router.post("/api/v1/telephony/calls/queued/batch")
async def bridge_queued_many(body: StepsIn, request: Request, user: Bridge) -> list[dict[str, Any]]:
    """`queued` for the callers the bridge put on hold together (after a burst, HttpDesk sends them as one)."""
    desk = desk_of(request.app)
    return await _each(
        [desk.queued(c.call_id, actor=user.username) for c in body.calls], lambda position: {"position": position}
    )


@router.post("/api/v1/telephony/calls/finish/batch")
async def bridge_finish_many(body: StepsIn, request: Request, user: Bridge) -> list[dict[str, Any]]:
    """`finish` for the calls that ended together (a burst's callers hang up within seconds of each other)."""
    desk = desk_of(request.app)
    return await _each([desk.finish(c.call_id, c.cause, at=c.at, actor=user.username) for c in body.calls], asdict)


@router.post("/api/v1/telephony/calls/{call_id}/answered")
async def bridge_answered(call_id: Id, body: TakerIn, request: Request, user: Bridge) -> dict[str, Any]:
    return asdict(await desk_of(request.app).answered(call_id, body.taker_id, at=body.at, actor=user.username))


@router.post("/api/v1/telephony/calls/{call_id}/finish")
async def bridge_finish(call_id: Id, body: CauseIn, request: Request, user: Bridge) -> dict[str, Any]:
    return asdict(await desk_of(request.app).finish(call_id, body.cause, at=body.at, actor=user.username))


@router.post("/api/v1/telephony/calls/{call_id}/recording")
async def bridge_recording(call_id: Id, body: RefIn, request: Request, user: Bridge) -> dict[str, Any]:
    return asdict(await desk_of(request.app).set_recording(call_id, body.ref, actor=user.username))


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    choice: int = Field(ge=1, le=3)  # 1 people in danger, 2 damage or a hazard, 3 information


@router.get("/api/v1/telephony/major")
def bridge_major(ctx: CtxDep, db: DB, _user: Bridge) -> dict[str, Any] | None:
    """The major incident in force (null when none), which the bridge announces to callers
    (telephony/ari/choice.py); `region` names the region's shelter prompt."""
    found = major.active(session=db)
    return {"id": found.id, "name": found.name, "region": ctx.region.pack.code} if found is not None else None


@router.post("/api/v1/telephony/calls/{call_id}/choice")
def bridge_choice(call_id: Id, body: ChoiceIn, db: DB, user: Bridge) -> dict[str, Any]:
    """The caller's key at the major incident's announcement; it orders the queue (dispatch/calls/queue.py)."""
    call = major.record_choice(session=db, call_id=call_id, choice=body.choice, actor=user.username)
    return {"id": call.id, "major_choice": call.major_choice}


@router.get("/api/v1/telephony/calls/live")
def bridge_live(db: DB, _user: Bridge, provider: str = "asterisk") -> list[dict[str, Any]]:
    return [_desk_call(c) for c in intake.live(session=db, provider=provider)]


@router.post("/api/v1/telephony/acd/claim")
async def bridge_claim(body: ProviderIn, request: Request, user: Bridge) -> list[dict[str, Any]]:
    matches = await desk_of(request.app).claim(provider=body.provider, actor=user.username)
    return [m.__dict__ for m in matches]


@router.post("/api/v1/telephony/acd/requeue")
async def bridge_requeue(body: RequeueIn, request: Request, user: Bridge) -> dict[str, bool]:
    await desk_of(request.app).requeue(
        body.call_id, body.taker_id, body.reason, body.taker_available, actor=user.username
    )
    return {"ok": True}


class FallbackIn(BaseModel):
    """A call the dialplan took while no bridge was connected, as the PBX's journal tells it."""

    model_config = ConfigDict(extra="forbid")

    channel_id: str = Field(min_length=1, max_length=128)
    caller: str | None = Field(None, max_length=64)
    started_at: Stamp
    answered_at: Stamp | None = None
    desk: str | None = Field(None, max_length=128)
    ended_at: Stamp | None = None
    cause: str | None = Field(None, max_length=64)


@router.post("/api/v1/telephony/calls/fallback")
async def bridge_fallback(body: FallbackIn, request: Request, user: Bridge) -> dict[str, Any]:
    """Idempotent by channel: the bridge may read the same journal entry again after a crash."""
    trace = FallbackCall(**body.model_dump())
    return asdict(await desk_of(request.app).record_fallback(trace, actor=user.username))


class LeaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    holder: str = Field(min_length=1, max_length=128)
    ttl_s: float = Field(gt=0, le=60)
    why: str = Field("released", pattern=r"^(released|replaced)$")  # for release


@router.post("/api/v1/telephony/lease")
async def bridge_lease(body: LeaseIn, request: Request, _user: Bridge) -> dict[str, Any]:
    """One active bridge at a time (dispatch/leases.py): the active one renews, a standby asks until granted."""
    granted = await desk_of(request.app).lease(body.name, body.holder, body.ttl_s)
    return {"granted": granted}


@router.post("/api/v1/telephony/lease/release")
async def bridge_lease_release(body: LeaseIn, request: Request, _user: Bridge) -> dict[str, bool]:
    await desk_of(request.app).release(body.name, body.holder, body.why)
    return {"ok": True}


@router.post("/api/v1/telephony/acd/ready-after-busy")
async def bridge_ready_after_busy(body: TakerIn, request: Request, user: Bridge) -> dict[str, bool]:
    """The pause after a busy desk phone is over (dispatch.calls.queue.ready_after_busy)."""
    return {"ready": await desk_of(request.app).ready_after_busy(body.taker_id, actor=user.username)}


@router.get("/api/v1/telephony/triage")
def bridge_triage(ctx: CtxDep, db: DB, _user: Bridge, caller: str = "") -> dict[str, Any]:
    return intake.triage(session=db, caller=caller or None, policy=ctx.region.policy).__dict__


# -- supervisors --------------------------------------------------------------------------------------------


@router.get("/api/v1/telephony/queue")
def queue_view(ctx: CtxDep, db: DB, user: Supervisor) -> dict[str, Any]:
    """Who is waiting, in which order, for how long, and who is ready to answer."""
    view = queue.snapshot(session=db, lead=ctx.region.policy.priority_lead)
    body = {
        "at": view.at.isoformat(),
        "waiting": len(view.calls),
        "longest_wait_s": round(view.longest_wait_s, 1),
        "calls": [
            {**c.__dict__, "offered_at": c.offered_at.isoformat(), "waiting_s": round(c.waiting_s, 1)}
            for c in view.calls
        ],
        "takers_ready": view.takers_ready,
    }
    return shown(ctx, user, body)  # type: ignore[no-any-return]


@router.get("/api/v1/telephony/calls/{call_id}/recording")
async def play_recording(call_id: Id, ctx: CtxDep, user: Supervisor) -> StreamingResponse:
    """The conversation as Asterisk recorded it (the mixing bridge), streamed through from ARI."""

    def ref() -> str | None:
        with ctx.sessions() as session:
            return calls.get(session=session, call_id=call_id).recording_ref

    name = await asyncio.to_thread(ref)
    settings = ctx.settings
    if not name:
        raise HTTPException(404, f"call {call_id} has no recording")
    if not settings.ari_url:
        raise HTTPException(503, "recordings are kept by Asterisk and TANGGAP_ARI_URL is not set")
    password = settings.ari_password.get_secret_value() if settings.ari_password else ""
    client = AriClient(settings.ari_url, settings.ari_user, password, settings.ari_app, timeout=30)
    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(client.close)
    try:
        upstream = await stack.enter_async_context(client.recording_file(name))
    except AriNotFound:
        await stack.aclose()
        raise HTTPException(404, f"recording of call {call_id} is no longer on the PBX") from None
    except (AriError, TimeoutError) as exc:
        await stack.aclose()
        raise HTTPException(502, f"the PBX did not return the recording ({exc})") from None
    try:  # fails closed (ui/audit.py): no row in the access audit, no sound
        played = AccessAction.recording_played
        await asyncio.to_thread(audit.record_now, ctx.sessions, user, played, f"recording of call {call_id}", [call_id])
    except HTTPException:
        await stack.aclose()
        raise
    log.info("recording of call %s played by %s", call_id, user.username)

    async def relay() -> AsyncIterator[bytes]:
        async with stack:
            async for chunk in upstream.chunks():
                yield chunk

    media = upstream.content_type
    return StreamingResponse(
        relay(), media_type=media, headers={"Content-Disposition": f'inline; filename="call-{call_id}.wav"'}
    )


# -- Twilio webhooks ----------------------------------------------------------------------------------------
# Each answers TwiML whatever the database does: its step runs through the journal (ui/twilio_journal.py),
# which answers `Deferred` when the database could not be reached, and the caller is kept on the line all the
# same. The callbacks name the call by `call_id`, or, for a caller greeted while the database was down, by the
# CallSid Twilio sends with every one of them.

_warned = False


async def twilio_form(request: Request) -> dict[str, str]:
    """The webhook's form, after checking that Twilio signed it (403) and that Twilio is configured (503)."""
    global _warned
    settings = request.app.state.ctx.settings
    if not twilio_voice.enabled(settings):
        if not _warned:
            log.warning("Twilio webhook called but TANGGAP_TWILIO_AUTH_TOKEN is not set")
            _warned = True
        raise HTTPException(503, "Twilio is not configured on this server")
    # Twilio posts application/x-www-form-urlencoded; parsed here (python-multipart is not a dependency).
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    signature = request.headers.get("x-twilio-signature")
    if not twilio_voice.valid_signature(settings, str(request.url), form, signature):
        log.warning("Twilio webhook %s with a missing or wrong signature refused", request.url.path)
        raise HTTPException(403, "invalid Twilio signature")
    return form


TwilioForm = Annotated[dict[str, str], Depends(twilio_form)]


def _twiml(text: str) -> Response:
    return Response(text, media_type=TWIML)


async def _step(request: Request, route: str, form: dict[str, str], **query: int | None) -> Any:
    """The webhook's database step, at the time it came in: its result, or `Deferred`."""
    ids = {name: str(value) for name, value in query.items() if value is not None}
    return await journal_of(request.app).run(Hook(route, form, ids, utcnow()))


@router.post("/telephony/twilio/voice")
async def twilio_voice_call(form: TwilioForm, request: Request, ctx: CtxDep) -> Response:
    """A call to the 112 number: record it, greet in Bahasa Indonesia, and queue it for a call-taker. Without
    the database: greet, and ring the desk phones of TANGGAP_TWILIO_FALLBACK_NUMBERS, else queue the caller
    (whether they were flagged cannot be known, so no warning)."""
    call = await _step(request, "voice", form)
    if isinstance(call, Deferred):
        desks = ctx.settings.twilio_fallback_numbers
        if desks:
            return _twiml(twilio_voice.greet_and_dial_desks(desks))
        return _twiml(twilio_voice.greet_and_enqueue(None, flagged=False))
    if call.status == "ended":
        return _twiml(twilio_voice.hangup())
    if not isinstance(await _step(request, "major", form), (Deferred, type(None))):
        return _twiml(twilio_voice.announce(call.id, flagged=call.flagged))
    return _twiml(twilio_voice.greet_and_enqueue(call.id, flagged=call.flagged))


@router.post("/telephony/twilio/choice")
async def twilio_choice(
    form: TwilioForm,
    request: Request,
    ctx: CtxDep,
    call_id: Id | None = None,
    info: int | None = Query(None, ge=1, le=1),
) -> Response:
    """The key pressed at the major incident's announcement (`<Gather>`), or none (its `<Redirect>`): kept on the
    call, then the caller is queued; choice 3 first hears the public information. Without the database the
    choice is journaled and the caller queued all the same."""
    picked = await _step(request, "choice", form, call_id=call_id, info=info)
    if isinstance(picked, Deferred):
        picked = twilio_voice.choice_of(form.get("Digits", ""))
    if picked != 3 or info is not None:
        return _twiml(twilio_voice.after_choice(call_id))
    return _twiml(twilio_voice.after_choice(call_id, await _information(request, ctx, form)))


async def _information(request: Request, ctx: Ctx, form: dict[str, str]) -> str:
    """The public information message in Bahasa Indonesia: the major incident and the region's shelters."""
    found = await _step(request, "major", form)
    name = found[1] if isinstance(found, tuple) else ctx.region.pack.name
    try:
        places = shelter_list.load(ctx.region.pack.folder, ctx.region.landmark_dir)
    except DomainError as exc:  # a bad shelter file: the rest of the message still helps
        log.error("shelters unreadable for the information message: %s", exc)
        places = []
    return shelter_list.public_message(places, name=name)["id"]


@router.post("/telephony/twilio/wait")
async def twilio_wait(form: TwilioForm, request: Request, call_id: Id | None = None) -> Response:
    """Twilio's waitUrl, polled while the caller is in the queue: leave it once a taker is reserved."""
    seek = await _step(request, "wait", form, call_id=call_id)
    if isinstance(seek, Deferred):
        return _twiml(twilio_voice.hold_on())
    if seek.taker is not None:
        return _twiml(twilio_voice.leave_queue())
    return _twiml(twilio_voice.hold(seek.position))


@router.post("/telephony/twilio/queue-exit")
async def twilio_queue_exit(form: TwilioForm, request: Request, call_id: Id | None = None) -> Response:
    """The <Enqueue> action: after <Leave/>, ring the reserved taker's Twilio Client."""
    if form.get("QueueResult") != "leave":
        return _twiml(twilio_voice.hangup())  # hung up in the queue: the status callback ends the call
    seek = await _step(request, "queue-exit", form, call_id=call_id)
    if isinstance(seek, Deferred):
        return _twiml(twilio_voice.retry(call_id))
    if seek.taker is None:
        return _twiml(twilio_voice.retry(seek.call_id))
    taker_id, identity = seek.taker
    return _twiml(twilio_voice.dial_taker(seek.call_id, taker_id, identity))


@router.post("/telephony/twilio/client-status")
async def twilio_client_status(
    form: TwilioForm, request: Request, call_id: Id | None = None, taker_id: Id | None = None
) -> Response:
    if form.get("CallStatus") in ("in-progress", "answered"):
        await _step(request, "client-status", form, call_id=call_id, taker_id=taker_id)
    return _twiml(twilio_voice.empty())


@router.post("/telephony/twilio/dial")
async def twilio_dial_result(
    form: TwilioForm, request: Request, call_id: Id | None = None, taker_id: Id | None = None
) -> Response:
    """The <Dial> action: after a conversation hang up; if nobody answered, back to the queue. A taker's Client
    (`taker_id`) goes back to the queue with the call; a desk phone's (none) answering is recorded."""
    answered = form.get("DialCallStatus") in ("completed", "answered")
    if answered and taker_id is not None:
        return _twiml(twilio_voice.hangup())
    known = await _step(request, "dial", form, call_id=call_id, taker_id=taker_id)
    if answered:
        return _twiml(twilio_voice.hangup())
    return _twiml(twilio_voice.retry(call_id if isinstance(known, Deferred) else known))


@router.post("/telephony/twilio/status")
async def twilio_call_status(form: TwilioForm, request: Request) -> Response:
    """Call status callback: completed, no-answer, busy, failed or canceled end the call."""
    if form.get("CallStatus", "") in twilio_voice.ENDED:
        await _step(request, "status", form)
    return _twiml(twilio_voice.empty())


@router.post("/telephony/twilio/sms")
async def twilio_sms(form: TwilioForm, request: Request) -> Response:
    """SMS to 112: an AML location report, or a text call from someone who cannot speak. The first text of a
    conversation is acknowledged (the next ones join it, and a person answers them); handsets send AML, and
    nobody reads a reply. Without the database the text is acknowledged: whether it began a conversation is
    not known, and an acknowledgement too many is better than none."""
    new = await _step(request, "sms", form)
    if aml.is_aml(form.get("Body", "")):
        return _twiml(twilio_voice.sms_reply(None))
    acknowledge = new is True or isinstance(new, Deferred)
    return _twiml(twilio_voice.sms_reply(twilio_voice.SMS_ACK if acknowledge else None))


@router.post("/telephony/twilio/sms-status")
async def twilio_sms_status(
    form: TwilioForm,
    request: Request,
    unit_id: Id | None = None,
    incident_id: Id | None = None,
    assignment_id: Id | None = None,
    reply_id: Id | None = None,
) -> Response:
    """A delivery report: of a call-taker's reply (`reply_id`) or of an alert to a unit."""
    ids = {"unit_id": unit_id, "incident_id": incident_id, "assignment_id": assignment_id, "reply_id": reply_id}
    await _step(request, "sms-status", form, **ids)
    return _twiml(twilio_voice.empty())
