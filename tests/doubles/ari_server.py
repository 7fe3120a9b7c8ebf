"""An Asterisk ARI double on a real socket: REST and the events websocket, with events shaped like the
captures from Asterisk 22 (tests/fixtures/asterisk/). For tests and the benchmark; no PBX needed.

What it models because our code depends on it: StasisStart carries `args`; a SIP BYE gives a
ChannelHangupRequest without `cause`, then StasisEnd; ChannelDestroyed is delivered only for channels the
app is subscribed to (channels it originated, or subscribed explicitly); a playback cut by a hang-up finishes
`failed`; recording a channel that is in a bridge answers 201 and then RecordingFailed; events for an app
with no websocket connected are lost, and Stasis() fails for new calls (the dialplan falls back).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import socket
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

ASTERISK_ID = "02:fc:00:00:00:01"
Json = dict[str, Any]
CAUSES = {16: "Normal Clearing", 17: "User busy", 19: "User alerting, no answer", 34: "Circuit/channel congestion"}


def stamp(at: float | None = None) -> str:
    """Asterisk's timestamp format: 2026-11-22T08:00:38.327+0000."""
    moment = datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass
class Chan:
    id: str
    name: str
    caller: str
    caller_name: str
    exten: str
    app_data: str
    created: float
    state: str = "Ring"
    in_stasis: bool = False
    subscribed: bool = False
    bridge: str | None = None
    playbacks: list[str] = field(default_factory=list)
    connected_number: str = ""

    def json(self, *, left: bool = False) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": f"{uuid.uuid5(uuid.NAMESPACE_OID, self.id).hex[:8]}@127.0.0.1"
            if self.name.startswith("PJSIP/")
            else "",
            "caller": {"name": self.caller_name, "number": self.caller},
            "connected": {"name": "", "number": self.connected_number},
            "accountcode": "",
            "dialplan": {
                "context": "emergency",
                "exten": self.exten,
                "priority": 2,
                "app_name": "" if left else "Stasis",
                "app_data": "" if left else self.app_data,
            },
            "creationtime": stamp(self.created),
            "language": "id",
        }


@dataclass
class Bridge:
    id: str
    kind: str
    name: str
    created: float
    channels: list[str] = field(default_factory=list)
    recording: str | None = None

    def json(self) -> Json:
        return {
            "id": self.id,
            "technology": "holding_bridge" if self.kind == "holding" else "simple_bridge",
            "bridge_type": self.kind,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": stamp(self.created),
            "video_mode": "none",
        }


class AriDouble:
    def __init__(self, app: str = "tanggap112", user: str = "tanggap", password: str = "rahasia") -> None:
        self.app, self.user, self.password = app, user, password
        self.channels: dict[str, Chan] = {}
        self.bridges: dict[str, Bridge] = {}
        self.playbacks: dict[str, Json] = {}
        self.recordings: dict[str, Json] = {}
        self.stored: dict[str, bytes] = {}
        self.sockets: set[WebSocket] = set()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.sent: list[Json] = []
        self.endpoints: dict[str, str] = {}  # endpoint -> answer | busy | no-answer | ring | silent
        self.playback_s: float | None = 0.0  # None: playbacks run until stopped or hung up
        self.no_answer_s = 0.05
        self.on_event: Callable[[Json], None] | None = None
        self._ids = itertools.count(int(time.time()) * 100)
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    # -- lifecycle --------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> AriDouble:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi(), log_level="warning", ws="websockets-sansio", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
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
            await asyncio.sleep(delay)
            result = fn()
            if asyncio.iscoroutine(result):
                await result

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what the test drives ---------------------------------------------------------------------------

    @property
    def app_connected(self) -> bool:
        return bool(self.sockets)

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
    ) -> str | None:
        """A call enters Stasis(tanggap112,incoming,<caller>); None when the app is not connected (the
        dialplan sees STASISSTATUS=FAILED and rings the phones directly)."""
        if not self.app_connected:
            return None
        n = next(self._ids)
        channel_id = channel_id or f"{n // 100}.{n % 100}"
        args = ["incoming", caller] if args is None else args
        chan = Chan(
            channel_id,
            f"{technology}/{resource or 'trunk'}-{n:08x}",
            caller,
            name,
            exten,
            ",".join([self.app, *args]),
            time.time(),
            in_stasis=True,
        )
        self.channels[channel_id] = chan
        await self.emit("StasisStart", {"args": args, "channel": chan.json()})
        return channel_id

    async def caller_hangup(self, channel_id: str, *, bye: bool = True) -> None:
        """The caller hangs up: a SIP BYE gives a ChannelHangupRequest without cause."""
        chan = self.channels.get(channel_id)
        if chan is not None:
            await self._hangup(chan, {} if bye else {"cause": 16})

    async def dtmf(self, channel_id: str, digit: str) -> None:
        chan = self.channels[channel_id]
        await self.emit("ChannelDtmfReceived", {"digit": digit, "duration_ms": 100, "channel": chan.json()})

    async def answer_taker(self, channel_id: str) -> None:
        chan = self.channels[channel_id]
        chan.state, chan.in_stasis = "Up", True
        args = chan.app_data.split(",")[1:]
        await self.emit("StasisStart", {"args": args, "channel": chan.json()})

    async def drop_websockets(self) -> None:
        """Asterisk restarts or the network blips: every events connection closes at once."""
        for ws in list(self.sockets):
            self.sockets.discard(ws)
            with contextlib.suppress(Exception):
                await ws.close(code=1001)

    async def wait_for(self, check: Callable[[], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll a condition on the system under test (which has no event to offer us)."""
        async with asyncio.timeout(timeout):
            while not check():  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    def calls_to(self, method: str, path_part: str) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if r[0] == method and path_part in r[1]]

    # -- events -----------------------------------------------------------------------------------------

    async def emit(self, kind: str, body: Json, *, channel: Chan | None = None) -> None:
        if channel is not None and not (channel.in_stasis or channel.subscribed):
            return
        event = _envelope(kind, body, self.app)
        self.sent.append(event)
        if self.on_event is not None:
            self.on_event(event)
        text = json.dumps(event)
        for ws in list(self.sockets):
            try:
                await ws.send_text(text)
            except Exception:
                self.sockets.discard(ws)

    async def _hangup(self, chan: Chan, request: Json, *, left_stasis: bool = True) -> None:
        if chan.id not in self.channels:
            return
        await self.emit("ChannelHangupRequest", {**request, "channel": chan.json()}, channel=chan)
        for playback_id in list(chan.playbacks):
            await self._finish_playback(playback_id, "failed")
        if chan.bridge:
            await self._leave(chan)
        del self.channels[chan.id]
        if chan.in_stasis:
            await self.emit("StasisEnd", {"channel": chan.json()})
            chan.in_stasis = False
        if chan.subscribed:
            await self.emit(
                "ChannelVarset", {"variable": "STASISSTATUS", "value": "SUCCESS", "channel": chan.json()}, channel=chan
            )
            await self.emit("ChannelHangupRequest", {"cause": 16, "soft": True, "channel": chan.json()}, channel=chan)
            await self.emit(
                "ChannelDestroyed",
                {"cause": 16, "cause_txt": CAUSES[16], "channel": chan.json(left=left_stasis)},
                channel=chan,
            )

    async def _destroy_unanswered(self, chan: Chan, cause: int) -> None:
        if self.channels.get(chan.id) is not chan or chan.in_stasis:
            return
        del self.channels[chan.id]
        await self.emit(
            "ChannelDestroyed",
            {"cause": cause, "cause_txt": CAUSES.get(cause, "Unknown"), "channel": chan.json(left=True)},
            channel=chan,
        )

    async def _finish_playback(self, playback_id: str, state: str) -> None:
        playback = self.playbacks.pop(playback_id, None)
        if playback is None:
            return
        chan = self.channels.get(playback["target_uri"].split(":", 1)[1])
        if chan is not None and playback_id in chan.playbacks:
            chan.playbacks.remove(playback_id)
        await self.emit("PlaybackFinished", {"playback": {**playback, "state": state}})

    async def _leave(self, chan: Chan) -> None:
        bridge = self.bridges.get(chan.bridge or "")
        chan.bridge = None
        if bridge is not None and chan.id in bridge.channels:
            bridge.channels.remove(chan.id)
            await self.emit("ChannelLeftBridge", {"bridge": bridge.json(), "channel": chan.json()}, channel=chan)

    async def _finish_recording(self, name: str) -> None:
        recording = self.recordings.pop(name, None)
        if recording is None:
            return
        self.stored[name] = _wav()
        await self.emit("RecordingFinished", {"recording": {**recording, "state": "done"}})

    # -- REST -------------------------------------------------------------------------------------------

    def _asgi(self) -> Starlette:
        r = Route
        return Starlette(
            routes=[
                WebSocketRoute("/ari/events", self._events),
                r("/ari/channels", self._list_channels, methods=["GET"]),
                r("/ari/channels", self._originate, methods=["POST"]),
                r("/ari/channels/{id}", self._get_channel, methods=["GET"]),
                r("/ari/channels/{id}", self._delete_channel, methods=["DELETE"]),
                r("/ari/channels/{id}/answer", self._answer, methods=["POST"]),
                r("/ari/channels/{id}/play", self._play, methods=["POST"]),
                r("/ari/channels/{id}/play/{playback}", self._play, methods=["POST"]),
                r("/ari/channels/{id}/record", self._record_channel, methods=["POST"]),
                r("/ari/playbacks/{id}", self._stop_playback, methods=["DELETE"]),
                r("/ari/bridges", self._create_bridge, methods=["POST"]),
                r("/ari/bridges/{id}", self._create_bridge, methods=["POST"]),
                r("/ari/bridges/{id}", self._delete_bridge, methods=["DELETE"]),
                r("/ari/bridges/{id}/addChannel", self._add_channel, methods=["POST"]),
                r("/ari/bridges/{id}/removeChannel", self._remove_channel, methods=["POST"]),
                r("/ari/bridges/{id}/moh", self._moh, methods=["POST"]),
                r("/ari/bridges/{id}/record", self._record_bridge, methods=["POST"]),
                r("/ari/recordings/stored/{name}/file", self._stored_file, methods=["GET"]),
                r("/ari/applications/{app}/subscription", self._subscribe, methods=["POST"]),
            ]
        )

    def _authorised(self, request: Request | WebSocket) -> bool:
        key = request.query_params.get("api_key")
        if key is not None:
            return key == f"{self.user}:{self.password}"
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            return base64.b64decode(header[6:]).decode() == f"{self.user}:{self.password}"
        return False

    async def _events(self, ws: WebSocket) -> None:
        if not self._authorised(ws) or ws.query_params.get("app") != self.app:
            await ws.close(code=1008)
            return
        await ws.accept()
        self.sockets.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            self.sockets.discard(ws)

    def _log(self, request: Request) -> Response | None:
        self.requests.append((request.method, request.url.path, dict(request.query_params)))
        if not self._authorised(request):
            return _error(401, "Authentication required")
        return None

    def _chan(self, request: Request) -> Chan | None:
        return self.channels.get(request.path_params["id"])

    async def _list_channels(self, request: Request) -> Response:
        return self._log(request) or JSONResponse([c.json() for c in self.channels.values()])

    async def _get_channel(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        chan = self._chan(request)
        return JSONResponse(chan.json()) if chan else _error(404, "Channel not found")

    async def _originate(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        q = request.query_params
        endpoint = q.get("endpoint", "")
        if "/" not in endpoint:
            return _error(400, "Endpoint must be in the format tech/resource")
        n = next(self._ids)
        channel_id = q.get("channelId") or f"{n // 100}.{n % 100}"
        number = q.get("callerId", "").rsplit("<", 1)[-1].rstrip(">")
        if q.get("extension") and not q.get("app"):
            return self._into_dialplan(q, endpoint, channel_id, number)
        chan = Chan(
            channel_id,
            f"{endpoint}-{n:08x}",
            number,
            "112",
            "s",
            ",".join([q.get("app", self.app), *q.get("appArgs", "").split(",")]),
            time.time(),
            state="Down",
            subscribed=True,
        )
        self.channels[channel_id] = chan
        behaviour = self.endpoints.get(endpoint.split("/", 1)[1], "answer")
        if behaviour == "answer":
            self._later(0, lambda: self.answer_taker(channel_id) if channel_id in self.channels else None)
        elif behaviour == "busy":
            self._later(0, lambda: self._destroy_unanswered(chan, 17))
        elif behaviour == "no-answer":
            timeout = float(q.get("timeout", "30"))
            self._later(min(timeout, self.no_answer_s), lambda: self._destroy_unanswered(chan, 19))
        return JSONResponse(chan.json())

    def _into_dialplan(self, q: Any, endpoint: str, channel_id: str, number: str) -> Response:
        """Originate into the dialplan. The double knows one extension, the sample's `[emergency]` 112
        (config/asterisk/extensions.conf): with the triage's default language, the channel enters
        Stasis(tanggap112,incoming,<caller>,id) once Asterisk has answered the originate request."""
        if (q.get("context"), q.get("extension")) != ("emergency", "112"):
            return _error(400, "the ARI double knows only extension 112 in context emergency")
        technology, resource = endpoint.split("/", 1)
        args = ["incoming", number, "id"]
        self._later(
            0, lambda: self.incoming_call(number, args=args, technology=technology, channel_id=channel_id,
                                          resource=resource)
        )  # fmt: skip
        created = Chan(channel_id, endpoint, number, "", "112", "", time.time(), state="Down")
        return JSONResponse(created.json(left=True))

    async def _delete_channel(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        chan = self._chan(request)
        if chan is None:
            return _error(404, "Channel not found")
        if chan.in_stasis:
            await self._hangup(chan, {"cause": 32, "soft": True})
        else:
            await self._destroy_unanswered(chan, 16)
        return Response(status_code=204)

    async def _answer(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        chan = self._chan(request)
        if chan is None:
            return _error(404, "Channel not found")
        if chan.state != "Up":
            chan.state = "Up"
            await self.emit("ChannelStateChange", {"channel": chan.json()})
        return Response(status_code=204)

    async def _play(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        chan = self._chan(request)
        if chan is None:
            return _error(404, "Channel not found")
        media = request.query_params.get("media", "").split(",")
        playback_id = request.path_params.get("playback") or request.query_params.get("playbackId") or str(uuid.uuid4())
        playback = {
            "id": playback_id,
            "media_uri": media[0],
            "target_uri": f"channel:{chan.id}",
            "language": "id",
            "state": "playing",
        }
        if len(media) > 1:
            playback["next_media_uri"] = media[1]
        self.playbacks[playback_id] = playback
        chan.playbacks.append(playback_id)
        await self.emit("PlaybackStarted", {"playback": playback})
        if self.playback_s is not None:
            self._later(self.playback_s, lambda: self._finish_playback(playback_id, "done"))
        return JSONResponse({**playback, "state": "queued"}, status_code=201)

    async def _stop_playback(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        if request.path_params["id"] not in self.playbacks:
            return _error(404, "Playback not found")
        await self._finish_playback(request.path_params["id"], "done")
        return Response(status_code=204)

    async def _create_bridge(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        q = request.query_params
        bridge_id = request.path_params.get("id") or q.get("bridgeId") or str(uuid.uuid4())
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            bridge = Bridge(bridge_id, q.get("type", "mixing"), q.get("name", ""), time.time())
            self.bridges[bridge_id] = bridge
        return JSONResponse(bridge.json())

    async def _delete_bridge(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        bridge = self.bridges.pop(request.path_params["id"], None)
        if bridge is None:
            return _error(404, "Bridge not found")
        for channel_id in list(bridge.channels):
            chan = self.channels.get(channel_id)
            if chan is not None:
                await self._leave(chan)
        if bridge.recording:
            await self._finish_recording(bridge.recording)
        await self.emit("BridgeDestroyed", {"bridge": bridge.json()})
        return Response(status_code=204)

    async def _add_channel(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        bridge = self.bridges.get(request.path_params["id"])
        if bridge is None:
            return _error(404, "Bridge not found")
        wanted = [c for c in request.query_params.get("channel", "").split(",") if c]
        if not wanted:
            return _error(400, "Missing parameter channel")
        if any(c not in self.channels for c in wanted):
            return _error(422, "Channel not found")
        for channel_id in wanted:
            chan = self.channels[channel_id]
            if not chan.in_stasis:
                return _error(422, "Channel not in Stasis application")
            if chan.bridge == bridge.id:
                continue
            if chan.bridge:
                await self._leave(chan)
            chan.bridge = bridge.id
            bridge.channels.append(channel_id)
            await self.emit("ChannelEnteredBridge", {"bridge": bridge.json(), "channel": chan.json()})
        return Response(status_code=204)

    async def _remove_channel(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        bridge = self.bridges.get(request.path_params["id"])
        chan = self.channels.get(request.query_params.get("channel", ""))
        if bridge is None:
            return _error(404, "Bridge not found")
        if chan is None or chan.id not in bridge.channels:
            return _error(422, "Channel not in this bridge")
        await self._leave(chan)
        return Response(status_code=204)

    async def _moh(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        if request.path_params["id"] not in self.bridges:
            return _error(404, "Bridge not found")
        return Response(status_code=204)

    async def _record_bridge(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        bridge = self.bridges.get(request.path_params["id"])
        if bridge is None:
            return _error(404, "Bridge not found")
        return await self._start_recording(request, f"bridge:{bridge.id}", on_bridge=bridge)

    async def _record_channel(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        chan = self._chan(request)
        if chan is None:
            return _error(404, "Channel not found")
        response = await self._start_recording(request, f"channel:{chan.id}")
        if chan.bridge and response.status_code == 201:
            name = request.query_params["name"]
            failed = {**self.recordings.pop(name), "state": "failed", "cause": "Cannot record channel while in bridge"}
            self._later(0, lambda: self.emit("RecordingFailed", {"recording": failed}))
        return response

    async def _start_recording(self, request: Request, target: str, on_bridge: Bridge | None = None) -> Response:
        name = request.query_params.get("name", "")
        if not name:
            return _error(400, "Missing parameter name")
        if (name in self.recordings or name in self.stored) and request.query_params.get("ifExists") == "fail":
            return _error(409, "Recording with that name already exists")
        recording = {
            "name": name,
            "format": request.query_params.get("format", "wav"),
            "state": "queued",
            "target_uri": target,
            "talking_duration": 0,
            "silence_duration": 0,
            "duration": 0,
        }
        self.recordings[name] = recording
        if on_bridge is not None:
            on_bridge.recording = name
            self._later(0, lambda: self.emit("RecordingStarted", {"recording": {**recording, "state": "recording"}}))
        return JSONResponse(recording, status_code=201)

    async def _stored_file(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        data = self.stored.get(request.path_params["name"])
        if data is None:
            return _error(404, "Recording not found")
        return Response(data, media_type="audio/wav")

    async def _subscribe(self, request: Request) -> Response:
        if denied := self._log(request):
            return denied
        for source in request.query_params.get("eventSource", "").split(","):
            if source.startswith("channel:") and source[8:] in self.channels:
                self.channels[source[8:]].subscribed = True
        return JSONResponse(
            {
                "name": self.app,
                "channel_ids": [],
                "bridge_ids": [],
                "endpoint_ids": [],
                "device_names": [],
                "events_allowed": [],
                "events_disallowed": [],
            }
        )


def _envelope(kind: str, body: Json, app: str) -> Json:
    """Key order as Asterisk writes it: event-specific scalars, type, timestamp, the rest, then ids."""
    head = {k: v for k, v in body.items() if not isinstance(v, (dict, list))}
    tail = {k: v for k, v in body.items() if isinstance(v, (dict, list))}
    ids = {"asterisk_id": ASTERISK_ID, "application": app}
    if kind in ("ChannelVarset", "ChannelHangupRequest"):
        return {**head, "type": kind, "timestamp": stamp(), **tail, **ids}
    return {"type": kind, "timestamp": stamp(), **head, **tail, **ids}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def _wav(seconds: float = 0.1, rate: int = 8000) -> bytes:
    """A short silent 8 kHz mono WAV, what Asterisk stores for a recording."""
    frames = b"\x00\x00" * int(seconds * rate)
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(frames))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", len(frames))
    )
    return header + frames
