"""The ARI double sends events with exactly the shapes Asterisk 22 sent in the captures."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import connect

from telephony.ari.client import AriClient
from tests.doubles.ari_server import AriDouble
from tests.telephony.conftest import FIXTURES

CAPTURES = [
    *json.loads((FIXTURES / "asterisk" / "ari_events_sip_call.json").read_text()),
    *json.loads((FIXTURES / "asterisk" / "ari_events_local_channels.json").read_text()),
]


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what a consumer of the event relies on."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


def captured(kind: str, **has: Any) -> list[Any]:
    found = [shape(e) for e in CAPTURES if e["type"] == kind and all((k in e) == bool(v) for k, v in has.items())]
    assert found, f"no captured {kind} {has}"
    return found


async def test_event_shapes_match_the_captures(pbx: AriDouble) -> None:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    pbx.playback_s = None
    async with connect(client.events_url()):
        await pbx.wait_for(lambda: pbx.app_connected)
        bye = await pbx.incoming_call("+4930555000")
        local = await pbx.incoming_call("111")
        assert bye is not None and local is not None
        await client.answer(bye)
        await client.play(local, "sound:tt-monkeys")
        await pbx.dtmf(bye, "1")
        await pbx.caller_hangup(bye)  # SIP BYE
        await client._request("POST", f"/applications/{pbx.app}/subscription", eventSource=f"channel:{local}")
        await client.hangup(local)  # through ARI: cause 32, soft; then destroyed (subscribed)
    await client.close()
    sent = {}
    for event in pbx.sent:
        key = (event["type"], "cause" in event)
        sent.setdefault(key, shape(event))
    assert sent[("StasisStart", False)] in captured("StasisStart")
    assert sent[("ChannelStateChange", False)] in captured("ChannelStateChange")
    assert sent[("ChannelDtmfReceived", False)] in captured("ChannelDtmfReceived")
    assert sent[("ChannelHangupRequest", False)] in captured("ChannelHangupRequest", cause=False)
    assert sent[("ChannelHangupRequest", True)] in captured("ChannelHangupRequest", cause=True, soft=True)
    assert sent[("StasisEnd", False)] in captured("StasisEnd")
    assert sent[("ChannelVarset", False)] in captured("ChannelVarset")
    assert sent[("ChannelDestroyed", True)] in captured("ChannelDestroyed")
    assert sent[("PlaybackStarted", False)] in captured("PlaybackStarted")
    assert sent[("PlaybackFinished", False)] in captured("PlaybackFinished")
    failed = [e for e in pbx.sent if e["type"] == "PlaybackFinished"]
    assert failed[0]["playback"]["state"] == "failed"  # the caller hung up mid-playback
    destroyed = [e["channel"]["id"] for e in pbx.sent if e["type"] == "ChannelDestroyed"]
    assert destroyed == [local]  # not for the unsubscribed SIP caller, as in the captures


async def test_recording_a_bridged_channel_fails_after_201(pbx: AriDouble) -> None:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    async with connect(client.events_url()):
        await pbx.wait_for(lambda: pbx.app_connected)
        channel = await pbx.incoming_call()
        assert channel is not None
        await client.create_bridge("b1", "mixing")
        await client.add_channel("b1", channel)
        recording = await client.record_channel(channel, "wrong")
        assert recording["state"] == "queued"
        await pbx.wait_for(lambda: any(e["type"] == "RecordingFailed" for e in pbx.sent))
        failed = next(e for e in pbx.sent if e["type"] == "RecordingFailed")
        assert failed["recording"]["cause"] == "Cannot record channel while in bridge"
        await client.record_bridge("b1", "right")
        await client.destroy_bridge("b1")
        async with client.recording_file("right") as audio:
            assert (await audio.read()).startswith(b"RIFF")
    await client.close()
