"""New calls from a bridge in its own process over one websocket: `/api/v1/telephony/calls/stream`.

Why a websocket beside `POST /api/v1/telephony/calls/batch`: each HTTP request cost this server's event loop
1-3 ms (uvicorn, routing, validation), the same loop that sends every console its events, so the bridge kept
at most two offer requests out and the rest of a burst waited for their answers (docs/telephony.md, stop 14).
A message on an open websocket costs a fraction of that, so the bridge sends each event-loop turn's new calls
at once and the server writes them while the rest of the burst is still arriving.

The bridge sends `{"id": N, "calls": [...]}` (the calls as in `POST /calls/batch`, 500 at most) and gets
`{"id": N, "calls": [...]}` back (each call as that endpoint answers it, in order), or `{"id": N, "error":
{"status": S, "detail": "..."}}` with the HTTP status the same request would have met. Answers come as the
calls are written, not in the order asked. Recording a call is idempotent by channel, so a bridge that lost
the connection before an answer sends those calls again (by HTTP); nothing is recorded twice.

The server also sends `{"notice": "taker.available"}` when a call-taker becomes ready, so that the bridge's ACD
rings them now rather than at its next poll of the queue (once a second by default); notices that come while
one is being sent ride with it. `{"notice": "callback.requested"}` says a call-taker asked for a callback through
the PBX (telephony/ari/callback.py claims it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from pydantic import Field, ValidationError

from dispatch import jsontext
from dispatch.calls import queue
from dispatch.events.bus import Published
from ui.access import Level, refusal
from ui.deps import may, remembered_user
from ui.errors import answer_of, problems
from ui.routes.telephony import OffersIn, offer_calls

log = logging.getLogger(__name__)
router = APIRouter(tags=["telephony"])
PATH = "/api/v1/telephony/calls/stream"
LEVEL: Level = "telephony"  # ui.access
# A call-taker asked for a callback through the PBX: the bridge claims it now (ui/routes/callbacks.py).
CALLBACK_NOTICE = "callback.requested"


class OffersMessage(OffersIn):
    id: int = Field(ge=0)


def _failure(exc: Exception) -> tuple[int, str]:
    """The status and message the HTTP endpoint would have answered (ui.errors), for one message."""
    found = answer_of(exc)
    if found is None:
        log.exception("offers on the call stream failed")
        return 503, "the server could not record these calls; try again"
    return found[0], found[1]


def _id_of(raw: str | bytes) -> int | None:
    """The message's id if it has one, so that even a message that fails validation is answered by id."""
    with contextlib.suppress(orjson.JSONDecodeError):
        found = orjson.loads(raw)
        if isinstance(found, dict) and isinstance(found.get("id"), int):
            return int(found["id"])
    return None


@router.websocket(PATH)
async def offer_stream(ws: WebSocket) -> None:
    user = await remembered_user(ws)
    if user is None:
        await ws.close(code=4401, reason="login required")
        return
    if not may(user, LEVEL):
        await ws.close(code=4403, reason=refusal(LEVEL, user.role))
        return
    await ws.accept()
    sending = asyncio.Lock()  # one message out at a time
    working: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    noticing = False  # a notice is on its way: one more would say nothing new

    def spawn(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        working.add(task)
        task.add_done_callback(working.discard)

    async def answer(message: dict[str, Any]) -> None:
        async with sending:
            with contextlib.suppress(Exception):  # the bridge left; it sends these calls again by HTTP
                await ws.send_text(jsontext.dumps(message))

    async def notice() -> None:
        nonlocal noticing
        try:
            await answer({"notice": "taker.available"})
        finally:
            noticing = False

    def taker_ready() -> None:
        nonlocal noticing
        if not noticing:
            noticing = True
            spawn(notice())

    async def callback_notice() -> None:
        await answer({"notice": CALLBACK_NOTICE})

    def on_event(event: Published) -> None:  # on the committing thread
        if queue.frees_a_taker(event):
            loop.call_soon_threadsafe(taker_ready)
        elif event.type == "callback.requested" and event.data.get("route") == "pbx":
            loop.call_soon_threadsafe(lambda: spawn(callback_notice()))

    async def offer(raw: str | bytes) -> None:
        try:
            message = OffersMessage.model_validate_json(raw)
        except ValidationError as exc:
            error = {"status": 422, "detail": problems(exc.errors(include_url=False))}
            await answer({"id": _id_of(raw), "error": error})
            return
        who = await remembered_user(ws)  # checked again, so a revoked token stops the connection
        if who is None or not may(who, LEVEL):
            await answer({"id": message.id, "error": {"status": 401, "detail": "login required"}})
            await ws.close(code=4401, reason="login required")
            return
        try:
            offered = await offer_calls(ws.app, who, message.calls)
        except Exception as exc:
            status, detail = _failure(exc)
            await answer({"id": message.id, "error": {"status": status, "detail": detail}})
        else:
            await answer({"id": message.id, "calls": offered})

    unsubscribe = ws.app.state.ctx.bus.subscribe(on_event)
    try:
        while (received := await ws.receive())["type"] != "websocket.disconnect":
            raw = received.get("text") or received.get("bytes")
            if raw:
                spawn(offer(raw))  # the next message is read while this one is written
    except RuntimeError:  # closed from our side (a revoked token)
        pass
    finally:
        unsubscribe()
    # Calls already handed to the desk are written either way; their answers have nobody to go to.
