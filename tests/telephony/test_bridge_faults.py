"""The bridge where a real Asterisk 22 differs from a kind double, and where the bridge itself fails.

Every waiting caller is in a *holding* bridge with music, also after reconciles (Asterisk answers 409 to a
bridge that exists) and after Asterisk restarts; prompts are played in the caller's language; calls the
dialplan took while no bridge was connected reach the record from the PBX's journal; one bridge acts at a
time, a standby takes over from a killed one, and a replaced one stops acting; a crash leaves no bridge behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from websockets.asyncio.client import connect

from dispatch import leases
from dispatch.calls.models import Call
from dispatch.events.service import since
from telephony.ari.client import AriClient
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk_local import InProcessDesk
from tests.doubles.ari_server import AriDouble
from tests.telephony.conftest import running, taker_ready
from tests.telephony.test_ari_bridge import call_on, event_types, status_of
from ui.context import Ctx

FAST = {"acd_interval_s": 0.05, "reconcile_interval_s": 600, "backoff_initial_s": 0.02, "ring_timeout_s": 5}


def make_bridge(ctx: Ctx, pbx: AriDouble, **options: object) -> AriBridge:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    desk = InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    return AriBridge(client, desk, AriOptions(**{**FAST, **options}))  # type: ignore[arg-type]


def lease_state(ctx: Ctx) -> str:
    with ctx.sessions() as session:
        return leases.current(session=session, name="tanggap112-bridge").state


def on_hold(pbx: AriDouble, channel: str) -> bool:
    return pbx.holding(channel) and channel in pbx.bridges["tanggap112-hold"].channels


async def test_every_caller_is_on_hold_with_music_across_reconciles(ctx: Ctx, pbx: AriDouble) -> None:
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        first = await pbx.incoming_call("081234567801")
        assert first is not None
        await pbx.wait_for(lambda: on_hold(pbx, first), timeout=1)
        for n in range(2):  # at connect and every 30 s in production; Asterisk answers 409 to the bridge
            await bridge.app.reconcile()
            caller = await pbx.incoming_call(f"08123456781{n}")
            assert caller is not None
            await pbx.wait_for(lambda c=caller: on_hold(pbx, c), timeout=1)  # within 1 s of StasisStart
        assert on_hold(pbx, first)
        assert any(r for r in pbx.calls_to("POST", "/bridges/tanggap112-hold") if r[1].endswith("-hold"))


async def test_asterisk_restart_makes_the_holding_bridge_again(ctx: Ctx, pbx: AriDouble) -> None:
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller))
        await pbx.caller_hangup(caller)
        pbx.bridges.clear()  # Asterisk restarted: its bridges are gone, our process was not told
        again = await pbx.incoming_call("081234567802")
        assert again is not None
        await pbx.wait_for(lambda: on_hold(pbx, again), timeout=1)


async def test_a_restarted_bridge_uses_the_holding_bridge_it_left(ctx: Ctx, pbx: AriDouble) -> None:
    """Asterisk answers 409 to making a bridge whose id exists, and never hands it back."""
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    await client.create_bridge("tanggap112-hold", "holding")  # left by this bridge before its restart
    await client.start_moh("tanggap112-hold")
    await client.close()
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller), timeout=1)


async def test_a_mixing_bridge_in_the_holding_bridges_place_is_replaced(ctx: Ctx, pbx: AriDouble) -> None:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    await client.create_bridge("tanggap112-hold", "mixing")  # left by an old version, or by hand
    await client.close()
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller), timeout=1)


async def test_greeting_in_the_callers_language_and_a_missing_prompt_never_blocks_the_queue(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, make_taker: Callable[..., int]
) -> None:
    pbx.sounds = {"en": set(), "id": set()}  # the prompts were never installed on the PBX
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        english = await pbx.incoming_call("+4930555000", args=["incoming", "+4930555000", "en"])
        ours = [await pbx.incoming_call(f"08123456780{n}") for n in range(3)]

        def plays() -> dict[str, dict[str, str]]:
            return {r[1].split("/")[3]: r[2] for r in pbx.calls_to("POST", "/play")}

        await pbx.wait_for(lambda: len(plays()) == 4)
        played = plays()
        assert played[str(english)]["lang"] == "en" and played[str(english)]["media"] == "sound:tanggap/salam-112"
        assert all(played[str(c)]["lang"] == "id" for c in ours)  # channel language is "en" unless named

        def failed() -> list[str]:
            return [e for e in pbx.sent if e["type"] == "PlaybackFinished" and e["playback"]["state"] == "failed"]

        await pbx.wait_for(lambda: len(failed()) == 4)
        await bridge.app.drain()
        logged = [r.getMessage() for r in caplog.records if "could not be played" in r.getMessage()]
        assert len(logged) == 2  # once for each language, not for every caller
        make_taker("taker1")
        await pbx.wait_for(lambda: status_of(ctx, str(english)) == "answered")  # the queue went on (first in it)


async def test_a_call_taken_by_the_dialplan_while_the_bridge_was_down_reaches_the_record(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("taker2", available=False)
    ended = await pbx.fallback_call("081234567890", desk="taker2", answer_after_s=0, talk_s=0)
    abandoned = await pbx.fallback_call("081234567891", desk=None, talk_s=0)
    live = await pbx.fallback_call("081234567892", desk="taker2", talk_s=None)
    assert not pbx.app_connected
    back = time.monotonic()
    async with running(make_bridge(ctx, pbx, journal_interval_s=0.05), pbx) as bridge:
        await pbx.wait_for(lambda: status_of(ctx, ended) == "ended" and status_of(ctx, live) == "answered")
        assert time.monotonic() - back < 5
        call = call_on(ctx, ended)
        assert call is not None and call.source == "fallback" and call.taker_id == taker
        assert call.caller == "+6281234567890" and call.answered_at is not None and call.ended_at is not None
        lost = call_on(ctx, abandoned)
        assert lost is not None and lost.status == "ended" and lost.classification == "abandoned"
        assert f"{pbx.journal_family}/{ended}" not in pbx.astdb  # forgotten once recorded
        assert f"{pbx.journal_family}/{live}" in pbx.astdb  # still going on: read again until it ends
        await bridge.app.reconcile()  # a live fallback call is not "a call whose channel is gone"
        assert status_of(ctx, live) == "answered"
        await pbx.caller_hangup(live)
        await pbx.wait_for(lambda: status_of(ctx, live) == "ended")
        await pbx.wait_for(lambda: not pbx.astdb)
        await bridge.app.read_journal()  # read again: nothing twice
    with ctx.sessions() as session:
        from sqlalchemy import func, select

        assert session.scalar(select(func.count(Call.id))) == 3
    assert event_types(ctx).count("call.offered") == 3


async def test_a_standby_takes_over_from_a_killed_bridge(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    active = make_bridge(ctx, pbx, lease_ttl_s=1.0)
    standby = make_bridge(ctx, pbx, lease_ttl_s=1.0)
    await active.start()
    await pbx.wait_for(lambda: active.state == "active" and active.connected.is_set())
    await standby.start()
    await pbx.wait_for(lambda: standby.state == "standby")
    assert len(pbx.sockets) == 1  # the standby does not connect: it would take the app from the active one
    for task in active._tasks:  # killed: no clean stop, the lease is not given up
        task.cancel()
    await pbx.drop_websockets(abrupt=True)
    killed = time.monotonic()
    try:
        await pbx.wait_for(lambda: standby.state == "active" and pbx.app_connected, timeout=5)
        assert time.monotonic() - killed < 5
        make_taker("taker1")
        caller = await pbx.incoming_call("081234567890")
        assert caller is not None
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
    finally:
        await standby.stop()
        await active.app.close()


async def test_application_replaced_stops_the_bridge_acting(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, make_taker: Callable[..., int]
) -> None:
    caplog.set_level(logging.ERROR, logger="telephony.ari.run")
    async with running(make_bridge(ctx, pbx, backoff_max_s=60), pbx) as bridge:
        waiting = await pbx.incoming_call("081234567890")
        assert waiting is not None
        await pbx.wait_for(lambda: on_hold(pbx, waiting))
        async with connect(AriClient(pbx.url, pbx.user, pbx.password, pbx.app).events_url()):  # another bridge
            await pbx.wait_for(lambda: bridge.state == "replaced")
            assert not bridge.app.active and not bridge.app.calls
            assert any("ApplicationReplaced" in r.getMessage() for r in caplog.records)
            await pbx.wait_for(lambda: lease_state(ctx) == "replaced")  # what /healthz shows: nobody of ours acts
            make_taker("taker1")
            await bridge.app.route()  # its ACD rings nobody: the app is another connection's now
            assert not [r for r in pbx.calls_to("POST", "/ari/channels") if "app" in r[2]]


async def test_reconcile_after_a_crash_leaves_no_conversation_bridge(ctx: Ctx, pbx: AriDouble) -> None:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    for n in (1, 2, 3):
        await client.create_bridge(f"tanggap112-mix-{n}", "mixing")  # a crashed bridge's conversations
    await client.create_bridge("other-install-mix-1", "mixing")  # another installation's: not ours to touch
    await client.close()
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        await pbx.wait_for(lambda: not any(b.startswith("tanggap112-mix-") for b in pbx.bridges))
        assert "other-install-mix-1" in pbx.bridges
        assert bridge.app.hold_bridge in pbx.bridges


async def test_two_installations_on_one_pbx_never_clash(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    async with running(make_bridge(ctx, pbx, install="padang112"), pbx):
        make_taker("taker1")
        caller = await pbx.incoming_call("081234567890")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
        call = call_on(ctx, caller)
        assert call is not None and str(call.recording_ref).startswith(f"padang112-call-{call.id}-")
        assert "padang112-hold" in pbx.bridges and f"padang112-mix-{call.id}" in pbx.bridges
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: f"padang112-mix-{call.id}" not in pbx.bridges)


async def test_a_busy_desk_is_rung_again_after_a_pause_and_the_call_taker_is_told(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("taker1")
    pbx.endpoints["taker1"] = "busy"  # on a call the dialplan's fallback rang to it
    async with running(make_bridge(ctx, pbx, busy_retry_s=1.0), pbx):
        caller = await pbx.incoming_call("081234567890")
        assert caller is not None

        def reasons() -> list[object]:
            with ctx.sessions() as session:
                return [
                    e.data.get("reason")
                    for e in since(session, 0, limit=5000)
                    if e.type == "taker.available" and e.data.get("user_id") == taker
                ]

        await pbx.wait_for(lambda: "desk_busy" in reasons())  # what the call-taker's console shows
        assert status_of(ctx, caller) == "offered" and not taker_ready(ctx, taker)
        pbx.endpoints["taker1"] = "answer"  # the other call ended
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered", timeout=5)
        assert reasons()[-2:] == ["desk_free_again", "ringing"]
