"""The ARI double against the captures of a real Asterisk 22.10.1 (tests/fixtures/asterisk/asterisk-22.10.1/).

Each `events_*.json` scenario is replayed on a fresh double: its log, in time order, gives what happened
outside Asterisk (a caller dialled or hung up, a sound played to its end, a websocket opened or closed: the
stimuli, driven through the double's test API) and what Asterisk did (every REST answer and every event).
Every REST exchange of the log is sent again and its status, content type and body shape are compared; every
event is awaited on the socket that got it, per subject (a channel, a playback, a recording, a Dial, a bridge),
and compared by type and key fields. Ordering is compared within a subject only: across subjects Asterisk
itself races (RecordingFinished came before StasisEnd in one run and after it in another; Dial RINGING and
ChannelStateChange Ringing swap). The ChannelVarset RTPAUDIOQOS*/BRIDGEPEER/BRIDGEPVTCALLID events and
ChannelConnectedLine, which the double does not send, are dropped from the captures first.
`rest_conformance.json` names the exchanges; each must be one the replays check, or be listed in
NOT_REPLAYED with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest

from telephony.ari.client import AriClient
from tests.doubles.ari_server import AriDouble
from tests.telephony.conftest import FIXTURES
from tests.telephony.test_doubles_match_captures import shape

CAPTURES = FIXTURES / "asterisk" / "asterisk-22.10.1"
ENTRIES: list[dict[str, Any]] = json.loads((CAPTURES / "rest_conformance.json").read_text())
SCENARIOS = {d["scenario"]: d for d in (json.loads(p.read_text()) for p in sorted(CAPTURES.glob("events_*.json")))}
# What the capture machine had: Asterisk's English core sounds; the project's greeting only in Indonesian.
CAPTURED_SOUNDS = {"en": {"beep", "tt-monkeys", "hello-world"}, "id": {"tanggap/salam-112"}}
CAPTURED_ENDPOINTS = {
    "taker1": "answer",
    "taker2": "ring",
    "taker3": "unregistered",
    "taker3/sip:taker3@127.0.0.1:5090": "busy",
    "no-such-desk": "unknown",
}
NOISE = ("RTPAUDIOQOS", "BRIDGEPEER", "BRIDGEPVTCALLID")
# Exchanges of rest_conformance.json that no scenario replay checks, and why.
NOT_REPLAYED = {
    "record_bridge_without_format": "no events file: the process crashed (test_bridge_recording_without_format)",
}
Json = dict[str, Any]


def noise(event: Json) -> bool:
    return event["type"] == "ChannelConnectedLine" or (
        event["type"] == "ChannelVarset" and event.get("variable", "").startswith(NOISE)
    )


def subject(event: Json) -> str:
    """What an event is about; Asterisk keeps the order of events per subject."""
    kind = event["type"]
    if kind == "Dial":
        return "dial:" + event["peer"]["id"]
    if "playback" in event:
        return "playback:" + event["playback"]["id"]
    if "recording" in event:
        return "recording:" + event["recording"]["name"]
    if "channel" in event:
        return "channel:" + event["channel"]["id"]
    if "bridge" in event:
        return "bridge:" + event["bridge"]["id"]
    return kind


def essence(event: Json, rename: Callable[[str], str] = str) -> tuple[str, ...]:
    """Type and the fields the bridge acts on; ids through `rename` (captured id -> the double's)."""
    found = [event["type"]]
    found += [f"{k}={event[k]}" for k in ("cause", "soft", "tech_cause", "dialstatus", "dialstring") if k in event]
    found += [f"{k}={event[k]}" for k in ("variable", "value", "digit") if k in event]
    if "args" in event:
        found.append("args=" + ",".join(rename(a) for a in event["args"]))
    if channel := event.get("channel"):
        found.append(f"channel={channel['state']}/{channel['dialplan']['app_name']}")
    if peer := event.get("peer"):  # its state races with the Dial event itself
        found.append(f"peer={peer['dialplan']['app_name']}")
    if playback := event.get("playback"):
        found.append(f"playback={playback['state']} {playback['media_uri']} next={playback.get('next_media_uri')}")
        found.append(f"language={playback['language']}")
    if recording := event.get("recording"):
        found.append(f"recording={recording['state']} cause={recording.get('cause')} {'duration' in recording}")
    if bridge := event.get("bridge"):
        found.append(f"bridge={rename(bridge['id'])} {bridge['technology']} {len(bridge['channels'])} channels")
    return tuple(found)


@dataclass
class Socket:
    ws: aiohttp.ClientWebSocketResponse
    got: list[Json] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.got.append(json.loads(message.data))


class Replay:
    """One scenario's log, replayed on a fresh double."""

    def __init__(self, pbx: AriDouble, http: aiohttp.ClientSession, scenario: str) -> None:
        self.pbx, self.http, self.scenario = pbx, http, scenario
        self.ids: dict[str, str] = {}  # captured id -> the double's
        self.sockets: dict[str, Socket] = {}
        self.expected: dict[tuple[str, str], list[Json]] = defaultdict(list)  # (socket, subject) -> events
        self.stopping: dict[str, int] = defaultdict(int)  # playback id -> DELETEs not yet seen finishing
        self.hooks: dict[str, Callable[[Json], Coroutine[Any, Any, None]]] = {}
        self.checked: list[Json] = []

    def rename(self, text: str) -> str:
        for captured in sorted(self.ids, key=len, reverse=True):
            text = text.replace(captured, self.ids[captured])
        return text

    def query(self, captured: Json) -> dict[str, str]:
        query = {k: self.rename(v) for k, v in captured.items() if k != "_note"}
        if query.get("api_key") == "***":
            query["api_key"] = f"{self.pbx.user}:{self.pbx.password}"
        return query

    async def run(self) -> None:
        for item in in_time_order(SCENARIOS[self.scenario]["log"]):
            kind = item["kind"]
            if kind == "rest":
                await self.rest(item)
            elif kind in ("ws_open", "ws_refused"):
                await self.open(item)
            elif kind == "ws_closed":
                await self.closed(item)
            elif kind == "event" and not noise(item["event"]):
                await self.event(item["socket"], item["event"])
            elif kind == "note" and (hook := self.hooks.get(item["text"])):
                await hook(item)
        for name, socket in self.sockets.items():  # and nothing but what Asterisk sent
            expected = {self.rename(about): len(events) for (to, about), events in self.expected.items() if to == name}
            got: dict[str, int] = defaultdict(int)
            for event in socket.got:
                got[subject(event)] += 1
            assert dict(got) == expected, f"{self.scenario}: socket {name} got other events than Asterisk sent"

    async def rest(self, item: Json) -> None:
        if hook := self.hooks.get(f"{item['method']} {item['path']} {item['t_rel_s']}"):
            await hook(item)
        if item["method"] == "DELETE" and item["path"].startswith("/ari/playbacks/"):
            self.stopping[item["path"].rsplit("/", 1)[1]] += 1
        auth = basic(self.pbx.user, "wrong" if item.get("note") == "wrong password" else self.pbx.password)
        url = self.pbx.url + self.rename(item["path"])
        what = f"{self.scenario} {item['method']} {item['path']} at {item['t_rel_s']}"
        try:
            async with self.http.request(
                item["method"], url, params=self.query(item["query"]), headers=auth
            ) as response:
                status, body = response.status, await response.read()
                content_type = response.headers.get("Content-Type", "").split(";")[0] or None
                location = response.headers.get("Location")
        except aiohttp.ClientConnectionError:
            assert item["status"] is None, f"{what}: no answer"
            self.checked.append(item)
            return
        assert status == item["status"], f"{what}: {status} {body!r}"
        assert content_type == item["content_type"], what
        captured = item["body"]
        if isinstance(captured, dict) and "_binary_bytes" in captured:
            assert body[:4].hex() == captured["_first_16_bytes_hex"][:8], what
        elif captured is not None:
            ours = json.loads(body)
            assert shape(ours) == shape(captured), f"{what}: {ours}"
            self.learn(captured, ours)
            if status == 201 and "media_uri" in ours:
                assert location == f"/ari/playbacks/{ours['id']}", what
        self.checked.append(item)

    def learn(self, captured: Any, ours: Any) -> None:
        """Ids the double made up (a bridge or playback without a given id) stand for the captured ones."""
        if isinstance(captured, dict) and isinstance(ours, dict) and "id" in captured and "id" in ours:
            if captured["id"] != ours["id"]:
                self.ids.setdefault(captured["id"], ours["id"])

    async def open(self, item: Json) -> None:
        query = self.query(item["query"])
        url = self.pbx.url.replace("http", "ws") + "/ari/events"
        try:
            ws, status = await self.http.ws_connect(url, params=query), 101
        except aiohttp.WSServerHandshakeError as refused:
            status = refused.status
        assert status == item["status"], f"{self.scenario}: websocket {query}"
        self.checked.append(item)
        if status != 101:
            return
        socket = Socket(ws)
        socket.reader = asyncio.create_task(socket.read())
        self.sockets[item["socket"]] = socket
        await self.pbx.wait_for(lambda: len(self.pbx.sockets) == self.open_sockets())

    def open_sockets(self) -> int:
        return sum(not s.ws.closed for s in self.sockets.values())

    async def closed(self, item: Json) -> None:
        socket = self.sockets[item["socket"]]
        if item["by"] == "client":
            await socket.ws.close()
            await self.pbx.wait_for(
                lambda: len([s for s in self.sockets.values() if not s.ws.closed]) == len(self.pbx.sockets)
            )
        else:
            assert socket.reader is not None
            await asyncio.wait_for(socket.reader, 5)
            assert socket.ws.close_code == item["close_code"], self.scenario

    async def event(self, name: str, event: Json) -> None:
        await self.stimulus(event)
        about = subject(event)
        expected = self.expected[(name, about)]
        expected.append(event)
        socket = self.sockets[name]

        def arrived() -> list[Json]:
            return [e for e in socket.got if subject(e) == self.rename(about)]

        try:
            await self.pbx.wait_for(lambda: len(arrived()) >= len(expected))
        except TimeoutError:
            pytest.fail(f"{self.scenario}: {name} never got {essence(event)} about {about}; got {arrived()}")
        ours = arrived()[len(expected) - 1]
        assert essence(ours) == essence(event, self.rename), f"{self.scenario}: {name}, {about} #{len(expected)}"

    async def stimulus(self, event: Json) -> None:
        """What happened outside Asterisk, seen through the event it caused: drive the double the same way."""
        kind, channel = event["type"], event.get("channel", {})
        if kind == "StasisStart" and event["args"][:1] == ["incoming"] and channel["id"] not in self.ids:
            number, name = channel["caller"]["number"], channel["caller"]["name"]
            ours = await self.pbx.incoming_call(number, name=name)
            assert ours is not None, self.scenario
            self.ids[channel["id"]] = ours
        elif kind == "ChannelHangupRequest" and "soft" not in event and "tech_cause" not in event:
            await self.pbx.caller_hangup(self.rename(channel["id"]))  # a SIP BYE
        elif kind in ("PlaybackContinuing", "PlaybackFinished") and event["playback"]["state"] in (
            "continuing",
            "done",
        ):
            playback = event["playback"]
            if self.stopping[playback["id"]]:
                self.stopping[playback["id"]] -= 1
            elif self.plays(playback["media_uri"], playback["language"]):
                await self.pbx.end_playback(self.rename(playback["id"]))

    def plays(self, media: str, language: str) -> bool:
        name = media.removeprefix("sound:")
        return name in CAPTURED_SOUNDS.get(language, set()) | CAPTURED_SOUNDS["en"]

    async def close(self) -> None:
        for socket in self.sockets.values():
            await socket.ws.close()
            if socket.reader is not None:
                await socket.reader


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def in_time_order(log: list[Json]) -> list[Json]:
    """The log is in the order things were written down; a REST answer is written after events it caused.
    Sorted by time, and at the same millisecond the request before what it caused."""

    def caused(item: Json) -> bool:
        event = item.get("event") or {}
        outside = event.get("type") == "StasisStart" and event["args"][:1] == ["incoming"]
        outside = outside or (event.get("type") == "ChannelHangupRequest" and "soft" not in event)
        return item["kind"] == "event" and not outside

    return sorted(log, key=lambda item: (item["t_rel_s"], caused(item)))


# -- per-scenario stimuli the events do not show --------------------------------------------------------------


def hooks_for(replay: Replay) -> None:
    pbx = replay.pbx

    async def desk(behaviour: str) -> None:
        pbx.endpoints["taker2"] = behaviour

    async def no_stasis(item: Json) -> None:  # a call while the app has no active connection
        assert await pbx.incoming_call(item["calls"][0]["number"]) is None

    async def fallback_call(number: str, captured_id: str) -> None:
        if captured_id not in replay.ids:
            replay.ids[captured_id] = await pbx.fallback_call(number, answer_after_s=0, talk_s=None)

    async def sync_fallback(item: Json) -> None:  # GET /channels shows the dialplan's own call come and go
        for channel in item["body"]:
            if channel["dialplan"]["context"] == "emergency" and channel["dialplan"]["app_name"] != "Stasis":
                await fallback_call(channel["caller"]["number"], channel["id"])
        listed = {c["id"] for c in item["body"]}
        for captured, ours in list(replay.ids.items()):
            if captured not in listed and ours in pbx.channels and pbx.channels[ours].fallback:
                await pbx.caller_hangup(ours)

    async def b_hangs_up_in_the_gap(item: Json) -> None:
        await pbx.caller_hangup(replay.ids["1796576834.123"])

    async def core_stop(item: Json) -> None:
        await pbx.drop_websockets(abrupt=True)

    async def process_gone(item: Json) -> None:
        await pbx.stop()

    for item in SCENARIOS[replay.scenario]["log"]:
        if item["kind"] == "rest" and item["path"] == "/ari/channels" and item["status"] == 200:
            replay.hooks[f"GET /ari/channels {item['t_rel_s']}"] = sync_fallback
        if item["kind"] == "rest" and item["query"].get("channelId") == "capd-noanswer":
            replay.hooks[f"POST /ari/channels {item['t_rel_s']}"] = lambda item: desk("no-answer")
        if item["kind"] == "rest" and item["query"].get("channelId") == "capd-cancel":
            replay.hooks[f"POST /ari/channels {item['t_rel_s']}"] = lambda item: desk("ring")
        if item["kind"] == "rest" and item["status"] is None:
            replay.hooks[f"{item['method']} {item['path']} {item['t_rel_s']}"] = process_gone
    replay.hooks["SIPp caller(s) a_call2 started"] = no_stasis
    replay.hooks["reopening 3 s after the close"] = b_hangs_up_in_the_gap
    replay.hooks["running `core stop now`"] = core_stop


@pytest.fixture
async def pbx() -> AsyncIterator[AriDouble]:
    double = await AriDouble().start()
    double.sounds, double.endpoints, double.playback_s = CAPTURED_SOUNDS, dict(CAPTURED_ENDPOINTS), None
    yield double
    await double.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_scenario_replays_as_captured(pbx: AriDouble, http: aiohttp.ClientSession, scenario: str) -> None:
    replay = Replay(pbx, http, scenario)
    hooks_for(replay)
    try:
        await replay.run()
    finally:
        await replay.close()
    assert replay.checked


def _matches(entry: Json, item: Json) -> bool:
    """The log item of a scenario that rest_conformance.json names (its ids are placeholders there)."""
    if item.get("t_local") != entry["t_local"] or item.get("status") != entry["status"]:
        return False
    if entry["method"].startswith("GET (websocket"):
        return item["kind"] in ("ws_open", "ws_refused")
    pattern = re.sub(r"\\\{[a-z_0-9]+\\\}", "[^/]+", re.escape(entry["path"])) + "$"
    return (
        item["kind"] == "rest"
        and item["method"] == entry["method"]
        and re.match(pattern, item["path"]) is not None
        and set(item["query"]) == set(entry["query"])
    )


def test_every_captured_exchange_is_replayed_or_listed() -> None:
    """A new capture cannot be silently ignored: each named exchange is in a replayed log, or listed."""
    unchecked = []
    for entry in ENTRIES:
        log = SCENARIOS.get(entry["scenario"], {}).get("log", [])
        if not any(_matches(entry, item) for item in log) and entry["name"] not in NOT_REPLAYED:
            unchecked.append(entry["name"])
    assert unchecked == []
    assert set(NOT_REPLAYED) <= {e["name"] for e in ENTRIES}


async def test_bridge_recording_without_format(pbx: AriDouble, http: aiohttp.ClientSession) -> None:
    """Asterisk died on it (twice): no answer, and the events connection drops without a close frame."""
    entry = next(e for e in ENTRIES if e["name"] == "record_bridge_without_format")
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    async with http.ws_connect(client.events_url()) as events:
        await pbx.wait_for(lambda: pbx.app_connected)
        await client.create_bridge("b1", "mixing")
        path = entry["path"].replace("{bridge_id}", "b1")
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.post(pbx.url + path, params={"name": "r1"}, headers=basic(pbx.user, pbx.password))
        assert await events.receive() is not None and events.close_code == 1006
    assert entry["status"] is None
    await client.close()


# -- the fallback journal the bridge reads --------------------------------------------------------------------


async def read(http: aiohttp.ClientSession, pbx: AriDouble, channel: str, variable: str) -> tuple[int, Json]:
    url = f"{pbx.url}/ari/channels/{channel}/variable"
    auth = basic(pbx.user, pbx.password)
    async with http.get(url, params={"variable": variable}, headers=auth) as response:
        return response.status, await response.json()


async def test_fallback_call_is_journaled_as_the_dialplan_does(pbx: AriDouble, http: aiohttp.ClientSession) -> None:
    before = int(time.time())
    uniqueid = await pbx.fallback_call("+62 812/345", desk="taker2")
    entry = parse_qs(pbx.astdb[f"tanggap112-fallback/{uniqueid}"])
    assert entry["caller"] == ["+62 812/345"] and entry["desk"] == ["taker2"] and entry["cause"] == ["16"]
    assert before <= int(entry["start"][0]) <= int(entry["answered"][0]) <= int(entry["end"][0]) <= time.time()
    assert uniqueid not in pbx.channels and not pbx.sent

    ringing = await pbx.fallback_call("0812", desk=None, talk_s=None)
    assert pbx.astdb[f"tanggap112-fallback/{ringing}"] == f"caller=0812&start={int(pbx.channels[ringing].created)}"
    async with http.get(f"{pbx.url}/ari/channels/{ringing}", headers=basic(pbx.user, pbx.password)) as got:
        channel = await got.json()
    assert channel["state"] == "Up" and channel["dialplan"] == {
        "context": "emergency",
        "exten": "112",
        "priority": 11,
        "app_name": "Dial",
        "app_data": "PJSIP/taker1&PJSIP/taker2&PJSIP/taker3,30,m",
    }
    assert await read(http, pbx, ringing, "STASISSTATUS") == (200, {"value": "FAILED"})
    assert await read(http, pbx, ringing, "CDR(userfield)") == (200, {"value": "stasis-fallback"})
    await pbx.caller_hangup(ringing)
    assert pbx.astdb[f"tanggap112-fallback/{ringing}"].endswith("&cause=16") and not pbx.sent


async def test_a_delayed_fallback_call_answers_then_ends(pbx: AriDouble) -> None:
    uniqueid = await pbx.fallback_call("0812", answer_after_s=0.02, talk_s=0.02, cause=17)
    key = f"tanggap112-fallback/{uniqueid}"
    assert "answered" not in pbx.astdb[key] and len(pbx.channels) == 1
    await pbx.wait_for(lambda: "&desk=taker1" in pbx.astdb[key])
    assert len(pbx.channels) == 2 and any(b.basic for b in pbx.bridges.values())  # the desk leg, Dial's bridge
    await pbx.wait_for(lambda: pbx.astdb[key].endswith("&cause=17"))
    assert not pbx.channels and not pbx.bridges


async def test_the_journal_is_read_through_a_local_channel(pbx: AriDouble, http: aiohttp.ClientSession) -> None:
    first = await pbx.fallback_call("0811")
    second = await pbx.fallback_call("0812", talk_s=None)
    pbx.astdb["tanggap112-fallback-other/x"] = "not ours"
    auth = basic(pbx.user, pbx.password)
    query = {
        "endpoint": "Local/read@tanggap-journal",
        "context": "tanggap-journal",
        "extension": "read",
        "channelId": "reader-1",
    }
    async with http.post(f"{pbx.url}/ari/channels", params=query, headers=auth) as response:
        assert response.status == 200 and (await response.json())["state"] == "Down"
    async with http.get(f"{pbx.url}/ari/channels", headers=auth) as response:
        assert "reader-1" in {c["id"] for c in await response.json()}
    keys = (await read(http, pbx, "reader-1", "DB_KEYS(tanggap112-fallback)"))[1]["value"]
    assert sorted(keys.split(",")) == sorted([first, second])
    value = (await read(http, pbx, "reader-1", f"DB(tanggap112-fallback/{first})"))[1]["value"]
    assert value == pbx.astdb[f"tanggap112-fallback/{first}"]
    assert await read(http, pbx, "reader-1", f"DB_DELETE(tanggap112-fallback/{first})") == (200, {"value": value})
    assert await read(http, pbx, "reader-1", f"DB(tanggap112-fallback/{first})") == (200, {"value": ""})
    assert await read(http, pbx, "reader-1", "DB_KEYS(tanggap112-fallback)") == (200, {"value": second})
    assert await read(http, pbx, "reader-1", "DB_KEYS(nothing-here)") == (200, {"value": ""})
    assert await read(http, pbx, "reader-1", "NOT_SET") == (404, {"message": "Provided variable was not found"})
    async with http.post(f"{pbx.url}/ari/channels/reader-1/answer", headers=auth) as response:
        assert response.status == 409  # not in Stasis
    async with http.delete(f"{pbx.url}/ari/channels/reader-1", headers=auth) as response:
        assert response.status == 204 and "reader-1" not in pbx.channels
    assert not pbx.sent


# -- a few facts spelled out, so a failure names the fact -----------------------------------------------------


async def test_a_bridge_that_exists_is_a_conflict(pbx: AriDouble) -> None:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    await client.create_bridge("hold", "holding")
    for path, query in (("/bridges/hold", {"type": "holding"}), ("/bridges", {"bridgeId": "hold"})):
        with pytest.raises(Exception, match="ARI 409: Bridge with id 'hold' already exists"):
            await client._request("POST", path, **query)
    await client.close()


async def test_the_language_is_the_channels_unless_given(pbx: AriDouble) -> None:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    async with client.events() as events:
        await pbx.wait_for(lambda: pbx.app_connected)
        english = await pbx.incoming_call("0811")
        indonesian = await pbx.incoming_call("0812", language="id")
        assert english is not None and indonesian is not None
        assert (await client.play(english, "sound:tanggap/salam-112"))["language"] == "en"
        assert (await client.play(indonesian, "sound:beep"))["language"] == "id"
        assert (await client.play(english, "sound:beep", lang="id"))["language"] == "id"
        _ = events
    await client.close()


def test_the_fixtures_are_the_captures() -> None:
    readme = (CAPTURES / "README.md").read_text()
    assert "Facts seen" in readme and Path(CAPTURES / "asterisk_info.json").exists()
