"""The `/ws` event stream: catch up from the log with `?since=SEQ`, then follow live events.

Each client has a bounded queue fed by the bus; a client that falls too far behind is told to resync and
closed, so one slow console never slows the others. Events published out of order (two commits racing to
the bus) or across a gap are filled from the log, so a client never silently misses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from dispatch.clock import utcnow
from dispatch.events import service as events
from dispatch.events.bus import Published
from dispatch.incidents import assignments
from dispatch.users.models import User
from ui.context import Ctx
from ui.deps import user_for
from ui.present import masked, sees_caller

log = logging.getLogger(__name__)
router = APIRouter()
_BATCH = 500


class Viewer:
    """What one connected user may see of each event."""

    def __init__(self, ctx: Ctx, user: User) -> None:
        self.role, self.unit_id = user.role, user.unit_id
        self.mask = not sees_caller(user.role, ctx.settings.roles_seeing_caller)
        self.incidents: set[int] = set()
        if self.role == "responder" and self.unit_id is not None:
            with ctx.sessions() as session:
                self.incidents = {a.incident_id for a in assignments.for_unit(session=session, unit_id=self.unit_id)}

    def wire(self, event: Published) -> dict[str, Any] | None:
        if self.role == "responder":
            if event.unit_id is not None and event.unit_id == self.unit_id and event.incident_id is not None:
                self.incidents.add(event.incident_id)
            mine = event.unit_id == self.unit_id or (event.incident_id in self.incidents)
            if not mine or event.type.startswith(("call.", "caller.", "taker.")):
                return None
        body = event.wire()
        return masked(body) if self.mask else body


def _published(row: Any) -> Published:
    return Published(row.seq, row.type, row.at, row.actor, row.data, row.incident_id, row.call_id, row.unit_id)


async def _catch_up(ctx: Ctx, ws: WebSocket, viewer: Viewer, after: int) -> int:
    while True:
        rows = await asyncio.to_thread(_read, ctx, after)
        for row in rows:
            after = row.seq
            body = viewer.wire(row)
            if body is not None:
                await ws.send_text(json.dumps(body))
        if len(rows) < _BATCH:
            return after


def _read(ctx: Ctx, after: int) -> list[Published]:
    with ctx.sessions() as session:
        return [_published(r) for r in events.since(session, after, limit=_BATCH)]


def _last(ctx: Ctx) -> int:
    with ctx.sessions() as session:
        return events.last_seq(session)


def _control(kind: str, seq: int, **data: Any) -> str:
    return json.dumps({"seq": seq, "type": kind, "at": utcnow().isoformat(), "data": data})


@router.websocket("/ws")
async def stream(ws: WebSocket) -> None:
    ctx: Ctx = ws.app.state.ctx
    raw_since = ws.query_params.get("since")
    user = await asyncio.to_thread(_user, ctx, ws)
    if user is None:
        await ws.close(code=4401, reason="login required")
        return
    if raw_since is not None and not (raw_since.isdigit() and len(raw_since) < 19):
        await ws.close(code=4400, reason="since must be a non-negative integer")
        return
    await ws.accept()
    viewer = await asyncio.to_thread(Viewer, ctx, user)
    queue: asyncio.Queue[Published | None] = asyncio.Queue(maxsize=ctx.settings.ws_buffer)
    loop = asyncio.get_running_loop()

    def put(event: Published) -> None:
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueFull):
                queue.get_nowait()
                queue.put_nowait(None)  # None: this client fell behind

    unsubscribe = ctx.bus.subscribe(lambda event: loop.call_soon_threadsafe(put, event))
    try:
        last = int(raw_since) if raw_since is not None else await asyncio.to_thread(_last, ctx)
        last = await _catch_up(ctx, ws, viewer, last)
        await ws.send_text(_control("live", last))
        await _follow(ctx, ws, viewer, queue, last)
    except WebSocketDisconnect:
        pass
    finally:
        unsubscribe()


async def _follow(ctx: Ctx, ws: WebSocket, viewer: Viewer, queue: asyncio.Queue[Published | None], last: int) -> None:
    receiver = asyncio.create_task(_drain_client(ws))
    try:
        while True:
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if receiver in done:
                getter.cancel()
                return
            event = getter.result()
            if event is None:
                await ws.send_text(_control("resync", last, reason="fell behind; reconnect with since"))
                await ws.close(code=4409, reason="resync")
                return
            if event.seq <= last:
                continue
            if event.seq > last + 1:
                last = await _catch_up(ctx, ws, viewer, last)  # fills the gap, and includes this event
                continue
            body = viewer.wire(event)
            if body is not None:
                await ws.send_text(json.dumps(body))
            last = event.seq
    finally:
        receiver.cancel()


async def _drain_client(ws: WebSocket) -> None:
    """Consoles may send pings; we only need to notice when they go away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return


def _user(ctx: Ctx, ws: WebSocket) -> User | None:
    with ctx.sessions() as session:
        user = user_for(session, ws)
        if user is not None:
            session.expunge(user)
        return user
