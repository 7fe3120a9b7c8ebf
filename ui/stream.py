"""The `/ws` event stream: catch up from the log with `?since=SEQ`, then follow live events.

One bus subscription per app (`Broadcaster`) gathers the events committed since its last hop onto the event
loop into a `Batch`, encodes each event once — plain and, lazily, masked — and hands the batch to every
client's bounded queue: a hundred consoles cost a hundred queue puts per batch, not a hundred JSON encodings
per event. A client that falls too far behind is told to resync and closed, so one slow console never slows
the others. Events published out of order (two commits racing to the
bus) or across a gap are filled from the log, so a client never silently misses one.

Every websocket message is a JSON array of one or more messages, in order. When a client's sender wakes it
takes everything waiting in its queue and sends it as one message, and a batch without gaps is joined once for
all consoles: a burst of 200 new calls reaches a hundred consoles as about a hundred websocket messages of one
shared text instead of twenty thousand, which keeps the latency of a burst near that of a single call (see
`scripts/bench_calls.py`). Consoles are sent events at most once per `_COALESCE_S` unless a new call comes.

When the bus goes deaf (Redis down) every client is told `{"type": "bus.status", "data": {"live": false}}` (and
`true` once it is back and caught up): the console then says its updates are delayed and reads the log itself.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect

from dispatch import jsontext
from dispatch.clock import utcnow
from dispatch.events import service as events
from dispatch.events.bus import News, Published, health, watch
from dispatch.incidents import assignments
from dispatch.users.models import User
from ui import audit
from ui.access import Level, refusal
from ui.context import Ctx
from ui.deps import COOKIE, detached_user, may
from ui.origin import foreign
from ui.present import masked, sees_caller

log = logging.getLogger(__name__)
router = APIRouter()
LEVEL: Level = "person"  # ui.access: every person (a responder sees its unit's events); not the bridge
_BATCH = 500  # log rows read per query when catching up
_PER_MESSAGE = 250  # messages per websocket message at most (about 100 KB)
_BEHIND, _GONE = "behind", "gone"  # queue markers: fell behind / client disconnected
_BUS_UP, _BUS_DOWN = "bus-up", "bus-down"  # queue markers: the bus is live / deaf
# Consoles are sent events at most once per _COALESCE_S, except that a new call goes at once. A call brings about
# five more events (queued, connecting, answered, recording, ended, a call-taker available again), often a few
# milliseconds apart; sent one by one to 100 consoles they cost a send each (docs/telephony.md, stops 12 and 13).
# At 20 calls/s a window of 100 ms lets most of them ride with the next new call; 20 ms left the server and the
# consoles a fifth more CPU a call, and a tenth of a second is below what a person at a console notices.
_COALESCE_S = 0.1
_URGENT = frozenset({"call.offered"})


@dataclass(eq=False)
class Frame:
    """One event, encoded once for everybody who may see it whole and once for the masked roles."""

    event: Published

    @cached_property
    def plain(self) -> str:
        return jsontext.dumps(self.event.wire())

    @cached_property
    def masked(self) -> str:
        return jsontext.dumps(masked(self.event.wire()))


@dataclass(eq=False)
class Batch:
    """Events handed to every client in one queue put, in sequence order (at most `_PER_MESSAGE`).

    When the seqs run without a gap, a client that sees every event sends the batch's shared text, joined
    once for all consoles: a burst of 200 calls costs a hundred queue puts and two joins, not 20,000 of each.
    """

    frames: list[Frame]

    @cached_property
    def unbroken(self) -> bool:
        return self.frames[-1].event.seq - self.frames[0].event.seq == len(self.frames) - 1

    def follows(self, last: int) -> bool:
        return self.unbroken and self.frames[0].event.seq == last + 1

    @cached_property
    def plain(self) -> str:
        return ",".join(f.plain for f in self.frames)

    @cached_property
    def masked(self) -> str:
        return ",".join(f.masked for f in self.frames)


Item = Batch | str


class Client:
    """One console's queue of batches, bounded by the number of events in it (`TANGGAP_WS_BUFFER`)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.items: collections.deque[Item] = collections.deque()
        self.ready = asyncio.Event()

    def offer(self, item: Item) -> None:
        if self.items and self.items[-1] in (_BEHIND, _GONE):
            return  # it is leaving; nothing more to send
        n = len(item.frames) if isinstance(item, Batch) else 0
        if item == _GONE or self.size + n <= self.limit:
            self.items.append(item)
            self.size += n
        else:
            self.items.clear()  # fell behind: what it has not sent is replaced by the resync notice
            self.items.append(_BEHIND)
            self.size = 0
        self.ready.set()

    async def take(self) -> list[Item]:
        """Everything waiting, once there is something: one websocket message carries it all."""
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        items = list(self.items)
        self.items.clear()
        self.size = 0
        return items


@dataclass(eq=False)
class Broadcaster:
    loop: asyncio.AbstractEventLoop
    clients: set[Client] = field(default_factory=set)
    unsubscribe: Any = None
    unwatch: Any = None
    _pending: list[Published] = field(default_factory=list)  # committed, not yet on the loop
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _held: list[Published] = field(default_factory=list)  # on the loop, waiting for the window to end
    _sent_at: float = float("-inf")
    _timer: asyncio.TimerHandle | None = None

    def from_bus(self, event: Published) -> None:
        """Called on the committing thread: events committed meanwhile ride one hop onto the loop."""
        with self._lock:
            self._pending.append(event)
            if len(self._pending) > 1:
                return  # a hop is scheduled already and will take this event too
        self.loop.call_soon_threadsafe(self.fan_out)

    def fan_out(self) -> None:
        """Hand the events to every client now if one is a new call or the last round is `_COALESCE_S` old;
        otherwise once it is, with whatever comes meanwhile."""
        with self._lock:
            events, self._pending = self._pending, []
        self._held.extend(events)
        if any(e.type in _URGENT for e in events) or self.loop.time() >= self._sent_at + _COALESCE_S:
            self._send()
        elif self._timer is None:
            self._timer = self.loop.call_at(self._sent_at + _COALESCE_S, self._send)

    def from_watch(self, news: News) -> None:
        """Called on the bus's thread when it goes deaf, is live again, or lost too much to replay."""
        self.loop.call_soon_threadsafe(self._tell, news)

    def _tell(self, news: News) -> None:
        self.fan_out()  # events the bus delivered before its news go first
        if self._held:
            self._send()
        marker = {"live": _BUS_UP, "deaf": _BUS_DOWN, "resync": _BEHIND}[news]
        for client in list(self.clients):
            client.offer(marker)

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        events, self._held = self._held, []
        self._sent_at = self.loop.time()
        events.sort(key=lambda e: e.seq)
        for start in range(0, len(events), _PER_MESSAGE):
            batch = Batch([Frame(e) for e in events[start : start + _PER_MESSAGE]])
            for client in list(self.clients):
                client.offer(batch)

    def close(self) -> None:
        """Stop taking events from the bus; events still held for the window are dropped with the clients."""
        if self.unsubscribe is not None:
            self.unsubscribe()
        if self.unwatch is not None:
            self.unwatch()
        if self._timer is not None:
            self._timer.cancel()


def broadcaster(app: FastAPI) -> Broadcaster:
    found: Broadcaster | None = getattr(app.state, "broadcaster", None)
    if found is None:
        found = Broadcaster(asyncio.get_running_loop())
        found.unsubscribe = app.state.ctx.bus.subscribe(found.from_bus)
        found.unwatch = watch(app.state.ctx.bus, found.from_watch)
        app.state.broadcaster = found
    return found


def close(app: FastAPI) -> None:
    found: Broadcaster | None = getattr(app.state, "broadcaster", None)
    if found is not None:
        found.close()
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

    def shared(self, batch: Batch) -> str | None:
        """The batch's text joined once for every console (None for a responder, who sees a selection)."""
        if self.role == "responder":
            return None
        return batch.masked if self.mask else batch.plain

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


Part = tuple[str, int]  # encoded messages joined by commas, and how many they are


def _one(text: str) -> Part:
    return (text, 1)


async def _send(ws: WebSocket, parts: list[Part]) -> None:
    """Send the parts as JSON arrays of `_PER_MESSAGE` messages at most (a part is never split)."""
    chunk: list[str] = []
    count = 0
    for text, n in parts:
        if chunk and count + n > _PER_MESSAGE:
            await ws.send_text("[" + ",".join(chunk) + "]")
            chunk, count = [], 0
        chunk.append(text)
        count += n
    if chunk:
        await ws.send_text("[" + ",".join(chunk) + "]")


async def _catch_up(ctx: Ctx, ws: WebSocket, viewer: Viewer, after: int) -> int:
    while True:
        rows = await asyncio.to_thread(_read, ctx, after)
        parts = []
        for row in rows:
            after = row.seq
            text = viewer.text(Frame(row))
            if text is not None:
                parts.append(_one(text))
        await _send(ws, parts)
        if len(rows) < _BATCH:
            return after


def _read(ctx: Ctx, after: int) -> list[Published]:
    with ctx.sessions() as session:
        return [_published(r) for r in events.since(session, after, limit=_BATCH)]


def _last(ctx: Ctx) -> int:
    with ctx.sessions() as session:
        return events.last_seq(session)


def _control(kind: str, seq: int | None, **data: Any) -> str:
    return jsontext.dumps({"seq": seq, "type": kind, "at": utcnow().isoformat(), "data": data})


def _bus_status(live: bool) -> Part:
    # No sequence number: it is about this server, not an event of the log, and must not move a client's `since`.
    return _one(_control("bus.status", None, live=live))


@router.websocket("/ws")
async def stream(ws: WebSocket) -> None:
    ctx: Ctx = ws.app.state.ctx
    raw_since = ws.query_params.get("since")
    if ws.cookies.get(COOKIE) and (who := foreign(ws, ctx.settings)) is not None:
        # Another site's page opening the stream with the console's cookie: refused before the handshake (403).
        log.info("websocket from another origin refused: %s", who)
        await ws.close(code=4403, reason="cross-origin websocket refused")
        return
    user = await asyncio.to_thread(detached_user, ctx, ws)
    if user is None:
        await ws.close(code=4401, reason="login required")
        return
    if not may(user, LEVEL):
        await ws.close(code=4403, reason=refusal(LEVEL, user.role))
        return
    if raw_since is not None and not (raw_since.isdigit() and len(raw_since) < 19):
        await ws.close(code=4400, reason="since must be a non-negative integer")
        return
    await ws.accept()
    viewer = await asyncio.to_thread(Viewer, ctx, user)
    client = Client(ctx.settings.ws_buffer)
    hub = broadcaster(ws.app)
    hub.clients.add(client)  # before reading the log, so nothing falls between the two
    receiver = asyncio.create_task(_watch_client(ws, client))
    closed = None  # adds the access audit's row for the end of a connection that receives full numbers
    try:
        last = int(raw_since) if raw_since is not None else await asyncio.to_thread(_last, ctx)
        if not viewer.mask:
            closed = audit.streaming(ws, user, last)
        last = await _catch_up(ctx, ws, viewer, last)
        live = [_one(_control("live", last))]
        if health(ctx.bus) != "ok":
            live.append(_bus_status(False))
        await _send(ws, live)
        await _follow(ctx, ws, viewer, client, last)
    except WebSocketDisconnect:
        pass
    finally:
        hub.clients.discard(client)
        receiver.cancel()
        if closed is not None:
            closed()


async def _follow(ctx: Ctx, ws: WebSocket, viewer: Viewer, client: Client, last: int) -> None:
    while True:
        parts: list[Part] = []
        for item in await client.take():
            if item == _GONE:
                return
            if item in (_BUS_UP, _BUS_DOWN):
                parts.append(_bus_status(item == _BUS_UP))
                continue
            if item == _BEHIND:
                parts.append(_one(_control("resync", last, reason="fell behind; reconnect with since")))
                await _send(ws, parts)
                await ws.close(code=4409, reason="resync")
                return
            assert isinstance(item, Batch)
            shared = viewer.shared(item) if item.follows(last) else None
            if shared is not None:
                parts.append((shared, len(item.frames)))
                last = item.frames[-1].event.seq
                continue
            for frame in item.frames:
                seq = frame.event.seq
                if seq <= last:
                    continue
                if seq > last + 1:
                    await _send(ws, parts)
                    parts = []
                    last = await _catch_up(ctx, ws, viewer, last)  # fills the gap, and includes this event
                    continue
                text = viewer.text(frame)
                if text is not None:
                    parts.append(_one(text))
                last = seq
        if parts:
            await _send(ws, parts)


async def _watch_client(ws: WebSocket, client: Client) -> None:
    """Consoles may send pings; we only need to notice when they go away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass
    client.offer(_GONE)
