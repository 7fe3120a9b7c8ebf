"""The `/ws` event stream: catch up from the log with `?since=SEQ`, then follow live events.

One bus subscription per app (`Broadcaster`) encodes each event once — plain and, lazily, masked — and
hands the frame to every client's bounded queue on the event loop, so a hundred consoles cost a hundred
queue puts per event, not a hundred JSON encodings. A client that falls too far behind is told to resync and
closed, so one slow console never slows the others. Events published out of order (two commits racing to the
bus) or across a gap are filled from the log, so a client never silently misses one.

Every websocket message is a JSON array of one or more messages, in order. When a client's sender wakes it
takes everything waiting in its queue and sends it as one message: a burst of 200 new calls reaches a hundred
consoles as about a hundred websocket messages instead of twenty thousand, which is what keeps the latency of a
burst near that of a single call (see `scripts/bench_calls.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from dispatch.clock import utcnow
from dispatch.events import service as events
from dispatch.events.bus import Published
from dispatch.incidents import assignments
from dispatch.users.models import User
from ui.context import Ctx
from ui.deps import detached_user
from ui.present import masked, sees_caller

log = logging.getLogger(__name__)
router = APIRouter()
_BATCH = 500  # log rows read per query when catching up
_PER_MESSAGE = 250  # messages per websocket message at most (about 100 KB)
_BEHIND, _GONE = "behind", "gone"  # queue markers: fell behind / client disconnected


@dataclass(eq=False)
class Frame:
    """One event, encoded once for everybody who may see it whole and once for the masked roles."""

    event: Published

    @cached_property
    def plain(self) -> str:
        return json.dumps(self.event.wire())

    @cached_property
    def masked(self) -> str:
        return json.dumps(masked(self.event.wire()))


Item = Frame | str


@dataclass(eq=False)
class Client:
    queue: asyncio.Queue[Item]

    def offer(self, item: Item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty, asyncio.QueueFull):
                self.queue.get_nowait()
                self.queue.put_nowait(_BEHIND)


@dataclass(eq=False)
class Broadcaster:
    loop: asyncio.AbstractEventLoop
    clients: set[Client] = field(default_factory=set)
    unsubscribe: Any = None

    def from_bus(self, event: Published) -> None:
        """Called on the committing thread: one hop onto the loop per event, whatever the client count."""
        self.loop.call_soon_threadsafe(self.fan_out, event)

    def fan_out(self, event: Published) -> None:
        frame = Frame(event)
        for client in list(self.clients):
            client.offer(frame)


def broadcaster(app: FastAPI) -> Broadcaster:
    found: Broadcaster | None = getattr(app.state, "broadcaster", None)
    if found is None:
        found = Broadcaster(asyncio.get_running_loop())
        found.unsubscribe = app.state.ctx.bus.subscribe(found.from_bus)
        app.state.broadcaster = found
    return found


def close(app: FastAPI) -> None:
    found: Broadcaster | None = getattr(app.state, "broadcaster", None)
    if found is not None and found.unsubscribe is not None:
        found.unsubscribe()
        app.state.broadcaster = None


class Viewer:
    """What one connected user may see of each event."""

    def __init__(self, ctx: Ctx, user: User) -> None:
        self.role, self.unit_id = user.role, user.unit_id
        self.mask = not sees_caller(user.role, ctx.settings.roles_seeing_caller)
        self.incidents: set[int] = set()
        if self.role == "responder" and self.unit_id is not None:
            with ctx.sessions() as session:
                mine = assignments.for_unit(session=session, unit_id=self.unit_id)
                self.incidents = {a.incident_id for a in mine}

    def sees(self, event: Published) -> bool:
        if self.role != "responder":
            return True
        if event.unit_id is not None and event.unit_id == self.unit_id and event.incident_id is not None:
            self.incidents.add(event.incident_id)
        mine = event.unit_id == self.unit_id or (event.incident_id in self.incidents)
        return mine and not event.type.startswith(("call.", "caller.", "taker."))

    def text(self, frame: Frame) -> str | None:
        if not self.sees(frame.event):
            return None
        return frame.masked if self.mask else frame.plain


def _published(row: Any) -> Published:
    return Published(row.seq, row.type, row.at, row.actor, row.data, row.incident_id, row.call_id, row.unit_id)


async def _send(ws: WebSocket, texts: list[str]) -> None:
    """Send encoded messages as JSON arrays, `_PER_MESSAGE` at most in each."""
    for start in range(0, len(texts), _PER_MESSAGE):
        await ws.send_text("[" + ",".join(texts[start : start + _PER_MESSAGE]) + "]")


async def _catch_up(ctx: Ctx, ws: WebSocket, viewer: Viewer, after: int) -> int:
    while True:
        rows = await asyncio.to_thread(_read, ctx, after)
        texts = []
        for row in rows:
            after = row.seq
            text = viewer.text(Frame(row))
            if text is not None:
                texts.append(text)
        await _send(ws, texts)
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
    user = await asyncio.to_thread(detached_user, ctx, ws)
    if user is None:
        await ws.close(code=4401, reason="login required")
        return
    if raw_since is not None and not (raw_since.isdigit() and len(raw_since) < 19):
        await ws.close(code=4400, reason="since must be a non-negative integer")
        return
    await ws.accept()
    viewer = await asyncio.to_thread(Viewer, ctx, user)
    client = Client(asyncio.Queue(maxsize=ctx.settings.ws_buffer))
    hub = broadcaster(ws.app)
    hub.clients.add(client)  # before reading the log, so nothing falls between the two
    receiver = asyncio.create_task(_watch_client(ws, client))
    try:
        last = int(raw_since) if raw_since is not None else await asyncio.to_thread(_last, ctx)
        last = await _catch_up(ctx, ws, viewer, last)
        await _send(ws, [_control("live", last)])
        await _follow(ctx, ws, viewer, client, last)
    except WebSocketDisconnect:
        pass
    finally:
        hub.clients.discard(client)
        receiver.cancel()


def _waiting(queue: asyncio.Queue[Item], first: Item) -> list[Item]:
    """`first` and whatever else is already queued: one websocket message carries them all."""
    items = [first]
    while len(items) < _PER_MESSAGE and not queue.empty():
        items.append(queue.get_nowait())
    return items


async def _follow(ctx: Ctx, ws: WebSocket, viewer: Viewer, client: Client, last: int) -> None:
    while True:
        texts: list[str] = []
        for item in _waiting(client.queue, await client.queue.get()):
            if item == _GONE:
                return
            if item == _BEHIND:
                texts.append(_control("resync", last, reason="fell behind; reconnect with since"))
                await _send(ws, texts)
                await ws.close(code=4409, reason="resync")
                return
            assert isinstance(item, Frame)
            seq = item.event.seq
            if seq <= last:
                continue
            if seq > last + 1:
                await _send(ws, texts)
                texts = []
                last = await _catch_up(ctx, ws, viewer, last)  # fills the gap, and includes this event
                continue
            text = viewer.text(item)
            if text is not None:
                texts.append(text)
            last = seq
        if texts:
            await _send(ws, texts)


async def _watch_client(ws: WebSocket, client: Client) -> None:
    """Consoles may send pings; we only need to notice when they go away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass
    if client.queue.full():
        client.queue.get_nowait()  # make room: the follower must wake up and leave
    client.queue.put_nowait(_GONE)
