"""The Stasis app against the ARI double: intake, queue, ACD, recording, hang-ups, reconnect + reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dispatch.calls.models import Call
from dispatch.calls.service import CallBrief
from dispatch.events.service import since
from telephony.ari.client import AriClient
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk_local import InProcessDesk
from tests.doubles.ari_server import AriDouble
from tests.telephony.conftest import running, taker_ready
from ui.context import Ctx


@contextlib.asynccontextmanager
async def running_bridge(pbx: AriDouble, desk: InProcessDesk) -> AsyncIterator[AriBridge]:
    """A bridge on `desk`, connected to the double; a fast ACD, no periodic reconcile."""
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    options = AriOptions(acd_interval_s=0.05, reconcile_interval_s=600, backoff_initial_s=0.02, ring_timeout_s=5)
    async with running(AriBridge(client, desk, options), pbx) as bridge:
        yield bridge


@pytest.fixture
async def bridge(ctx: Ctx, pbx: AriDouble) -> AsyncIterator[AriBridge]:
    async with running_bridge(pbx, InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus)) as bridge:
        yield bridge


def call_on(ctx: Ctx, channel_id: str) -> Call | None:
    from sqlalchemy import select

    with ctx.sessions() as session:
        return session.scalar(select(Call).where(Call.channel_id == channel_id))


def status_of(ctx: Ctx, channel_id: str) -> str | None:
    call = call_on(ctx, channel_id)
    return call.status if call else None


def event_types(ctx: Ctx) -> list[str]:
    with ctx.sessions() as session:
        return [e.type for e in since(session, 0, limit=5000)]


async def test_caller_is_recorded_greeted_and_held(ctx: Ctx, pbx: AriDouble, bridge: AriBridge) -> None:
    channel = await pbx.incoming_call("0812-3456-7890")
    assert channel is not None
    await pbx.wait_for(lambda: pbx.holding(channel) and "call.queued" in event_types(ctx))
    call = call_on(ctx, channel)
    assert call is not None and call.caller == "+6281234567890" and call.dialled == "112"
    assert call.status == "offered" and call.provider == "asterisk"
    assert pbx.calls_to("POST", f"/channels/{channel}/answer")
    play = pbx.calls_to("POST", f"/channels/{channel}/play")
    assert play[0][2]["media"] == "sound:tanggap/salam-112"
    assert pbx.bridges["tanggap112-hold"].channels == [channel]


async def test_taker_answers_conversation_is_bridged_and_recorded(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("taker1")
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: status_of(ctx, channel) == "answered")
    await pbx.wait_for(lambda: (call_on(ctx, channel) or Call()).recording_ref is not None)
    call = call_on(ctx, channel)
    assert call is not None and call.taker_id == taker and not taker_ready(ctx, taker)
    originate = next(r[2] for r in pbx.requests if r[:2] == ("POST", "/ari/channels") and "app" in r[2])
    assert originate["endpoint"] == "PJSIP/taker1" and originate["app"] == "tanggap112"
    assert originate["appArgs"] == f"taker,{call.id},{taker}"
    mix = pbx.bridges[f"tanggap112-mix-{call.id}"]
    assert channel in mix.channels and len(mix.channels) == 2
    assert pbx.calls_to("POST", f"/bridges/{mix.id}/record") and not pbx.calls_to("POST", "/channels/record")
    assert channel not in pbx.bridges["tanggap112-hold"].channels
    # the caller hangs up mid-conversation: the taker's leg is hung up, the bridge destroyed, the taker ready
    await pbx.caller_hangup(channel)
    await pbx.wait_for(
        lambda: status_of(ctx, channel) == "ended" and not pbx.channels and list(pbx.bridges) == ["tanggap112-hold"]
    )
    await pbx.wait_for(lambda: taker_ready(ctx, taker))
    assert call.recording_ref in pbx.stored


async def test_caller_hangs_up_before_answer_is_abandoned(ctx: Ctx, pbx: AriDouble, bridge: AriBridge) -> None:
    pbx.playback_s = None  # still greeting when the caller gives up
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: pbx.playbacks)
    await pbx.caller_hangup(channel)
    await pbx.wait_for(lambda: status_of(ctx, channel) == "ended" and list(pbx.bridges) == ["tanggap112-hold"])
    call = call_on(ctx, channel)
    assert call is not None and call.classification == "abandoned"
    assert any(e["type"] == "PlaybackFinished" and e["playback"]["state"] == "failed" for e in pbx.sent)
    assert event_types(ctx).count("call.ended") == 1


async def test_taker_hangs_up_mid_conversation(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, make_taker: Callable[..., int]
) -> None:
    make_taker("taker1")
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: status_of(ctx, channel) == "answered" and len(pbx.channels) == 2)
    taker_leg = next(c for c in pbx.channels if c != channel)
    await pbx.caller_hangup(taker_leg)
    await pbx.wait_for(
        lambda: status_of(ctx, channel) == "ended" and not pbx.channels and list(pbx.bridges) == ["tanggap112-hold"]
    )


async def test_flagged_caller_hears_warning_and_is_still_queued(ctx: Ctx, pbx: AriDouble, bridge: AriBridge) -> None:
    from dispatch.calls.models import CallerFlag
    from dispatch.clock import utcnow

    with ctx.sessions() as session:
        from datetime import timedelta

        session.add(
            CallerFlag(
                caller="+6281234567890",
                flagged_at=utcnow(),
                until=utcnow() + timedelta(hours=1),
                count=3,
                reason="3 prank calls",
            )
        )
        session.commit()
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: "call.queued" in event_types(ctx))
    play = pbx.calls_to("POST", f"/channels/{channel}/play")[0][2]
    assert play["media"] == "sound:tanggap/peringatan-iseng,sound:tanggap/salam-112"
    call = call_on(ctx, channel)
    assert call is not None and call.flagged and call.status == "offered"
    assert not pbx.calls_to("DELETE", f"/channels/{channel}")


async def test_no_answer_goes_to_the_next_taker(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, make_taker: Callable[..., int]
) -> None:
    pbx.endpoints["away"] = "no-answer"
    away = make_taker("away")
    other = make_taker("present")
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: status_of(ctx, channel) == "answered")
    call = call_on(ctx, channel)
    assert call is not None and call.taker_id == other
    assert not taker_ready(ctx, away)  # do not keep ringing an empty desk
    assert "call.requeued" in event_types(ctx)


class LateAnswerDesk(InProcessDesk):
    """Records a call at once but tells the bridge its id late: the ACD can claim the call in between."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.recorded = asyncio.Event()

    async def offer(self, **kwargs: Any) -> CallBrief:
        call = await super().offer(**kwargs)
        self.recorded.set()
        await asyncio.sleep(0.2)
        return call


async def test_call_claimed_before_its_id_returns_rings_the_longest_idle_taker(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """CI once saw the ACD claim a just-recorded call before the bridge knew its id. The bridge gave the call
    back as `not_on_this_bridge`, which made the longest-idle taker ready again at the back of the line."""
    first = make_taker("first")
    make_taker("second")
    desk = LateAnswerDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running_bridge(pbx, desk):
        channel = await pbx.incoming_call("081234567890")
        assert channel is not None
        await asyncio.wait_for(desk.recorded.wait(), 5)
        # The ACD looks at the queue every 0.05 s: its rounds fall in the 0.2 s before the bridge has the id.
        await pbx.wait_for(lambda: status_of(ctx, channel) == "answered")
        call = call_on(ctx, channel)
        assert call is not None and call.taker_id == first
        assert "call.requeued" not in event_types(ctx)


async def test_busy_taker_and_nobody_else_keeps_caller_waiting(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, make_taker: Callable[..., int]
) -> None:
    pbx.endpoints["busy1"] = "busy"
    make_taker("busy1")
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: "call.requeued" in event_types(ctx))
    assert status_of(ctx, channel) == "offered" and channel in pbx.channels


async def test_caller_hangs_up_while_taker_rings(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, make_taker: Callable[..., int]
) -> None:
    pbx.endpoints["slow"] = "ring"
    taker = make_taker("slow")
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: len(pbx.channels) == 2)
    await pbx.caller_hangup(channel)
    await pbx.wait_for(lambda: status_of(ctx, channel) == "ended" and not pbx.channels)
    await pbx.wait_for(lambda: taker_ready(ctx, taker))  # not their fault


async def test_snoop_and_our_own_legs_do_not_recurse(ctx: Ctx, pbx: AriDouble, bridge: AriBridge) -> None:
    await pbx.incoming_call("081234567890", args=["snoop"], technology="Snoop")
    stray = await pbx.incoming_call("081234567890", args=["taker", "999", "1"])
    await pbx.wait_for(lambda: stray not in pbx.channels)  # a stray call-taker leg is hung up
    await bridge.app.drain()
    assert "call.offered" not in event_types(ctx)
    assert not [r for r in pbx.requests if r[:2] == ("POST", "/ari/channels") and "app" in r[2]]  # nobody rung
    assert len([c for c in pbx.channels if not c.startswith("tanggap112-journal-")]) == 1


async def test_hangup_events_in_any_combination_end_once(ctx: Ctx, pbx: AriDouble, bridge: AriBridge) -> None:
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    await pbx.wait_for(lambda: "call.queued" in event_types(ctx))
    pbx.channels[channel].subscribed = True  # ChannelDestroyed too, as in the Local-channel capture
    await pbx.caller_hangup(channel, bye=False)
    for kind in ("StasisEnd", "ChannelHangupRequest", "ChannelDestroyed"):
        bridge.app.dispatch({"type": kind, "channel": {"id": channel}})
    await pbx.wait_for(lambda: status_of(ctx, channel) == "ended")
    await bridge.app.drain()
    assert event_types(ctx).count("call.ended") == 1


async def test_reconnect_reconciles_missed_hangups_and_unknown_callers(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge
) -> None:
    gone = await pbx.incoming_call("081234567890")
    stays = await pbx.incoming_call("081299998888")
    assert gone is not None and stays is not None
    await pbx.wait_for(lambda: event_types(ctx).count("call.queued") == 2)
    connections = bridge.connections
    await pbx.drop_websockets()
    # while the bridge is away: one caller hangs up unseen, a new caller cannot enter Stasis
    await pbx.caller_hangup(gone)
    assert await pbx.incoming_call("081277776666") is None
    await pbx.wait_for(lambda: bridge.connections > connections and pbx.app_connected)
    await pbx.wait_for(lambda: status_of(ctx, gone) == "ended")
    assert status_of(ctx, stays) == "offered"
    call = call_on(ctx, gone)
    assert call is not None and call.classification == "abandoned"


async def test_restarted_bridge_adopts_callers_left_in_stasis(ctx: Ctx, pbx: AriDouble) -> None:
    from websockets.asyncio.client import connect

    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    async with connect(client.events_url()) as old_process:
        await pbx.wait_for(lambda: pbx.app_connected)
        orphan = await pbx.incoming_call("081234567890")
        _ = old_process
    await client.close()
    assert orphan is not None
    options = AriOptions(acd_interval_s=0.05, backoff_initial_s=0.02)
    bridge = AriBridge(
        AriClient(pbx.url, pbx.user, pbx.password, pbx.app), InProcessDesk(ctx.sessions, ctx.region.policy), options
    )
    await bridge.start()
    try:
        await pbx.wait_for(lambda: status_of(ctx, orphan) == "offered" and held(pbx, orphan))
    finally:
        await bridge.stop()


def held(pbx: AriDouble, channel: str | None) -> bool:
    hold = pbx.bridges.get("tanggap112-hold")
    return hold is not None and channel in hold.channels


async def test_holding_bridge_is_made_again_after_a_pbx_restart(ctx: Ctx, pbx: AriDouble, bridge: AriBridge) -> None:
    first = await pbx.incoming_call("081234567890")
    await pbx.wait_for(lambda: held(pbx, first))
    pbx.bridges.clear()  # Asterisk restarted: its bridges are gone
    second = await pbx.incoming_call("081299998888")
    await pbx.wait_for(lambda: held(pbx, second))
    assert status_of(ctx, second) == "offered"


async def test_a_refused_events_connection_is_logged_and_retried(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """Wrong credentials (Asterisk answers 401): the operator reads why in the log, and the bridge keeps trying
    (ari.conf may be fixed and Asterisk reloaded without restarting us)."""
    client = AriClient(pbx.url, pbx.user, "not-the-password", pbx.app)
    options = AriOptions(reconcile_interval_s=600, backoff_initial_s=0.02, backoff_max_s=0.05)
    bridge = AriBridge(client, InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus), options)

    def refusals() -> int:
        return sum("ARI refused the events connection (HTTP 401)" in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.ERROR, logger="telephony.ari.run"):
        await bridge.start()
        try:
            await pbx.wait_for(lambda: refusals() >= 2)
        finally:
            await bridge.stop()
    assert not pbx.app_connected and not bridge.connected.is_set()
