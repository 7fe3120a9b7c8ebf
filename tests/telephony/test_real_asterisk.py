"""A 112 call end to end through an Asterisk: against a real one when TANGGAP_TEST_ARI_URL=http://pbx:8088 is
set (user and password in TANGGAP_TEST_ARI_USER / TANGGAP_TEST_ARI_PASSWORD, app tanggap112, the sample
configuration of `config/asterisk/` loaded), else against the ARI double, so that these checks cannot rot
unnoticed between runs on a real PBX.

The calls are Local channels into the sample's `[tanggap-test]` handsets, so no phone is needed: a caller dials
112 through the dialplan into the bridge, which records the call, queues it, rings a desk, bridges both,
records the bridge and ends the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import select

from dispatch.calls.models import Call
from dispatch.events.service import since
from dispatch.users import service as users
from telephony.ari.client import AriClient, AriNotFound
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk_local import InProcessDesk
from tests.doubles.ari_server import AriDouble
from ui.context import Ctx

URL = os.environ.get("TANGGAP_TEST_ARI_URL")
pytestmark = [pytest.mark.real_asterisk] if URL else []
CALLER = "Local/caller@tanggap-test"
DESK = "Local/taker@tanggap-test"
Pbx = Callable[[], AriClient]  # a new client of the Asterisk under test


@pytest.fixture
async def pbx() -> AsyncIterator[Pbx]:
    if URL:
        user, password = os.environ.get("TANGGAP_TEST_ARI_USER", "tanggap"), os.environ.get("TANGGAP_TEST_ARI_PASSWORD")
        yield lambda: AriClient(URL, user, password or "", "tanggap112")
        return
    double = await AriDouble().start()
    yield lambda: AriClient(double.url, double.user, double.password, double.app)
    await double.stop()


async def until(check: Callable[[], Any], timeout: float = 15) -> Any:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not (value := check()):  # noqa: ASYNC110 - the database offers no event
            await asyncio.sleep(0.1)
    return value


def call_on(ctx: Ctx, channel: str) -> Call | None:
    with ctx.sessions() as session:
        return session.scalar(select(Call).where(Call.channel_id == channel))


def events_of(ctx: Ctx, call_id: int) -> list[str]:
    with ctx.sessions() as session:
        return [e.type for e in since(session, 0, limit=5000) if e.call_id == call_id]


async def stored(ari: AriClient, name: str) -> bytes | None:
    try:
        async with ari.recording_file(name) as recording:
            return await recording.read()
    except AriNotFound:
        return None


@contextlib.asynccontextmanager
async def bridge_on(ctx: Ctx, client: Pbx) -> AsyncIterator[AriClient]:
    """The bridge on this test's database, connected to the Asterisk under test; yields a second client for
    the test's own requests (originating callers, hanging up)."""
    options = AriOptions(acd_interval_s=0.2, reconcile_interval_s=600, ring_timeout_s=10)
    bridge = AriBridge(client(), InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus), options)
    await bridge.start()
    ari = client()
    try:
        await asyncio.wait_for(bridge.connected.wait(), 10)
        yield ari
    finally:
        await ari.close()
        await bridge.stop()


async def dial_112(ari: AriClient, caller: str) -> str:
    """A handset dials 112: a Local channel through `[emergency]`, as a call from the trunk goes."""
    channel = f"tanggap-test-{uuid.uuid4().hex[:10]}"
    await ari._request(
        "POST",
        "/channels",
        endpoint=CALLER,
        extension="112",
        context="emergency",
        priority=1,
        channelId=channel,
        callerId=caller,
    )
    return channel


async def test_rest_and_events_connection(pbx: Pbx) -> None:
    ari = pbx()
    try:
        assert isinstance(await ari.channels(), list)
        with pytest.raises(AriNotFound):
            await ari.channel(f"no-such-{uuid.uuid4().hex}")
        bridge = f"tanggap-test-{uuid.uuid4().hex[:8]}"
        made = await ari.create_bridge(bridge, "mixing")
        assert made["id"] == bridge and made["bridge_type"] == "mixing"
        await ari.destroy_bridge(bridge)
        async with ari.events():
            pass
    finally:
        await ari.close()


async def test_a_caller_who_hangs_up_in_the_queue_is_abandoned(ctx: Ctx, pbx: Pbx) -> None:
    async with bridge_on(ctx, pbx) as ari:
        channel = await dial_112(ari, "081234567890")
        call = await until(lambda: call_on(ctx, channel))
        assert (call.caller, call.dialled, call.provider) == ("+6281234567890", "112", "asterisk")
        await until(lambda: "call.queued" in events_of(ctx, call.id))  # answered, greeted, on hold
        await ari.hangup(channel)
        ended = await until(lambda: (c := call_on(ctx, channel)) is not None and c.status == "ended" and c)
        assert ended.classification == "abandoned" and ended.answered_at is None


async def test_a_desk_answers_and_the_conversation_is_recorded(ctx: Ctx, pbx: Pbx) -> None:
    with ctx.sessions() as session:
        desk = users.create(
            session=session, username="desk", password="rahasia-112", role="call_taker", sip_endpoint=DESK
        )
        users.set_available(session=session, user=desk, available=True)
    async with bridge_on(ctx, pbx) as ari:
        channel = await dial_112(ari, "081298765432")
        answered = await until(lambda: (c := call_on(ctx, channel)) is not None and c.status == "answered" and c)
        assert answered.taker_id == desk.id
        recorded = await until(lambda: (c := call_on(ctx, channel)) is not None and c.recording_ref and c)
        await asyncio.sleep(1.0)  # a second of conversation
        await ari.hangup(channel)
        await until(lambda: (c := call_on(ctx, channel)) is not None and c.status == "ended")
        async with asyncio.timeout(10):
            while (sound := await stored(ari, recorded.recording_ref)) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.2)  # Asterisk is still closing the file
        assert sound[:4] == b"RIFF" and len(sound) > 44  # a WAV with more than a header
        assert "call.recording" in events_of(ctx, answered.id)


@contextlib.asynccontextmanager
async def observed_bridge(ctx: Ctx, client: Pbx, finished: list[dict[str, Any]]) -> AsyncIterator[AriBridge]:
    """The bridge, with every PlaybackFinished it receives noted in `finished` (a second events socket of
    our own would take the app from the bridge: Asterisk gives it to the newest connection)."""
    options = AriOptions(acd_interval_s=0.2, reconcile_interval_s=600, ring_timeout_s=10, lease=False)
    bridge = AriBridge(client(), InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus), options)
    dispatch = bridge.app.dispatch

    def noting(event: dict[str, Any]) -> None:
        if event.get("type") == "PlaybackFinished":
            finished.append(event["playback"])
        dispatch(event)

    bridge.app.dispatch = noting  # type: ignore[method-assign]
    await bridge.start()
    try:
        await asyncio.wait_for(bridge.connected.wait(), 10)
        yield bridge
    finally:
        await bridge.stop()


async def held(ari: AriClient, bridge_id: str = "tanggap112-hold") -> set[str]:
    try:
        found = await ari.bridge(bridge_id)
    except AriNotFound:
        return set()
    return set(found["channels"]) if found.get("bridge_type") == "holding" else set()


async def until_held(ari: AriClient, channels: list[str], timeout: float = 15) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not set(channels) <= await held(ari):  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_waiting_callers_are_held_greeted_and_survive_a_reconcile_and_a_bridge_restart(
    ctx: Ctx, pbx: Pbx
) -> None:
    """Several callers with nobody ready: each is in the *holding* bridge (music, not each other) and hears the
    greeting to its end (the prompts of config/asterisk/sounds/ installed on the PBX); a reconcile (every 30 s
    in production, where Asterisk answers 409 to the existing bridge) and a restarted bridge keep them there;
    nothing is left on the PBX afterwards."""
    finished: list[dict[str, Any]] = []
    channels: list[str] = []
    ari = pbx()
    try:
        async with observed_bridge(ctx, pbx, finished) as bridge:
            for n in range(3):
                channels.append(await dial_112(ari, f"08129876543{n}"))
            await until_held(ari, channels)
            await until(lambda: len(finished) >= 3)
            assert [p["state"] for p in finished[:3]] == ["done"] * 3  # played to the end: no prompt missing
            await bridge.app.reconcile()
            channels.append(await dial_112(ari, "081298765439"))
            await until_held(ari, channels)
        async with observed_bridge(ctx, pbx, finished):  # restarted: the callers are still held and recorded
            await until_held(ari, channels)
            assert all((c := call_on(ctx, ch)) is not None and c.status == "offered" for ch in channels)
            for channel in channels:
                await ari.hangup(channel)
            await until(lambda: all((c := call_on(ctx, ch)) is not None and c.status == "ended" for ch in channels))
    finally:
        with contextlib.suppress(AriNotFound):
            await ari.destroy_bridge("tanggap112-hold")
        left = [b["id"] for b in await ari.bridges() if str(b["id"]).startswith("tanggap112-")]
        await ari.close()
    assert not left  # the test leaves no bridge behind


async def test_a_bridge_killed_during_a_conversation_loses_nothing(ctx: Ctx, pbx: Pbx) -> None:
    """The bridge dies mid-call (no clean stop: its lease and sockets are simply gone); the one started after
    it adopts the conversation, and when the caller hangs up the call ends on record, the desk is hung up and
    no bridge is left on the PBX."""
    with ctx.sessions() as session:
        desk = users.create(
            session=session, username="desk", password="rahasia-112", role="call_taker", sip_endpoint=DESK
        )
        users.set_available(session=session, user=desk, available=True)
    ari = pbx()
    finished: list[dict[str, Any]] = []
    try:
        options = AriOptions(acd_interval_s=0.2, reconcile_interval_s=600, ring_timeout_s=10, lease=False)
        first = AriBridge(pbx(), InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus), options)
        await first.start()
        await asyncio.wait_for(first.connected.wait(), 10)
        channel = await dial_112(ari, "081298765440")
        answered = await until(lambda: (c := call_on(ctx, channel)) is not None and c.status == "answered" and c)
        for task in first._tasks:  # killed: nothing is cleaned up
            task.cancel()
        await asyncio.gather(*first._tasks, return_exceptions=True)
        await first.app.close()
        await first.client.close()
        async with observed_bridge(ctx, pbx, finished):
            await until(lambda: (c := call_on(ctx, channel)) is not None and c.status == "answered")
            await ari.hangup(channel)
            ended = await until(lambda: (c := call_on(ctx, channel)) is not None and c.status == "ended" and c)
            assert ended.taker_id == answered.taker_id and ended.answered_at is not None
            await until_gone(ari, f"tanggap112-mix-{answered.id}")
    finally:
        with contextlib.suppress(AriNotFound):
            await ari.destroy_bridge("tanggap112-hold")
        left = [b["id"] for b in await ari.bridges() if str(b["id"]).startswith("tanggap112-")]
        legs = [c["id"] for c in await ari.channels() if str(c["id"]).startswith("tanggap-taker-")]
        await ari.close()
    assert not left and not legs  # no bridge and no desk leg left behind


async def until_gone(ari: AriClient, bridge_id: str, timeout: float = 10) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            try:
                await ari.bridge(bridge_id)
            except AriNotFound:
                return
            await asyncio.sleep(0.1)
