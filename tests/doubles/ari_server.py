"""An Asterisk ARI double on a real socket: REST and the events websocket, answering and sending what a real
Asterisk 22.10.1 did in the captures (tests/fixtures/asterisk/asterisk-22.10.1/, its README lists the facts).
For tests and the benchmark; no PBX needed. Where this double and a capture disagree, the capture is right.

Modelled because callers get hurt when a double is kinder than Asterisk: creating an existing bridge is a 409;
addChannel/removeChannel of an unknown channel a 400; BridgeDestroyed only while the app is still subscribed
to the bridge; a bridge recording ends when its last channel leaves; a missing sound file gives 201 and then
PlaybackFinished `failed` (the playback language is the channel's unless `lang` is given, and a file missing in
that language falls back to English); playbacks and channel recordings on one channel queue behind each
other; a BYE after a caller was taken out of a holding bridge with music carries cause 16; desk legs send
Dial events and are destroyed with the causes and tech causes of the captures; an unregistered desk is a 500
`{"error": "Allocation failed"}`; only the newest events connection of the app gets events (the older one gets
one ApplicationReplaced and nothing else), and when it closes new calls fail Stasis even though the older one
is still open; events of a gap between connections are lost; the handshake refuses with HTTP 401/400.
The fallback path of the sample dialplan (Stasis() failed: Dial() of the desk phones) and its AstDB journal are
modelled by `fallback_call`: ARI lists those channels and reads their variables but sends no event for them.

Not modelled (noise the bridge must ignore anyway): the ChannelVarset RTPAUDIOQOS*/BRIDGEPEER/BRIDGEPVTCALLID
events and ChannelConnectedLine of real PJSIP legs; the `;2` half of Local channels; other apps' events.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.doubles.ari_model import (
    BRIDGE_TYPES,
    CAUSES,
    DESK_CONTEXT,
    HANGUP_REASONS,
    MEDIA_SCHEMES,
    NO_APP_PAGE,
    RECORDING_FORMATS,
    TECHNOLOGIES,
    Bridge,
    Chan,
    Dialplan,
    Json,
    Playback,
    Recording,
    UnknownFunction,
    asterisk_info,
    caller_channel,
    caller_id,
    default_sounds,
    desk_channel,
    dialled_desk,
    envelope,
    error,
    fallback_channel,
    outgoing_line,
    quiet_denials,
    read_variable,
    stamp,
    unauthorised,
    wav,
)

__all__ = ["AriDouble", "Bridge", "Chan", "stamp"]
Handler = Callable[[Request], Awaitable[Response]]


class AriDouble:
    def __init__(self, app: str = "tanggap112", user: str = "tanggap", password: str = "rahasia") -> None:
        self.app, self.user, self.password = app, user, password
        self.channels: dict[str, Chan] = {}
        self.bridges: dict[str, Bridge] = {}
        self.playbacks: dict[str, Playback] = {}  # id -> the first playback with that id not yet finished
        self.recordings: dict[str, Recording] = {}  # live recordings by name
        self.stored: dict[str, bytes] = {}
        self.stored_formats: dict[str, str] = {}
        self.sounds: dict[str, set[str]] = default_sounds()  # language -> media names without `sound:`
        self.astdb: dict[str, str] = {}  # "family/key" -> value
        self.journal_family = "tanggap112-fallback"
        self.sockets: list[WebSocket] = []  # every open events connection, oldest first
        self.active: WebSocket | None = None  # the newest connection of our app: the only one that gets events
        self.app_registered = False  # Asterisk has the app (GET /applications): it outlives its socket while
        # it still has channels or bridges
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.sent: list[Json] = []
        # endpoint resource -> answer | busy | no-answer | ring | silent | unregistered | unknown
        self.endpoints: dict[str, str] = {}
        self.playback_s: float | None = 0.0  # per media item; None: playbacks run until stopped or hung up
        self.no_answer_s = 0.05
        self.on_event: Callable[[Json], None] | None = None
        self._ids = itertools.count(int(time.time()) * 100)
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = time.time()
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> AriDouble:
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it every
        # request on a kept-alive connection waited 40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi(), log_level="warning", ws="websockets-sansio", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        logging.getLogger("uvicorn.error").addFilter(quiet_denials)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
            await asyncio.sleep(0.005)
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.drop_websockets()
        if self._server is not None:
            self._server.should_exit = True
        if self._serve_task is not None:
            await self._serve_task

    def _later(self, delay: float, fn: Callable[[], Any]) -> None:
        async def run() -> None:
            if delay > 0:
                await asyncio.sleep(delay)
            result = fn()
            if asyncio.iscoroutine(result):
                await result

        self._spawn(run())

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _new_id(self) -> tuple[str, int]:
        n = next(self._ids)
        return f"{n // 100}.{n % 100}", n

    # -- what the test drives ---------------------------------------------------------------------------

    @property
    def app_connected(self) -> bool:
        return self.active is not None

    async def incoming_call(
        self,
        caller: str = "+6281234567890",
        *,
        name: str = "",
        exten: str = "112",
        args: list[str] | None = None,
        technology: str = "PJSIP",
        channel_id: str | None = None,
        resource: str | None = None,
        language: str = "en",
    ) -> str | None:
        """A call reaches Stasis(tanggap112,incoming,<caller>,<lang>) at priority 4 of `[emergency]`; None when
        no connection of the app is active (Stasis() fails; `fallback_call` models what the dialplan does next).
        `language` is CHANNEL(language), which the sample dialplan leaves at Asterisk's default."""
        if self.active is None:
            return None
        new_id, n = self._new_id()
        args = ["incoming", caller, "id"] if args is None else args
        where = f"{technology}/{resource or 'operator-trunk'}-{n:08x}"
        chan = caller_channel(channel_id or new_id, where, (name, caller), exten, self.app, args, language)
        self.channels[chan.id] = chan
        await self.emit("StasisStart", {"args": args, "channel": chan.json()}, channel=chan)
        return chan.id

    async def caller_hangup(self, channel_id: str, *, bye: bool = True) -> None:
        """The caller (or a desk phone) hangs up. A SIP BYE gives a ChannelHangupRequest without cause, unless
        the caller was taken out of a holding bridge with music: then it says cause 16."""
        chan = self.channels.get(channel_id)
        if chan is None:
            return
        if chan.fallback is not None:
            await self._end_fallback(chan)
        elif chan.in_stasis or chan.subscribed:
            request: Json = {"cause": 16} if chan.moh_released or not bye else {}
            await self._hangup(chan, request, 16)
        else:
            del self.channels[chan.id]

    async def dtmf(self, channel_id: str, digit: str) -> None:
        chan = self.channels[channel_id]
        await self.emit(
            "ChannelDtmfReceived", {"digit": digit, "duration_ms": 100, "channel": chan.json()}, channel=chan
        )

    async def answer_taker(self, channel_id: str) -> None:
        """The ringing desk phone is picked up: the originated channel enters Stasis with its appArgs."""
        chan = self.channels[channel_id]
        chan.state, chan.ringing = "Up", False
        await self.emit("ChannelStateChange", {"channel": chan.json()}, channel=chan)
        await self._dial(chan, "ANSWER")
        chan.dialplan = Dialplan(DESK_CONTEXT, "s", 1, "Stasis", ",".join([self.app, *chan.args]))
        chan.in_stasis = True
        await self.emit(
            "ChannelVarset", {"variable": "STASISSTATUS", "value": "", "channel": chan.json()}, channel=chan
        )
        await self.emit("StasisStart", {"args": chan.args, "channel": chan.json()}, channel=chan)

    async def end_playback(self, playback_id: str) -> None:
        """The media item playing now has been played through (for tests that run with `playback_s = None`)."""
        playback = self.playbacks.get(playback_id)
        if playback is not None and playback.state == "playing":
            await self._item_done(playback, playback.item)

    async def fallback_call(
        self,
        caller: str,
        *,
        desk: str | None = "taker1",
        answer_after_s: float = 0.0,
        talk_s: float | None = 0.0,
        cause: int = 16,
    ) -> str:
        """A 112 call whose Stasis() failed (no connection, or the app was replaced): the sample dialplan rings
        the desk phones with Dial() and journals the call in AstDB. Returns the caller channel's uniqueid.
        `desk` answers after `answer_after_s` (None: nobody does); the call ends `talk_s` later (None: when the
        test calls `caller_hangup`). Steps with no delay have happened when this returns. No events are sent."""
        uniqueid, n = self._new_id()
        key = f"{self.journal_family}/{uniqueid}"
        self.channels[uniqueid] = fallback_channel(uniqueid, f"PJSIP/operator-trunk-{n:08x}", caller, key, cause)
        self.astdb[key] = f"caller={quote(caller, safe='')}&start={int(time.time())}"
        self._spawn(self._run_fallback(self.channels[uniqueid], desk, answer_after_s, talk_s))
        await asyncio.sleep(0)  # the task runs its undelayed steps now
        return uniqueid

    async def drop_websockets(self, abrupt: bool = False) -> None:
        """Every events connection ends at once. `abrupt` is `core stop now`: the TCP connection drops without
        a close frame (the client sees 1006); otherwise a close frame 1001 (going away)."""
        sockets, self.sockets, self.active = self.sockets, [], None
        self._maybe_forget_app()
        for ws in sockets:
            if abrupt:
                self._abort(ws.scope)
            else:
                with contextlib.suppress(Exception):
                    await ws.close(code=1001)

    async def wait_for(self, check: Callable[[], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll a condition on the system under test (which has no event to offer us)."""
        async with asyncio.timeout(timeout):
            while not check():  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    def holding(self, channel_id: str) -> bool:
        """The caller waits as a caller should: in a holding bridge (not a mixing one, where waiting callers
        hear each other) whose music plays."""
        return any(
            b.kind == "holding" and b.moh_class is not None and channel_id in b.channels for b in self.bridges.values()
        )

    def calls_to(self, method: str, path_part: str) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if r[0] == method and path_part in r[1]]

    # -- events -----------------------------------------------------------------------------------------

    async def emit(self, kind: str, body: Json, *, channel: Chan | None = None) -> None:
        """Send to the active connection; an event about a channel only while the app has that channel."""
        if channel is not None and not (channel.in_stasis or channel.subscribed):
            return
        event = envelope(kind, body, self.app)
        self.sent.append(event)
        if self.on_event is not None:
            self.on_event(event)
        if self.active is not None:
            await self._send(self.active, event)

    async def _send(self, ws: WebSocket, event: Json) -> None:
        try:
            await ws.send_text(json.dumps(event))
        except Exception:
            self._closed(ws)

    async def _events(self, ws: WebSocket) -> None:
        if not self._authorised(ws):
            await ws.send_denial_response(unauthorised())
            return
        apps = [a for a in ws.query_params.get("app", "").split(",") if a]
        if not apps:
            await ws.send_denial_response(HTMLResponse(NO_APP_PAGE, status_code=400))
            return
        await ws.accept()
        self.sockets.append(ws)
        if self.app in apps:
            await self._take_over(ws)
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        except WebSocketDisconnect:
            pass
        finally:
            self._closed(ws)

    async def _take_over(self, ws: WebSocket) -> None:
        """A newer connection for the app replaces the active one, which is told once and then left deaf."""
        replaced, self.active, self.app_registered = self.active, ws, True
        if replaced is not None:
            event = envelope("ApplicationReplaced", {}, self.app)
            self.sent.append(event)
            await self._send(replaced, event)

    def _closed(self, ws: WebSocket) -> None:
        if ws in self.sockets:
            self.sockets.remove(ws)
        if ws is self.active:
            self.active = None
            self._maybe_forget_app()

    def _maybe_forget_app(self) -> None:
        """Asterisk destroys an app with no connection once it has no channel and no bridge left."""
        if self.active is None and not self._app_json()["channel_ids"] and not self._app_json()["bridge_ids"]:
            self.app_registered = False

    def _abort(self, scope: Any) -> None:
        """Drop the TCP connection of this request or websocket without a word, as a dying process does."""
        client = tuple(scope.get("client") or ())
        for connection in list(self._server.server_state.connections if self._server else ()):
            if getattr(connection, "client", None) == client:
                connection.transport.abort()

    # -- channels ---------------------------------------------------------------------------------------

    async def _hangup(self, chan: Chan, request: Json, cause: int) -> None:
        """A channel in Stasis (or one the app subscribed to) goes: events in the order Asterisk sends them."""
        if self.channels.get(chan.id) is not chan:
            return
        await self.emit("ChannelHangupRequest", {**request, "channel": chan.json()}, channel=chan)
        await self._drop_queue(chan)
        emptied = await self._leave(chan, hangup=True) if chan.bridge else None
        del self.channels[chan.id]
        if chan.in_stasis:
            await self.emit("StasisEnd", {"channel": chan.json()}, channel=chan)
            chan.in_stasis = False
            await self.emit(
                "ChannelVarset", {"variable": "STASISSTATUS", "value": "SUCCESS", "channel": chan.json()}, channel=chan
            )
        if emptied is not None and emptied.recording in self.recordings:
            await self._finish_recording(self.recordings[emptied.recording])
        if chan.name.startswith("Local/"):  # the other half of a Local channel hangs up this one too
            await self.emit("ChannelHangupRequest", {"cause": 16, "soft": True, "channel": chan.json()}, channel=chan)
        await self._destroyed(chan, cause)
        self._maybe_forget_app()

    async def _destroyed(self, chan: Chan, cause: int, tech_cause: int | None = None) -> None:
        self.channels.pop(chan.id, None)
        after = chan.after or Dialplan(chan.dialplan.context, chan.dialplan.exten, chan.dialplan.priority, "", "")
        body: Json = {"cause": cause, "cause_txt": CAUSES.get(cause, "Unknown")}
        if tech_cause is not None:
            body["tech_cause"] = tech_cause
        await self.emit("ChannelDestroyed", {**body, "channel": chan.json(dialplan=after)}, channel=chan)

    async def _dial(self, chan: Chan, status: str) -> None:
        body = {"dialstatus": status, "forward": "", "dialstring": chan.dialstring, "peer": chan.json()}
        await self.emit("Dial", body, channel=chan)

    def _behaviour(self, resource: str) -> str:
        return self.endpoints.get(resource) or self.endpoints.get(resource.split("/", 1)[0], "answer")

    async def _ring(self, desk: Chan, behaviour: str, ring_s: float) -> None:
        """An originated desk leg: Dial events as app_dial sends them, then what the phone does."""
        if self.channels.get(desk.id) is not desk:
            return
        await self._dial(desk, "")
        if behaviour == "busy":
            await self.emit(
                "ChannelHangupRequest", {"cause": 17, "tech_cause": 486, "channel": desk.json()}, channel=desk
            )
            await self._dial(desk, "BUSY")
            await self._destroyed(desk, 17, 486)
            return
        if behaviour == "silent":
            return
        desk.state, desk.ringing = "Ringing", True
        await self.emit("ChannelStateChange", {"channel": desk.json()}, channel=desk)
        await self._dial(desk, "RINGING")
        if behaviour == "answer":
            await self.answer_taker(desk.id)
        else:  # ring / no-answer: the originate timeout ends it
            wait = min(ring_s, self.no_answer_s) if behaviour == "no-answer" else ring_s
            self._later(wait, lambda: self._unanswered(desk))

    async def _unanswered(self, desk: Chan) -> None:
        if self.channels.get(desk.id) is desk and not desk.in_stasis:
            await self._destroyed(desk, 19, 480)

    # -- playbacks and channel recordings: the channel's control queue -----------------------------------

    def _kick(self, chan: Chan) -> None:
        self._later(0, lambda: self._advance(chan))

    async def _advance(self, chan: Chan) -> None:
        if self.channels.get(chan.id) is not chan or not chan.queue or chan.queue[0].state != "queued":
            return
        head = chan.queue[0]
        if isinstance(head, Playback):
            head.state = "playing"
            await self.emit("PlaybackStarted", {"playback": head.json()})
            await self._play_item(chan, head)
        else:
            await self._start_channel_recording(chan, head)

    def _media_exists(self, media: str, language: str) -> bool:
        scheme, _, name = media.partition(":")
        if scheme == "sound":
            return name in self.sounds.get(language, set()) or name in self.sounds.get("en", set())
        return name in self.stored if scheme == "recording" else True

    async def _play_item(self, chan: Chan, playback: Playback) -> None:
        playback.item += 1
        media = playback.media[playback.index]
        if playback.stopped:
            await self._finish_playback(playback, "done")
        elif media.partition(":")[0] not in MEDIA_SCHEMES:  # Asterisk starts it and then forgets it
            self._forget_playback(playback)
            self._kick(chan)
        elif not self._media_exists(media, playback.language):
            await (self._finish_playback(playback, "failed") if playback.last else self._next_item(playback))
        elif self.playback_s is not None:
            item = playback.item
            self._later(self.playback_s, lambda: self._item_done(playback, item))

    async def _item_done(self, playback: Playback, item: int) -> None:
        if playback.item == item and playback.state == "playing":
            await (self._finish_playback(playback, "done") if playback.last else self._next_item(playback))

    async def _next_item(self, playback: Playback) -> None:
        await self.emit("PlaybackContinuing", {"playback": playback.json("continuing")})
        playback.index += 1
        await self.emit("PlaybackStarted", {"playback": playback.json()})
        chan = self.channels.get(playback.channel)
        if chan is not None:
            await self._play_item(chan, playback)

    async def _finish_playback(self, playback: Playback, state: str) -> None:
        if playback.state in ("done", "failed"):
            return
        playback.state = state
        await self.emit("PlaybackFinished", {"playback": playback.json()})
        self._forget_playback(playback)
        chan = self.channels.get(playback.channel)
        if chan is not None:
            self._kick(chan)

    def _forget_playback(self, playback: Playback) -> None:
        chan = self.channels.get(playback.channel)
        if chan is not None and playback in chan.queue:
            chan.queue.remove(playback)
        if self.playbacks.get(playback.id) is playback:
            del self.playbacks[playback.id]
            same = [op for op in (chan.queue if chan else []) if isinstance(op, Playback) and op.id == playback.id]
            if same:
                self.playbacks[playback.id] = same[0]

    async def _start_channel_recording(self, chan: Chan, recording: Recording) -> None:
        if chan.bridge:
            chan.queue.remove(recording)
            self.recordings.pop(recording.name, None)
            failed = recording.json("failed", cause="Cannot record channel while in bridge")
            await self.emit("RecordingFailed", {"recording": failed})
            self._kick(chan)
            return
        recording.state, recording.started, recording.announced = "recording", time.time(), True
        await self.emit("RecordingStarted", {"recording": recording.json()})

    async def _drop_queue(self, chan: Chan) -> None:
        """The channel hangs up: what plays fails, what records is saved, what waits is dropped."""
        queue, chan.queue = list(chan.queue), []
        for op in queue:
            if isinstance(op, Playback):
                if op.state == "playing":
                    op.state = "failed"
                    await self.emit("PlaybackFinished", {"playback": op.json()})
                if self.playbacks.get(op.id) is op:
                    del self.playbacks[op.id]
            elif op.state == "recording":
                await self._finish_recording(op)
            else:
                self.recordings.pop(op.name, None)

    async def _finish_recording(self, recording: Recording) -> None:
        if self.recordings.get(recording.name) is not recording:
            return
        del self.recordings[recording.name]
        heard = time.time() - recording.started if recording.announced and recording.started else 0.0
        self.stored[recording.name], self.stored_formats[recording.name] = wav(heard), recording.format
        if recording.announced:
            finished = recording.json("done", duration=recording.duration())
            await self.emit("RecordingFinished", {"recording": finished})
        kind, _, target = recording.target.partition(":")
        bridge = self.bridges.get(target) if kind == "bridge" else None
        if bridge is not None and bridge.recording == recording.name:
            bridge.recording, bridge.softmix = None, False
        chan = self.channels.get(target) if kind == "channel" else None
        if chan is not None and recording in chan.queue:
            chan.queue.remove(recording)
            self._kick(chan)

    # -- bridges ----------------------------------------------------------------------------------------

    async def _enter(self, chan: Chan, bridge: Bridge) -> None:
        chan.bridge = bridge.id
        bridge.channels.append(chan.id)
        bridge.watchers.add(chan.id)
        await self.emit("ChannelEnteredBridge", {"bridge": bridge.json(), "channel": chan.json()}, channel=chan)
        recording = self.recordings.get(bridge.recording or "")
        if recording is not None and not recording.announced:
            await self._announce(recording)
        elif recording is not None and len(bridge.channels) >= 2:
            bridge.softmix = True

    async def _leave(self, chan: Chan, *, hangup: bool = False) -> Bridge | None:
        """Returns the bridge if this hang-up emptied it while it records (the caller ends the recording)."""
        bridge = self.bridges.get(chan.bridge or "")
        chan.bridge = None
        if bridge is None or chan.id not in bridge.channels:
            return None
        bridge.channels.remove(chan.id)
        if not hangup:  # removeChannel or a move: the app unsubscribes from the bridge
            bridge.watchers.discard(chan.id)
        shown = None
        if not bridge.channels:
            music = bridge.kind == "holding" and bridge.moh_class is not None
            if hangup and (music or (bridge.recording in self.recordings and not bridge.softmix)):
                bridge.helper_id = bridge.helper_id or self._new_id()[0]
                shown = [bridge.helper_id]  # the MOH Announcer or the Recorder, still in the bridge
            bridge.softmix = False
        await self.emit("ChannelLeftBridge", {"bridge": bridge.json(shown), "channel": chan.json()}, channel=chan)
        if bridge.channels or bridge.recording not in self.recordings:
            return None
        if hangup:
            return bridge
        await self._finish_recording(self.recordings[bridge.recording or ""])
        return None

    async def _announce(self, recording: Recording) -> None:
        if self.recordings.get(recording.name) is not recording or recording.announced:
            return
        recording.state, recording.announced = "recording", True
        recording.started = recording.started or time.time()
        await self.emit("RecordingStarted", {"recording": recording.json()})
        bridge = self.bridges.get(recording.target.partition(":")[2])
        if bridge is not None and len(bridge.channels) >= 2:
            bridge.softmix = True

    def _app_json(self) -> Json:
        return {
            "name": self.app,
            "channel_ids": [c.id for c in self.channels.values() if c.in_stasis],
            "bridge_ids": [b.id for b in self.bridges.values() if b.watchers and not b.basic],
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }

    # -- the dialplan's fallback ------------------------------------------------------------------------

    async def _run_fallback(self, chan: Chan, desk: str | None, ring_s: float, talk_s: float | None) -> None:
        if ring_s > 0:
            await asyncio.sleep(ring_s)
        if desk is not None and self.channels.get(chan.id) is chan:
            self._fallback_answered(chan, desk)
        if talk_s is None:
            return
        if talk_s > 0:
            await asyncio.sleep(talk_s)
        await self._end_fallback(chan)

    def _journal(self, chan: Chan, entry: str) -> None:
        """Append to the call's trace as the dialplan does: Set(DB(fam/key)=${DB(fam/key)}&...)."""
        assert chan.fallback is not None
        key = chan.fallback.key
        self.astdb[key] = self.astdb.get(key, "") + entry

    def _fallback_answered(self, chan: Chan, desk: str) -> None:
        assert chan.fallback is not None
        self._journal(chan, f"&answered={int(time.time())}&desk={desk}")
        chan.connected = ("", "112")
        leg_id, n = self._new_id()
        leg = dialled_desk(leg_id, f"PJSIP/{desk}-{n:08x}", chan.caller)
        bridge = Bridge(str(uuid.uuid4()), "mixing", "", time.time(), channels=[chan.id, leg_id], basic=True)
        self.channels[leg_id], self.bridges[bridge.id] = leg, bridge
        chan.fallback.desk_leg, chan.fallback.dial_bridge = leg_id, bridge.id

    async def _end_fallback(self, chan: Chan, cause: int | None = None) -> None:
        if self.channels.get(chan.id) is not chan or chan.fallback is None:
            return
        self._journal(chan, f"&end={int(time.time())}&cause={cause or chan.fallback.cause}")
        del self.channels[chan.id]
        self.channels.pop(chan.fallback.desk_leg or "", None)
        self.bridges.pop(chan.fallback.dial_bridge or "", None)

    # -- REST -------------------------------------------------------------------------------------------

    def _asgi(self) -> Starlette:
        def r(path: str, handler: Handler, method: str) -> Route:
            return Route("/ari" + path, self._rest(handler), methods=[method])

        return Starlette(
            routes=[
                WebSocketRoute("/ari/events", self._events),
                r("/asterisk/info", self._info, "GET"),
                r("/channels", self._list_channels, "GET"),
                r("/channels", self._originate, "POST"),
                r("/channels/{id}", self._get_channel, "GET"),
                r("/channels/{id}", self._delete_channel, "DELETE"),
                r("/channels/{id}/answer", self._answer, "POST"),
                r("/channels/{id}/play", self._play, "POST"),
                r("/channels/{id}/play/{playback}", self._play, "POST"),
                r("/channels/{id}/record", self._record_channel, "POST"),
                r("/channels/{id}/variable", self._get_variable, "GET"),
                r("/playbacks/{id}", self._get_playback, "GET"),
                r("/playbacks/{id}", self._stop_playback, "DELETE"),
                r("/bridges", self._list_bridges, "GET"),
                r("/bridges", self._create_bridge, "POST"),
                r("/bridges/{id}", self._get_bridge, "GET"),
                r("/bridges/{id}", self._create_bridge, "POST"),
                r("/bridges/{id}", self._delete_bridge, "DELETE"),
                r("/bridges/{id}/addChannel", self._add_channel, "POST"),
                r("/bridges/{id}/removeChannel", self._remove_channel, "POST"),
                r("/bridges/{id}/moh", self._moh, "POST"),
                r("/bridges/{id}/moh", self._stop_moh, "DELETE"),
                r("/bridges/{id}/record", self._record_bridge, "POST"),
                r("/recordings/live/{name}", self._get_live, "GET"),
                r("/recordings/live/{name}/stop", self._stop_live, "POST"),
                r("/recordings/stored/{name}", self._get_stored, "GET"),
                r("/recordings/stored/{name}", self._delete_stored, "DELETE"),
                r("/recordings/stored/{name}/file", self._stored_file, "GET"),
                r("/applications", self._list_applications, "GET"),
                r("/applications/{app}", self._get_application, "GET"),
                r("/applications/{app}/subscription", self._subscribe, "POST"),
            ]
        )

    def _rest(self, handler: Handler) -> Handler:
        async def handle(request: Request) -> Response:
            self.requests.append((request.method, request.url.path, dict(request.query_params)))
            return await handler(request) if self._authorised(request) else unauthorised()

        return handle

    def _authorised(self, request: Request | WebSocket) -> bool:
        key = request.query_params.get("api_key")
        if key is not None:
            return key == f"{self.user}:{self.password}"
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            return base64.b64decode(header[6:]).decode() == f"{self.user}:{self.password}"
        return False

    def _chan(self, request: Request) -> Chan | None:
        return self.channels.get(request.path_params["id"])

    async def _info(self, request: Request) -> Response:
        return JSONResponse(asterisk_info(self.started))

    async def _list_channels(self, request: Request) -> Response:
        return JSONResponse([c.json() for c in self.channels.values()])

    async def _get_channel(self, request: Request) -> Response:
        chan = self._chan(request)
        return JSONResponse(chan.json()) if chan else error(404, "Channel not found")

    async def _get_variable(self, request: Request) -> Response:
        chan, name = self._chan(request), request.query_params.get("variable")
        if chan is None:
            return error(404, "Channel not found")
        if not name:
            return error(400, "Variable name is required")
        try:
            value = read_variable(name, chan, self.astdb)
        except UnknownFunction:
            return error(500, "Unable to read provided function")
        return error(404, "Provided variable was not found") if value is None else JSONResponse({"value": value})

    async def _originate(self, request: Request) -> Response:
        q = request.query_params
        endpoint = q.get("endpoint", "")
        if not endpoint:
            return error(400, "Endpoint must be specified")
        if "/" not in endpoint:
            return error(400, "Invalid endpoint specified")
        if not q.get("app") and not q.get("extension"):
            return error(400, "Application or extension must be specified")
        new_id, n = self._new_id()
        channel_id = q.get("channelId") or new_id
        if channel_id in self.channels:
            return error(409, "Channel with given unique ID already exists")
        technology, resource = endpoint.split("/", 1)
        behaviour = self._behaviour(resource)
        if technology not in TECHNOLOGIES or behaviour in ("unregistered", "unknown"):
            return JSONResponse({"error": "Allocation failed"}, status_code=500)
        if not q.get("app"):
            return self._into_dialplan(request, endpoint, channel_id, n)
        args = q["appArgs"].split(",") if q.get("appArgs") else []
        name = f"{technology}/{resource.split('/', 1)[0]}-{n:08x}"
        desk = desk_channel(channel_id, name, caller_id(q.get("callerId", "")), args, resource)
        self.channels[channel_id] = desk
        self._later(0, lambda: self._ring(desk, behaviour, float(q.get("timeout", "30"))))
        return JSONResponse(desk.json())

    def _into_dialplan(self, request: Request, endpoint: str, channel_id: str, n: int) -> Response:
        """Originate into the dialplan. The sample's `[emergency]` 112 leads the new channel into
        Stasis(tanggap112,incoming,<caller>,id); any other extension (the journal reader's
        `[tanggap-journal]`, the captures' `[tanggap-test]`) answers and waits, outside Stasis: ARI lists it,
        reads its variables and hangs it up, and sends no events for it."""
        q = request.query_params
        context, extension = q.get("context", "default"), q.get("extension", "s")
        number = caller_id(q.get("callerId", ""))[1]
        technology, resource = endpoint.split("/", 1)
        created = Chan(
            channel_id, f"{endpoint}-{n:08x};1", ("", number), outgoing_line(context, extension), time.time(), "Down"
        )
        if (context, extension) == ("emergency", "112"):
            args = ["incoming", number, "id"]
            self._later(
                0, lambda: self.incoming_call(number, args=args, technology=technology, channel_id=channel_id,
                                              resource=resource)
            )  # fmt: skip
            return JSONResponse(created.json())
        reply = created.json()
        created.state, created.dialplan = "Up", Dialplan(context, extension, 2, "Wait", "120")
        self.channels[channel_id] = created
        return JSONResponse(reply)

    async def _delete_channel(self, request: Request) -> Response:
        chan, reason = self._chan(request), request.query_params.get("reason")
        if chan is None:
            return error(404, "Channel not found")
        if reason and reason not in HANGUP_REASONS:
            return error(400, "Invalid reason for hangup reason provided")
        cause = HANGUP_REASONS[reason or "normal"]
        if chan.fallback is not None:
            await self._end_fallback(chan, cause)
        elif chan.in_stasis:
            await self._hangup(chan, {"cause": 32, "soft": True}, cause)
        elif chan.subscribed:  # a desk leg still ringing (or silent)
            await self.emit("ChannelHangupRequest", {"cause": 32, "soft": True, "channel": chan.json()}, channel=chan)
            await self._dial(chan, "NOANSWER")
            await self._destroyed(chan, cause)
        else:
            del self.channels[chan.id]
        return Response(status_code=204)

    async def _answer(self, request: Request) -> Response:
        chan = self._chan(request)
        if chan is None:
            return error(404, "Channel not found")
        if not chan.in_stasis:
            return error(409, "Channel not in Stasis application")
        if chan.state != "Up":
            chan.state = "Up"
            await self.emit("ChannelStateChange", {"channel": chan.json()}, channel=chan)
        return Response(status_code=204)

    async def _play(self, request: Request) -> Response:
        chan, q = self._chan(request), request.query_params
        if chan is None:
            return error(404, "Channel not found")
        if not chan.in_stasis:
            return error(409, "Channel not in Stasis application")
        media = [m for m in q.get("media", "").split(",") if m]
        if not media:
            return error(500, "Failed to queue media for playback")
        playback_id = request.path_params.get("playback") or q.get("playbackId") or str(uuid.uuid4())
        playback = Playback(playback_id, media, chan.id, q.get("lang") or chan.language)
        self.playbacks.setdefault(playback_id, playback)
        chan.queue.append(playback)
        body = playback.json("queued")
        await self._advance(chan)  # at once if nothing else plays: Asterisk starts it within a millisecond
        return JSONResponse(body, status_code=201, headers={"Location": f"/ari/playbacks/{playback_id}"})

    async def _get_playback(self, request: Request) -> Response:
        playback = self.playbacks.get(request.path_params["id"])
        return JSONResponse(playback.json()) if playback else error(404, "Playback not found")

    async def _stop_playback(self, request: Request) -> Response:
        playback = self.playbacks.get(request.path_params["id"])
        if playback is None:
            return error(404, "Playback not found")
        if playback.state == "playing":
            await self._finish_playback(playback, "done")
        else:
            playback.stopped = True
        return Response(status_code=204)

    async def _record_channel(self, request: Request) -> Response:
        chan = self._chan(request)
        if chan is None:
            return error(404, "Channel not found")
        if not chan.in_stasis:
            return error(409, "Channel not in Stasis application")
        if refused := self._refuse_recording(request):
            return refused
        recording = self._new_recording(request, f"channel:{chan.id}")
        chan.queue.append(recording)
        body = recording.json("queued")
        await self._advance(chan)
        return JSONResponse(body, status_code=201)

    def _refuse_recording(self, request: Request) -> Response | None:
        """ifExists left out means `fail`; a live recording of that name is never overwritten."""
        q = request.query_params
        name = q.get("name", "")
        if not name:
            return error(500, "Error parsing request")
        if q.get("format") not in RECORDING_FORMATS:
            return error(422, "specified format is unknown on this system")
        if name in self.recordings or (name in self.stored and q.get("ifExists", "fail") == "fail"):
            return error(409, f"Recording '{name}' already exists and can not be overwritten")
        return None

    def _new_recording(self, request: Request, target: str) -> Recording:
        recording = Recording(request.query_params["name"], request.query_params["format"], target)
        self.recordings[recording.name] = recording
        return recording

    async def _list_bridges(self, request: Request) -> Response:
        return JSONResponse([b.json() for b in self.bridges.values()])

    async def _get_bridge(self, request: Request) -> Response:
        bridge = self.bridges.get(request.path_params["id"])
        return JSONResponse(bridge.json()) if bridge else error(404, "Bridge not found")

    async def _create_bridge(self, request: Request) -> Response:
        q = request.query_params
        bridge_id = request.path_params.get("id") or q.get("bridgeId") or str(uuid.uuid4())
        if bridge_id in self.bridges:
            return error(409, f"Bridge with id '{bridge_id}' already exists")
        types = {t for t in q.get("type", "").split(",") if t} or {"mixing"}
        if not types <= BRIDGE_TYPES:
            return error(500, "Unable to create bridge")
        bridge = Bridge(bridge_id, "holding" if "holding" in types else "mixing", q.get("name", ""), time.time())
        self.bridges[bridge_id] = bridge
        return JSONResponse(bridge.json())

    async def _delete_bridge(self, request: Request) -> Response:
        bridge = self.bridges.get(request.path_params["id"])
        if bridge is None:
            return error(404, "Bridge not found")
        subscribed = bool(bridge.watchers or bridge.channels)
        for channel_id in list(bridge.channels):
            chan = self.channels.get(channel_id)
            if chan is not None:
                await self._leave(chan)
        if bridge.recording in self.recordings:
            await self._finish_recording(self.recordings[bridge.recording or ""])
        self.bridges.pop(bridge.id, None)
        if subscribed:
            await self.emit("BridgeDestroyed", {"bridge": bridge.json()})
        self._maybe_forget_app()
        return Response(status_code=204)

    async def _add_channel(self, request: Request) -> Response:
        bridge = self.bridges.get(request.path_params["id"])
        if bridge is None:
            return error(404, "Bridge not found")
        wanted = [c for c in request.query_params.get("channel", "").split(",") if c]
        if not wanted:
            return error(400, "Missing parameter channel")
        chans = [self.channels.get(c) for c in wanted]
        if None in chans:
            return error(400, "Channel not found")
        for chan in filter(None, chans):
            if not chan.in_stasis:
                return error(422, "Channel not in Stasis application")
            if any(isinstance(op, Recording) for op in chan.queue):
                return error(409, f"Channel {chan.id} currently recording")
        for chan in filter(None, chans):
            if chan.bridge:  # the same bridge too: Asterisk takes it out and puts it back
                await self._leave(chan)
            await self._enter(chan, bridge)
        return Response(status_code=204)

    async def _remove_channel(self, request: Request) -> Response:
        bridge, wanted = self.bridges.get(request.path_params["id"]), request.query_params.get("channel", "")
        if bridge is None:
            return error(404, "Bridge not found")
        if not wanted:
            return error(400, "Missing parameter channel")
        chan = self.channels.get(wanted)
        if chan is None:
            return error(400, "Channel not found")
        if not chan.in_stasis:
            return error(422, "Channel not in Stasis application")
        if chan.id not in bridge.channels:
            return error(422, "Channel not in this bridge")
        if bridge.kind == "holding" and bridge.moh_class is not None:
            chan.moh_released = True
        await self._leave(chan)
        return Response(status_code=204)

    async def _moh(self, request: Request) -> Response:
        bridge = self.bridges.get(request.path_params["id"])
        if bridge is None:
            return error(404, "Bridge not found")
        bridge.moh_class = request.query_params.get("mohClass") or "default"
        return Response(status_code=204)

    async def _stop_moh(self, request: Request) -> Response:
        bridge = self.bridges.get(request.path_params["id"])
        if bridge is None:
            return error(404, "Bridge not found")
        if bridge.moh_class is None:
            return error(409, "Bridge isn't playing music")
        bridge.moh_class = None
        return Response(status_code=204)

    async def _record_bridge(self, request: Request) -> Response:
        bridge = self.bridges.get(request.path_params["id"])
        if bridge is None:
            return error(404, "Bridge not found")
        if "format" not in request.query_params:
            return await self._crash(request)
        if refused := self._refuse_recording(request):
            return refused
        recording = self._new_recording(request, f"bridge:{bridge.id}")
        bridge.recording = recording.name
        if bridge.channels:
            self._later(0, lambda: self._announce(recording))
        else:  # it records silence and says nothing until someone enters
            recording.state, recording.started = "recording", time.time()
        return JSONResponse(recording.json("queued"), status_code=201)

    async def _crash(self, request: Request) -> Response:
        """Asterisk 22.10.1 dies on a bridge recording without `format` (seen twice): no HTTP answer, and the
        events connections drop without a close frame. The double keeps its state, like a restart would not."""
        self._abort(request.scope)
        await self.drop_websockets(abrupt=True)
        return Response(status_code=500)

    async def _get_live(self, request: Request) -> Response:
        recording = self.recordings.get(request.path_params["name"])
        return JSONResponse(recording.json()) if recording else error(404, "Recording not found")

    async def _stop_live(self, request: Request) -> Response:
        recording = self.recordings.get(request.path_params["name"])
        if recording is None:
            return error(404, "Recording not found")
        await self._finish_recording(recording)
        return Response(status_code=204)

    async def _get_stored(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.stored:
            return error(404, "Recording not found")
        return JSONResponse({"name": name, "format": self.stored_formats.get(name, "wav")})

    async def _delete_stored(self, request: Request) -> Response:
        if self.stored.pop(request.path_params["name"], None) is None:
            return error(404, "Recording not found")
        return Response(status_code=204)

    async def _stored_file(self, request: Request) -> Response:
        data = self.stored.get(request.path_params["name"])
        return Response(data, media_type="audio/wav") if data is not None else error(404, "Recording not found")

    async def _list_applications(self, request: Request) -> Response:
        return JSONResponse([self._app_json()] if self.app_registered else [])

    async def _get_application(self, request: Request) -> Response:
        if request.path_params["app"] != self.app or not self.app_registered:
            return error(404, "Application not found")
        return JSONResponse(self._app_json())

    async def _subscribe(self, request: Request) -> Response:
        for source in request.query_params.get("eventSource", "").split(","):
            if source.startswith("channel:") and source[8:] in self.channels:
                self.channels[source[8:]].subscribed = True
        return JSONResponse(self._app_json())
