"""The ARI bridge (telephony/ari/app.py) where its main tests look away: a conversation that outlives a restart of
the bridge while stray and orphaned desk legs are hung up, a waiting caller put back on hold, the music class, a
missing prompt named for the operator, hang-up causes and times (caller and call-taker), a caller the core never
recorded, a call claimed for a caller this bridge does not have or who no longer waits, a withheld number on the
desk phone, desks that cannot be rung, do not answer, answer busy or go silent (the ring watchdog), a desk that
answers whatever became of the greeting and the hold, the ACD through an outage of the dispatch core, a call-taker
who hangs up while the events connection is down. Every wait is for a condition, never a fixed sleep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
from websockets.asyncio.client import connect

from dispatch.calls import service as calls
from dispatch.calls.models import Call, CallerFlag
from dispatch.clock import utcnow
from dispatch.events.service import since
from dispatch.users import service as users
from telephony.ari.app import CallState, StasisApp, _event_time
from telephony.ari.channels import created_at
from telephony.ari.client import AriClient, AriError, AriNotFound
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk import DeskUnavailable
from telephony.desk_local import InProcessDesk
from tests.doubles.ari_server import AriDouble
from tests.telephony import conftest as telephony
from tests.telephony import test_major_choice
from tests.telephony.conftest import running, taker_ready
from tests.telephony.test_ari_bridge import call_on, event_types, status_of
from tests.telephony.test_bridge_faults import FAST, make_bridge, on_hold
from tests.telephony.test_bridge_journal import desk_legs
from ui.context import Ctx

# The telephony tests' fixtures: their conftest reaches tests/telephony/ only.
pbx, make_taker, disaster = telephony.pbx, telephony.make_taker, test_major_choice.disaster  # the Padang earthquake


@pytest.fixture(autouse=True)
def in_the_callers_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step a reconcile takes for a caller runs in that caller's turn, keyed by their channel, so that their
    events wait for it and it for them (a hang-up handled halfway through putting them on hold, or recording
    them, would leave a wrong record or a caller in silence). Checked on every reconcile of these tests."""
    under_lock = StasisApp._under_lock

    async def checked(self: StasisApp, key: str, work: Any) -> None:
        if isinstance(work, partial):  # the app's own steps (a test may hand it a bare function)
            of = [
                a.channel_id if isinstance(a, CallState) else str(a.get("id"))
                for a in work.args
                if isinstance(a, (CallState, dict))
            ]
            assert of and key == of[0], f"{work} run in the turn of {key!r}"
        await under_lock(self, key, work)

    monkeypatch.setattr(StasisApp, "_under_lock", checked)


def bridge_on(ctx: Ctx, pbx: AriDouble, desk: InProcessDesk | None = None, **options: Any) -> AriBridge:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    desk = desk or InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    return AriBridge(client, desk, AriOptions(**{**FAST, **options}))


def app_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the bridge's app logged, as read."""
    return [r.getMessage() for r in caplog.records if r.name == "telephony.ari.app"]


@contextlib.asynccontextmanager
async def by_hand(pbx: AriDouble) -> AsyncIterator[AriClient]:
    """An ARI client of someone else's (the Asterisk CLI, an old version): what it does, no bridge of ours did."""
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    try:
        yield client
    finally:
        await client.close()


class Held:
    """A REST call of the bridge held on its way until the test lets it go: `asked` once it is called, `go` to
    let it through."""

    def __init__(self, call: Callable[..., Awaitable[Any]]) -> None:
        self.call, self.asked, self.go = call, asyncio.Event(), asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.asked.set()
        await self.go.wait()
        return await self.call(*args, **kwargs)


def live_call(ctx: Ctx, channel_id: str, caller: str = "+6281234567809") -> None:
    """A call the core has as live on a channel this bridge never knew (a crashed bridge's, or another one's)."""
    with ctx.sessions() as session:
        calls.offer(session=session, caller=caller, provider="asterisk", channel_id=channel_id)
        session.commit()


def events_of(ctx: Ctx, kind: str) -> list[dict[str, Any]]:
    with ctx.sessions() as session:
        return [dict(e.data) for e in since(session, 0, limit=5000) if e.type == kind]


def ringing(pbx: AriDouble, leg: str) -> bool:
    """The desk phone rings: the originate reached the PBX (the bridge names the leg in taker_legs before it asks)."""
    chan = pbx.channels.get(leg)
    return chan is not None and chan.state == "Ringing"


# -- pure helpers -----------------------------------------------------------------------------------------


def test_an_event_is_recorded_at_asterisks_time_else_now() -> None:
    assert _event_time({"timestamp": "2026-11-22T08:00:38.327+0000"}) == datetime(
        2026, 11, 22, 8, 0, 38, 327000, tzinfo=UTC
    )
    before = datetime.now(UTC)
    for event in ({}, {"timestamp": "not a time"}, {"timestamp": "2026-11-22T08:00:38"}):  # naive: not trusted
        at = _event_time(event)
        assert at.tzinfo is not None and before <= at <= datetime.now(UTC), event


def test_events_are_keyed_by_the_caller_they_belong_to() -> None:
    app = StasisApp(SimpleNamespace(), SimpleNamespace())  # type: ignore[arg-type]
    app.taker_legs["taker-leg"] = "caller-1"
    assert app._key({"channel": {"id": "caller-1"}}) == "caller-1"
    assert app._key({"channel": {"id": "taker-leg"}}) == "caller-1"  # a taker's leg waits behind its caller
    assert app._key({"channel": {}}) == ""
    assert app._key({"playback": {"target_uri": "channel:caller-2"}}) == "caller-2"
    assert app._key({"recording": {"target_uri": "channel:caller-3"}}) == "caller-3"
    assert app._key({"recording": {"target_uri": "bridge:tanggap112-mix-7"}}) == "bridge:tanggap112-mix-7"
    assert app._key({"playback": {"target_uri": "endpoint:PJSIP/x"}}) is None
    assert app._key({"type": "ApplicationReplaced"}) is None


def test_the_acd_polls_slowly_only_while_the_desk_tells_of_ready_call_takers() -> None:
    options = AriOptions(acd_interval_s=0.5, acd_idle_s=15)
    told = StasisApp(SimpleNamespace(), SimpleNamespace(notices_takers=True), options)  # type: ignore[arg-type]
    deaf = StasisApp(SimpleNamespace(), SimpleNamespace(notices_takers=False), options)  # type: ignore[arg-type]
    assert told._acd_wait() == 15 and deaf._acd_wait() == 0.5
    options = AriOptions(acd_interval_s=20, acd_idle_s=15)  # never faster than the plain interval
    assert StasisApp(SimpleNamespace(), SimpleNamespace(notices_takers=True), options)._acd_wait() == 20  # type: ignore[arg-type]


# -- on hold, with music ----------------------------------------------------------------------------------


async def test_the_holding_bridge_plays_the_configured_music_class(ctx: Ctx, pbx: AriDouble) -> None:
    async with running(make_bridge(ctx, pbx, moh_class="tanggap-tunggu"), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller))
        hold = pbx.bridges["tanggap112-hold"]
        assert hold.kind == "holding" and hold.moh_class == "tanggap-tunggu" and hold.name == "tanggap112 queue"


async def test_a_missing_prompt_is_named_once_per_language_for_the_operator(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    pbx.sounds = {"en": set(), "id": set()}  # the prompts were never installed on the PBX
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        callers = [await pbx.incoming_call(f"08123456780{n}") for n in range(2)]
        callers.append(await pbx.incoming_call("+4930555000", args=["incoming", "+4930555000", "en"]))

        def greeted() -> bool:  # every failed greeting sent and handled (the handler forgets its playback)
            failed = [e for e in pbx.sent if e["type"] == "PlaybackFinished" and e["playback"]["state"] == "failed"]
            states = [bridge.app.calls.get(str(c)) for c in callers]
            return len(failed) == 3 and all(s is not None and s.playback_id is None for s in states)

        await pbx.wait_for(greeted)
    logged = sorted(r.getMessage() for r in caplog.records if r.name == "telephony.ari.app")
    hint = "could not be played: is it installed on the PBX? (config/asterisk/sounds)"
    assert logged == [f"prompt sound:tanggap/salam-112 ({lang}) {hint}" for lang in ("en", "id")]


async def test_the_holding_bridge_is_made_and_its_music_started_once_for_all_waiting_callers(
    ctx: Ctx, pbx: AriDouble
) -> None:
    """Once the holding bridge is up, a waiting caller costs one REST call to join it (under a surge every
    request counts): the bridge is not looked for, nor its music started again, for each caller."""
    async with running(make_bridge(ctx, pbx), pbx):
        callers = [await pbx.incoming_call(f"08123456780{n}") for n in range(3)]
        await pbx.wait_for(lambda: all(c is not None and on_hold(pbx, c) for c in callers))
        assert len(pbx.calls_to("POST", "/ari/bridges/tanggap112-hold/moh")) == 1
        made = [r for r in pbx.calls_to("POST", "/ari/bridges") if r[1] == "/ari/bridges/tanggap112-hold"]
        assert len(made) == 1


async def test_a_reconcile_that_finds_the_holding_bridge_as_it_should_be_changes_nothing(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """One GET of the holding bridge: its type and its callers as they should be, nobody is put back, the bridge
    is not made again, nor its music restarted."""
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        callers = [await pbx.incoming_call(f"08123456780{n}") for n in range(2)]
        await pbx.wait_for(lambda: all(c is not None and on_hold(pbx, c) for c in callers))
        await bridge.app.drain()
        before = len(pbx.requests)
        await bridge.app.reconcile()
        await bridge.app.drain()
        changed = [r[1] for r in pbx.requests[before:] if r[0] in ("POST", "DELETE") and "/bridges" in r[1]]
        assert changed == []
        assert app_log(caplog) == []


async def test_a_holding_bridge_made_a_mixing_one_while_running_is_made_holding_again_with_its_callers(
    ctx: Ctx, pbx: AriDouble
) -> None:
    """Someone (an old version, a hand at the Asterisk CLI) puts a mixing bridge under the holding bridge's
    name, with the waiting callers in it: they would hear each other. The next reconcile sees its type, makes
    the holding bridge again with its music and puts them back."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        callers = [await pbx.incoming_call(f"08123456780{n}") for n in range(2)]
        await pbx.wait_for(lambda: all(c is not None and on_hold(pbx, c) for c in callers))
        async with by_hand(pbx) as client:
            await client.destroy_bridge("tanggap112-hold")
            await client.create_bridge("tanggap112-hold", "mixing")
            await client.add_channel("tanggap112-hold", [str(c) for c in callers])
        assert pbx.bridges["tanggap112-hold"].kind == "mixing"
        await bridge.app.reconcile()
        await bridge.app.drain()
        assert all(c is not None and on_hold(pbx, c) for c in callers)
        assert pbx.bridges["tanggap112-hold"].kind == "holding"


async def test_a_waiting_caller_taken_out_of_the_holding_bridge_is_put_back_by_a_reconcile(
    ctx: Ctx, pbx: AriDouble
) -> None:
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller) and "call.queued" in event_types(ctx))
        other = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
        await other.remove_channel("tanggap112-hold", caller)  # by hand, or lost in an Asterisk hiccup
        await other.close()
        assert not on_hold(pbx, caller)
        await bridge.app.reconcile()
        assert on_hold(pbx, caller)
        assert bridge.app.calls[caller].hold_bridge == "tanggap112-hold"
        assert status_of(ctx, caller) == "offered"


async def test_a_reconcile_puts_back_every_caller_out_of_the_holding_bridge_and_names_each_one(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """Of three waiting callers, the second and third were taken out of the holding bridge: both are put back,
    each named in the log; the first, where it should be, is left alone."""
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        callers = [str(await pbx.incoming_call(f"08123456780{n}")) for n in range(3)]
        await pbx.wait_for(lambda: all(on_hold(pbx, c) for c in callers))
        await bridge.app.drain()
        async with by_hand(pbx) as other:
            for caller in callers[1:]:
                await other.remove_channel("tanggap112-hold", caller)
        before = len(pbx.requests)
        await bridge.app.reconcile()
        await bridge.app.drain()
        assert all(on_hold(pbx, c) for c in callers)
        added = [r[2].get("channel") for r in pbx.requests[before:] if r[1].endswith("/addChannel")]
        assert added == callers[1:]
    logged = app_log(caplog)
    assert logged == [f"caller on channel {c} was not in the holding bridge: putting them back" for c in callers[1:]]


async def test_a_reconcile_puts_a_caller_on_hold_only_after_their_own_arrival_is_handled(
    ctx: Ctx, pbx: AriDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reconcile that finds a caller outside the holding bridge while their arrival is still being handled
    (the answer on its way) waits for it, in the caller's turn: the caller is answered before being put in the
    holding bridge, never the other way round."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        answer = Held(app.client.answer)
        monkeypatch.setattr(app.client, "answer", answer)
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await asyncio.wait_for(answer.asked.wait(), 5)

        def added() -> bool:
            return any(r[2].get("channel") == caller for r in pbx.calls_to("POST", "/addChannel"))

        reconciling = asyncio.ensure_future(app.reconcile())
        await pbx.wait_for(lambda: app._pending.get(caller, 0) >= 2 or added())  # waiting its turn, or not
        answer.go.set()
        await reconciling
        await app.drain()
        order = [
            r[1].rsplit("/", 1)[1]
            for r in pbx.requests
            if r[1] == f"/ari/channels/{caller}/answer"
            or (r[1].endswith("/addChannel") and r[2].get("channel") == caller)
        ]
        assert order[0] == "answer" and on_hold(pbx, caller)


# -- a restart of the bridge ------------------------------------------------------------------------------


async def test_a_conversation_outlives_a_restart_of_the_bridge(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("taker1")
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
    call = call_on(ctx, caller)
    assert call is not None and call.status == "answered"
    mix = f"tanggap112-mix-{call.id}"
    leg = next(c for c in pbx.channels if c != caller and not c.startswith("tanggap112-journal-"))
    assert set(pbx.bridges[mix].channels) == {caller, leg}
    async with in_stasis_unseen(pbx):  # a leg of no call in our app: hung up, never taken for a conversation's
        stray = await pbx.incoming_call("081234567809", args=["taker"])
    assert stray is not None
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        await pbx.wait_for(lambda: stray not in pbx.channels)
        await pbx.wait_for(lambda: caller in bridge.app.calls and leg in bridge.app.taker_legs)
        counts = await bridge.app.reconcile()
        assert counts["orphans"] == 0 and counts["bridges"] == 0 and counts["ended"] == 0
        state = bridge.app.calls[caller]
        assert state.connected and state.taker_id == taker and state.mix_bridge == mix
        assert state.taker_channel == leg and bridge.app.taker_legs[leg] == caller
        assert set(pbx.bridges[mix].channels) == {caller, leg}  # still talking
        assert not pbx.calls_to("DELETE", f"/channels/{caller}") and not pbx.calls_to("DELETE", f"/channels/{leg}")
        assert not on_hold(pbx, caller) and status_of(ctx, caller) == "answered"
        await pbx.caller_hangup(leg)  # the call-taker hangs up: the caller's call ends too
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and caller not in pbx.channels)
        await pbx.wait_for(lambda: mix not in pbx.bridges and taker_ready(ctx, taker))


@contextlib.asynccontextmanager
async def in_stasis_unseen(pbx: AriDouble) -> AsyncIterator[None]:
    """Channels made in here enter our app while no bridge of ours is connected (another process held it)."""
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    async with connect(client.events_url()):
        await pbx.wait_for(lambda: pbx.app_connected)
        yield
    await client.close()


async def test_a_desk_answered_while_no_bridge_was_connected_is_hung_up_and_the_caller_rung_again(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("taker1")
    pbx.endpoints["taker1"] = "ring"
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: len([c for c in pbx.channels if c.startswith("tanggap-taker-")]) == 1)
    leg = next(c for c in pbx.channels if c.startswith("tanggap-taker-"))
    await pbx.answer_taker(leg)  # picked up in the gap: in our app, but no bridge heard it
    pbx.endpoints["taker1"] = "answer"
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
        assert leg not in pbx.channels  # not adopted: a waiting caller is never tied to a leg nobody bridged
        reasons = [e.get("reason") for e in events_of(ctx, "call.requeued")]
        assert reasons == ["orphan_leg"]
        call = call_on(ctx, caller)
        assert call is not None and call.taker_id == taker
        state = bridge.app.calls[caller]
        assert state.connected and state.taker_channel not in (None, leg)


async def test_a_reconcile_never_moves_a_caller_who_is_rung_talking_or_gone(ctx: Ctx, pbx: AriDouble) -> None:
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller) and "call.queued" in event_types(ctx))
        await bridge.app.drain()
        state = bridge.app.calls[caller]
        adds = len(pbx.calls_to("POST", "/addChannel"))
        for ringing, connected, ended in ((True, False, False), (False, True, False), (False, False, True)):
            state.taker_channel = "tanggap-taker-x" if ringing else None
            state.connected, state.ended = connected, ended
            await bridge.app._rehold(state)
        assert len(pbx.calls_to("POST", "/addChannel")) == adds
        state.taker_channel, state.connected, state.ended = None, False, False
        await bridge.app._rehold(state)
        assert len(pbx.calls_to("POST", "/addChannel")) == adds + 1 and on_hold(pbx, caller)


async def test_the_holding_bridge_check_neither_moves_nor_reports_a_caller_being_rung_or_gone(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    """Outside the holding bridge are also a caller whose desk rings (taken out by hand here; the answer moves them)
    and a caller who hung up while the core was away (their end waits for it): the check leaves both where they
    are, and its log does not say it put them back."""
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    make_taker("slow")
    pbx.endpoints["slow"] = "ring"
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        app = bridge.app
        rung = await pbx.incoming_call("081234567801")
        assert rung is not None
        await pbx.wait_for(lambda: rung in app.calls and app.calls[rung].taker_channel)
        async with by_hand(pbx) as client:
            await client.remove_channel(app.hold_bridge, rung)
        desk.down = True
        gone = await pbx.incoming_call("081234567802")
        assert gone is not None
        await pbx.wait_for(lambda: on_hold(pbx, gone) and "call.queued" in event_types(ctx))
        await pbx.caller_hangup(gone)
        await pbx.wait_for(lambda: app.calls[gone].ended)
        await app.drain()
        adds = len(pbx.calls_to("POST", "/addChannel"))
        await app._check_hold()
        assert len(pbx.calls_to("POST", "/addChannel")) == adds
        assert not pbx.holding(rung) and app.calls[rung].taker_channel and gone in app.calls
    assert [m for m in app_log(caplog) if "holding bridge" in m] == []


async def test_a_caller_whose_call_ended_while_the_bridge_was_away_is_hung_up(ctx: Ctx, pbx: AriDouble) -> None:
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller) and "call.queued" in event_types(ctx))
    call = call_on(ctx, caller)
    assert call is not None
    with ctx.sessions() as session:
        calls.end(session=session, call_id=call.id, actor="test", cause="ended by hand")
        session.commit()
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        await pbx.wait_for(lambda: caller not in pbx.channels)
        await bridge.app.drain()
        assert caller not in bridge.app.calls or bridge.app.calls[caller].ended
    assert status_of(ctx, caller) == "ended"


# -- hang-ups -------------------------------------------------------------------------------------------


async def test_a_hang_up_is_recorded_with_its_cause_and_asterisks_time(ctx: Ctx, pbx: AriDouble) -> None:
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        callers = [await pbx.incoming_call(f"08123456780{n}") for n in range(3)]
        assert None not in callers
        await pbx.wait_for(lambda: event_types(ctx).count("call.queued") == 3)
        first, second, third = (str(c) for c in callers)
        at = "2026-11-22T08:00:38.327+0000"
        bridge.app.dispatch({"type": "StasisEnd", "timestamp": at, "channel": {"id": first}})
        bridge.app.dispatch({"type": "ChannelHangupRequest", "cause": 19, "channel": {"id": second}})
        bridge.app.dispatch({"type": "ChannelDestroyed", "cause": 3, "cause_txt": "No route", "channel": {"id": third}})
        await bridge.app.drain()
        causes = {e["channel_id"]: e["cause"] for e in events_of(ctx, "call.ended")}
        assert causes == {first: "caller hung up", second: "cause 19", third: "No route"}
        ended = call_on(ctx, first)
        assert ended is not None and ended.ended_at is not None
        assert ended.ended_at.replace(tzinfo=UTC) == datetime(2026, 11, 22, 8, 0, 38, 327000, tzinfo=UTC)
        assert not bridge.app.calls and not bridge.app.by_call and not bridge.app._locks and not bridge.app._pending


async def test_a_caller_who_hangs_up_while_the_core_is_away_is_ended_by_the_next_reconcile(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: "call.queued" in event_types(ctx))
        desk.down = True
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: bridge.app.calls[caller].ended)
        await bridge.app.drain()
        assert status_of(ctx, caller) == "offered" and caller in bridge.app.calls  # kept for the retry
        call = call_on(ctx, caller)
        assert call is not None
        logged = app_log(caplog)
        assert f"could not end call {call.id}: core away (reconcile retries)" in logged
        desk.down = False
        counts = await bridge.app.reconcile()
        assert counts["ended"] == 1 and status_of(ctx, caller) == "ended" and not bridge.app.calls


class FlakyDesk(InProcessDesk):
    """The dispatch core, unreachable while `down`; `journal` says whether an unrecorded call's end is kept for
    it (a bridge in its own process journals it on its disk)."""

    down = False  # finish and claim
    offers_down = False
    queued_down = False
    requeue_down = False
    journal = False

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.unrecorded: list[tuple[str, str | None, datetime]] = []

    async def offer(self, **kwargs: Any) -> Any:
        if self.offers_down:
            raise DeskUnavailable("core away")
        return await super().offer(**kwargs)

    async def queued(self, call_id: int, *, actor: str | None = None) -> int | None:
        if self.queued_down:
            raise DeskUnavailable("core away")
        return await super().queued(call_id, actor=actor)

    async def ended_unrecorded(self, channel_id: str, cause: str | None, at: datetime) -> bool:
        self.unrecorded.append((channel_id, cause, at))
        return self.journal

    async def finish(self, call_id: int, cause: str | None, *, at: datetime | None = None) -> Any:
        if self.down:
            raise DeskUnavailable("core away")
        return await super().finish(call_id, cause, at=at)

    async def claim(self) -> Any:
        if self.down:
            raise DeskUnavailable("core away")
        return await super().claim()

    async def requeue(self, call_id: int, taker_id: int, reason: str, taker_available: bool) -> None:
        if self.requeue_down:
            raise DeskUnavailable("core away")
        await super().requeue(call_id, taker_id, reason, taker_available)


# -- routing to a call-taker ----------------------------------------------------------------------------


async def test_the_acd_goes_on_after_the_core_was_away(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    desk.down = True
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        make_taker("taker1")
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: "call.queued" in event_types(ctx))
        with pytest.raises(DeskUnavailable):
            await bridge.app.route()
        bridge.app.active = False  # a standby for a moment: its ACD rings nobody
        desk.down = False
        bridge.app.kick()
        with pytest.raises(TimeoutError):
            await pbx.wait_for(lambda: status_of(ctx, caller) != "offered", timeout=0.3)
        bridge.app.active = True
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")


async def test_a_claimed_call_of_a_caller_on_another_bridge_is_given_back_and_the_taker_stays_ready(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    async with running(make_bridge(ctx, pbx), pbx):
        # after the first reconcile has read the live calls (it lists the bridges last): it would end this one
        await pbx.wait_for(lambda: [r for r in pbx.calls_to("GET", "/bridges") if r[1] == "/ari/bridges"])
        live_call(ctx, "elsewhere", "+6281234567801")
        taker = make_taker("taker1")
        await pbx.wait_for(
            lambda: any(e.get("reason") == "not_on_this_bridge" for e in events_of(ctx, "call.requeued"))
        )
        given_back = [e for e in events_of(ctx, "taker.available") if e.get("reason") == "not_on_this_bridge"]
        assert given_back and all(e["available"] and e["user_id"] == taker for e in given_back)  # ready again
        assert status_of(ctx, "elsewhere") == "offered"
        assert not [r for r in pbx.calls_to("POST", "/ari/channels") if "app" in r[2]]  # nobody rung


async def test_a_desk_that_cannot_be_rung_is_set_not_ready_and_the_next_one_is_rung(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    pbx.endpoints["dead"] = "unregistered"
    dead = make_taker("dead")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: any(e.get("reason") == "originate_failed" for e in events_of(ctx, "call.requeued")))
        assert not taker_ready(ctx, dead) and status_of(ctx, caller) == "offered" and on_hold(pbx, caller)
        assert not bridge.app.taker_legs and bridge.app.calls[caller].taker_channel is None
        other = make_taker("other")
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
        call = call_on(ctx, caller)
        assert call is not None and call.taker_id == other
        logged = app_log(caplog)
        assert logged == [f"could not ring PJSIP/dead for call {call.id}: ARI 500: {{'error': 'Allocation failed'}}"]


async def test_the_desk_is_rung_with_the_callers_number_and_the_ring_timeout(ctx: Ctx, pbx: AriDouble) -> None:
    with ctx.sessions() as session:
        users.create(
            session=session, username="sip2", password="rahasia-112", role="call_taker", sip_endpoint="PJSIP/desk-2"
        )
        session.commit()
    pbx.endpoints["desk-2"] = "ring"
    async with running(make_bridge(ctx, pbx, ring_timeout_s=7), pbx):
        with ctx.sessions() as session:
            from sqlalchemy import select

            from dispatch.users.models import User

            user = session.scalar(select(User).where(User.username == "sip2"))
            assert user is not None
            users.set_available(session=session, user=user, available=True)
            session.commit()
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: [r for r in pbx.calls_to("POST", "/ari/channels") if "app" in r[2]])
        originate = next(r[2] for r in pbx.calls_to("POST", "/ari/channels") if "app" in r[2])
        assert originate["endpoint"] == "PJSIP/desk-2"  # a full dial string is used as it is
        assert originate["callerId"] == "112 <081234567801>"  # as the network gave it
        assert originate["timeout"] == "7"
        assert originate["channelId"].startswith("tanggap-taker-")


async def test_a_withheld_number_reaches_the_desk_phone_as_anonim(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    make_taker("taker1")
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("")
        assert caller is not None
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
        (originate,) = [r[2] for r in pbx.calls_to("POST", "/ari/channels") if "app" in r[2]]
        assert originate["callerId"] == "112 <anonim>"


async def test_a_call_claimed_while_its_caller_is_rung_talking_or_gone_is_given_back_and_the_taker_ready(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """A claim can cross the caller's hang-up, or come after the call's reservation ran out while a desk still
    rings (queue.RESERVATION_TTL): nobody is rung, and the call-taker is ready for the next caller at once."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller) and "call.queued" in event_types(ctx))
        await bridge.app.drain()
        state, call = bridge.app.calls[caller], call_on(ctx, caller)
        assert call is not None
        async with bridge.app._route_lock:  # the ACD waits: the test claims the call
            taker = make_taker("taker2")  # ready only now, or the ACD could claim the call first
            for ringing, connected, ended in ((True, False, False), (False, True, False), (False, False, True)):
                state.taker_channel = "tanggap-taker-x" if ringing else None
                state.connected, state.ended = connected, ended
                (match,) = await bridge.app.desk.claim()
                assert match.taker_id == taker and not taker_ready(ctx, taker)
                await bridge.app._ring(state, match)
                given_back = {"id": call.id, "taker_id": taker, "reason": "call_not_waiting"}
                assert events_of(ctx, "call.requeued")[-1] == given_back and taker_ready(ctx, taker)
            assert not [r for r in pbx.calls_to("POST", "/ari/channels") if "app" in r[2]]  # nobody rung


class BusyDesk:
    """Only what `_after_busy` asks of the dispatch core."""

    notices_takers = False

    def __init__(self, answer: bool | None) -> None:
        self.answer, self.asked = answer, []

    async def ready_after_busy(self, taker_id: int) -> bool:
        self.asked.append(taker_id)
        if self.answer is None:
            raise DeskUnavailable("core away")
        return self.answer


async def test_after_a_busy_desk_the_call_taker_is_made_ready_and_the_acd_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    for answer, kicked in ((True, True), (False, False), (None, False)):
        desk = BusyDesk(answer)
        app = StasisApp(SimpleNamespace(), desk)  # type: ignore[arg-type]
        app.options.busy_retry_s = 0  # the pause itself is AriOptions' (1-300 s)
        await app._after_busy(7)
        assert desk.asked == [7] and app._kick.is_set() is kicked
    (record,) = [r for r in caplog.records if r.name == "telephony.ari.app"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "could not make call-taker 7 ready after a busy desk: core away"


@pytest.mark.parametrize("journal", [False, True])
async def test_a_caller_the_core_never_heard_of_is_held_and_their_call_reaches_the_record(
    ctx: Ctx, pbx: AriDouble, journal: bool
) -> None:
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    desk.down = desk.offers_down = True
    desk.journal = journal
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller) and pbx.calls_to("POST", f"/channels/{caller}/play"))
        await bridge.app.drain()
        assert call_on(ctx, caller) is None and bridge.app.calls[caller].call_id is None  # on hold all the same
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: desk.unrecorded)
        await bridge.app.drain()
        hangup = next(e for e in pbx.sent if e["type"] == "ChannelHangupRequest")
        at = _event_time(hangup)
        assert desk.unrecorded[0] == (caller, "caller hung up", at)
        if journal:  # the journal has the call and its end: the bridge forgets the caller
            assert len(desk.unrecorded) == 1 and caller not in bridge.app.calls
            return
        assert {u[2] for u in desk.unrecorded} == {at}  # hang-up events come in threes: the first one's time
        desk.down = desk.offers_down = False
        counts = await bridge.app.reconcile()  # the core is back: recorded and ended, at the hang-up's time
        assert counts["ended"] == 1 and caller not in bridge.app.calls
        call = call_on(ctx, caller)
        assert call is not None and call.status == "ended" and call.classification == "abandoned"
        assert call.ended_at is not None and call.ended_at.replace(tzinfo=UTC) == at


async def test_a_caller_whose_channel_vanished_unseen_is_ended_now_by_a_reconcile(
    ctx: Ctx, pbx: AriDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller) and "call.queued" in event_types(ctx))
        await bridge.app.drain()
        del pbx.channels[caller]  # gone without a word (events lost in a gap)
        pbx.bridges["tanggap112-hold"].channels.remove(caller)
        monkeypatch.setenv("TZ", "Asia/Jakarta")  # the host's clock is not UTC: "now" must still be UTC
        time.tzset()
        try:
            before = datetime.now(UTC)
            counts = await bridge.app.reconcile()
            after = datetime.now(UTC)
        finally:
            monkeypatch.delenv("TZ")
            time.tzset()
        assert counts == {"offered": 0, "ended": 1, "orphans": 0, "bridges": 0, "fallback": 0}
        call = call_on(ctx, caller)
        assert call is not None and call.status == "ended" and call.ended_at is not None
        assert before <= call.ended_at.replace(tzinfo=UTC) <= after
        assert [e["cause"] for e in events_of(ctx, "call.ended")] == ["channel gone (reconciled)"]


async def test_a_caller_who_hangs_up_while_the_desk_rings_frees_the_call_taker_as_not_at_fault(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("slow")
    pbx.endpoints["slow"] = "ring"
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: len([c for c in pbx.channels if c.startswith("tanggap-taker-")]) == 1)
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and not pbx.channels and taker_ready(ctx, taker))
        call = call_on(ctx, caller)
        assert call is not None
        assert events_of(ctx, "call.requeued") == [{"id": call.id, "taker_id": taker, "reason": "caller_hung_up"}]


async def test_a_caller_who_hangs_up_mid_conversation_ends_it_without_requeueing(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("taker1")
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and not pbx.channels and taker_ready(ctx, taker))
        assert not events_of(ctx, "call.requeued")
        assert [e["cause"] for e in events_of(ctx, "call.ended")] == ["cause 16"]  # the BYE after the music


async def test_a_caller_who_hangs_up_while_the_desk_rings_is_ended_even_if_the_taker_cannot_be_freed(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    taker = make_taker("slow")
    pbx.endpoints["slow"] = "ring"
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: len([c for c in pbx.channels if c.startswith("tanggap-taker-")]) == 1)
        desk.requeue_down = True
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and not pbx.channels)
        await pbx.wait_for(lambda: caller not in bridge.app.calls)
        call = call_on(ctx, caller)
        assert call is not None
        logged = app_log(caplog)
        assert f"call {call.id}: could not free call-taker {taker}: core away" in logged


class HeldPauses:
    """`asyncio.sleep` as telephony/ari/app.py sees it: each pause is recorded and lasts until `release()`. The ring
    watchdog waits ring_timeout_s + 5 s (10 s at least): the test says when it fires instead of waiting it out."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._over = asyncio.Event()

    async def sleep(self, delay: float) -> None:
        self.asked.append(delay)
        over = self._over
        await over.wait()

    def release(self) -> None:
        """The pauses taken so far are over; later ones wait for the next release."""
        self._over.set()
        self._over = asyncio.Event()


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> HeldPauses:
    held = HeldPauses()
    monkeypatch.setattr("telephony.ari.app.asyncio", SimpleNamespace(**{**vars(asyncio), "sleep": held.sleep}))
    return held


async def test_a_desk_phone_that_goes_silent_is_given_back_by_the_ring_watchdog(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], pauses: HeldPauses
) -> None:
    pbx.endpoints["mute"] = "silent"  # never rings, answers or ends: its events are lost
    mute = make_taker("mute")
    async with running(make_bridge(ctx, pbx, ring_timeout_s=7), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app.taker_legs and pauses.asked)
        (leg,) = bridge.app.taker_legs
        assert pauses.asked == [7 + 5]  # the phone's own ring timeout, and a grace for its events
        other = make_taker("other")
        pauses.release()
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")  # the next desk took the call
        call = call_on(ctx, caller)
        assert call is not None and call.taker_id == other
        no_answer = {"id": call.id, "taker_id": mute, "reason": "no_answer (ring watchdog)"}
        assert events_of(ctx, "call.requeued") == [no_answer]
        assert leg not in pbx.channels and not taker_ready(ctx, mute)


async def test_the_ring_watchdog_firing_as_the_desk_answers_leaves_the_conversation_alone(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], pauses: HeldPauses, monkeypatch: pytest.MonkeyPatch
) -> None:
    pbx.endpoints["slow"] = "ring"
    make_taker("slow")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app.taker_legs and pauses.asked)
        (leg,) = bridge.app.taker_legs
        await pbx.wait_for(lambda: ringing(pbx, leg))
        seen: list[tuple[str, str]] = []
        dispatch = bridge.app.dispatch

        def spy(event: dict[str, Any]) -> None:
            seen.append((event["type"], event.get("channel", {}).get("id", "")))
            dispatch(event)

        monkeypatch.setattr(bridge.app, "dispatch", spy)
        # The caller's earlier events are still being handled when the desk answers and then the watchdog fires:
        # both wait behind them (a lock per caller, first come first served), so the watchdog's event finds a
        # conversation.
        holding, busy = asyncio.Event(), asyncio.Event()

        async def earlier_events() -> None:
            holding.set()
            await busy.wait()

        earlier = asyncio.ensure_future(bridge.app._serialised(caller, earlier_events, "earlier events"))
        await wait_until(holding.is_set)
        await pbx.answer_taker(leg)
        await wait_until(lambda: ("StasisStart", leg) in seen)
        pauses.release()
        await wait_until(lambda: ("ChannelDestroyed", leg) in seen)  # the watchdog's: the leg lives on
        busy.set()
        await earlier
        await bridge.app.drain()
        assert status_of(ctx, caller) == "answered" and caller in pbx.channels and leg in pbx.channels
        assert bridge.app.taker_legs[leg] == caller and bridge.app.calls[caller].connected
        assert not events_of(ctx, "call.requeued")


@pytest.mark.parametrize("before", ["greeting playing", "greeting just over", "caller out of the holding bridge"])
async def test_a_desk_that_answers_is_bridged_with_its_caller_at_the_time_asterisk_gives(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], before: str
) -> None:
    pbx.endpoints["slow"] = "ring"
    pbx.playback_s = None  # the greeting plays until it is stopped
    make_taker("slow")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app.taker_legs and on_hold(pbx, caller))
        (leg,) = bridge.app.taker_legs
        await pbx.wait_for(lambda: ringing(pbx, leg))
        greeting = bridge.app.calls[caller].playback_id
        assert greeting is not None and pbx.playbacks[greeting].state == "playing"
        finished: list[asyncio.Future[None]] = []

        def greeting_ends(event: dict[str, Any]) -> None:  # as the desk answers: the stop will find no playback
            if event["type"] == "StasisStart" and event["channel"]["id"] == leg:
                playback = pbx.playbacks[greeting]
                playback.state = "done"
                pbx._forget_playback(playback)
                finished.append(asyncio.ensure_future(pbx.emit("PlaybackFinished", {"playback": playback.json()})))

        if before == "greeting just over":
            pbx.on_event = greeting_ends
        elif before == "caller out of the holding bridge":  # by hand, or lost in an Asterisk hiccup
            other = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
            await other.remove_channel("tanggap112-hold", caller)
            await other.close()
        await pbx.answer_taker(leg)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
        call = call_on(ctx, caller)
        assert call is not None and call.answered_at is not None
        mix = pbx.bridges[f"tanggap112-mix-{call.id}"]
        assert set(mix.channels) == {caller, leg} and mix.kind == "mixing" and mix.name == f"tanggap112 call {call.id}"
        assert greeting not in pbx.playbacks  # the caller hears the call-taker, not the rest of the greeting
        answered = next(e for e in pbx.sent if e["type"] == "StasisStart" and e["channel"]["id"] == leg)
        assert call.answered_at.replace(tzinfo=UTC) == _event_time(answered)


async def test_a_conversation_bridge_destroyed_by_someone_else_does_not_keep_the_call_open(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    taker = make_taker("taker1")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
        mix = bridge.app.calls[caller].mix_bridge
        assert mix is not None
        other = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
        await other.destroy_bridge(mix)  # by hand on the PBX
        await other.close()
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and taker_ready(ctx, taker))
        await pbx.wait_for(lambda: not bridge.app.calls and not bridge.app.taker_legs and not bridge.app.by_call)


async def test_a_call_taker_who_hangs_up_mid_conversation_ends_the_call_at_that_moment(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    make_taker("taker1")
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
        leg = next(c for c in pbx.channels if c.startswith("tanggap-taker-"))
        await pbx.caller_hangup(leg)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and not pbx.channels)
        first = next(
            e for e in pbx.sent if e["type"] in ("ChannelHangupRequest", "StasisEnd") and e["channel"]["id"] == leg
        )
        call = call_on(ctx, caller)
        assert call is not None and call.ended_at is not None
        assert call.ended_at.replace(tzinfo=UTC) == _event_time(first)
        assert [e["cause"] for e in events_of(ctx, "call.ended")] == ["call-taker hung up"]


async def test_an_unanswered_desk_is_given_back_with_the_networks_reason(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    pbx.endpoints["away"] = "no-answer"
    away = make_taker("away")
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: events_of(ctx, "call.requeued"))
        call = call_on(ctx, caller)
        assert call is not None
        (requeued,) = events_of(ctx, "call.requeued")
        assert requeued == {"id": call.id, "taker_id": away, "reason": "no_answer (User alerting, no answer)"}


async def test_a_busy_desk_leaves_no_pause_behind_and_logs_no_failure(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    taker = make_taker("taker1")
    pbx.endpoints["taker1"] = "busy"
    async with running(make_bridge(ctx, pbx, busy_retry_s=1.0), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app._timers)
        pbx.endpoints["taker1"] = "answer"
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered" and not bridge.app._timers, timeout=5)
        call = call_on(ctx, caller)
        assert call is not None and call.taker_id == taker
    assert not [r for r in caplog.records if r.name == "telephony.ari.app"]


async def test_a_reconcile_step_waits_behind_the_events_of_its_caller_and_a_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    app = StasisApp(SimpleNamespace(), SimpleNamespace())  # type: ignore[arg-type]
    gate, order = asyncio.Event(), []

    async def event() -> None:
        order.append("event")
        await gate.wait()
        order.append("event done")

    async def step() -> None:
        order.append("reconcile")

    first = asyncio.ensure_future(app._serialised("caller-1", event, "StasisStart"))
    await wait_until(lambda: order == ["event"])
    second = asyncio.ensure_future(app._under_lock("caller-1", step))
    await wait_until(lambda: app._pending.get("caller-1") == 2)  # queued on the caller's lock
    assert order == ["event"]
    gate.set()
    await asyncio.gather(first, second)
    assert order == ["event", "event done", "reconcile"] and not app._locks and not app._pending

    async def refused() -> None:
        raise AriNotFound(404, "Channel not found")

    async def broken() -> None:
        raise RuntimeError("bug")

    await app._under_lock("caller-2", refused)
    await app._under_lock("caller-3", broken)
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "telephony.ari.app"]
    assert logged == [
        (logging.WARNING, "reconcile for channel caller-2: ARI 404: Channel not found"),
        (logging.ERROR, "reconcile for channel caller-3 failed"),
    ]
    assert not app._locks and not app._pending


async def wait_until(check: Callable[[], object]) -> None:
    async with asyncio.timeout(5):
        while not check():  # noqa: ASYNC110 - the condition has no event to wait on
            await asyncio.sleep(0.001)


async def test_a_desk_leg_that_goes_without_a_cause_is_given_back_with_the_event_named(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    pbx.endpoints["slow"] = "ring"
    slow = make_taker("slow")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app.taker_legs)
        (leg,) = bridge.app.taker_legs
        bridge.app.dispatch({"type": "StasisEnd", "channel": {"id": leg}})  # no cause, no cause_txt
        await pbx.wait_for(lambda: events_of(ctx, "call.requeued"))
        call = call_on(ctx, caller)
        assert call is not None
        assert events_of(ctx, "call.requeued") == [{"id": call.id, "taker_id": slow, "reason": "no_answer (StasisEnd)"}]
        assert leg not in pbx.channels and status_of(ctx, caller) == "offered"  # hung up; the caller waits on


async def test_a_desk_leg_that_ends_after_its_caller_hung_up_with_the_core_away_does_not_count_as_no_answer(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    pbx.endpoints["slow"] = "ring"
    slow = make_taker("slow")
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app.taker_legs)
        (leg,) = bridge.app.taker_legs
        desk.down = True  # the caller's end cannot be recorded: the bridge keeps the call for a reconcile
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: bridge.app.calls[caller].ended)
        bridge.app.dispatch({"type": "ChannelDestroyed", "cause": 19, "cause_txt": "No answer", "channel": {"id": leg}})
        await bridge.app.drain()
        assert not events_of(ctx, "call.requeued")  # not the call-taker's fault: the caller had gone
        desk.down = False
        await bridge.app.reconcile()
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and taker_ready(ctx, slow))
        call = call_on(ctx, caller)
        assert call is not None
        assert events_of(ctx, "call.requeued") == [{"id": call.id, "taker_id": slow, "reason": "caller_hung_up"}]


@pytest.mark.parametrize("put_down_at_once", [False, True])
async def test_a_desk_answering_after_its_caller_hung_up_is_hung_up_and_never_bridged(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture, put_down_at_once: bool
) -> None:
    caplog.set_level(logging.INFO, logger="telephony.ari.app")
    pbx.endpoints["slow"] = "ring"
    slow = make_taker("slow")
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app.taker_legs)
        (leg,) = bridge.app.taker_legs
        await pbx.wait_for(lambda: ringing(pbx, leg))
        desk.down = True  # the end is not recorded yet: the caller's state stays, marked ended
        await pbx.caller_hangup(caller)
        await pbx.wait_for(lambda: bridge.app.calls[caller].ended)

        def put_down(event: dict[str, Any]) -> None:  # the bridge's hang-up then finds no leg (404)
            if event["type"] == "StasisStart" and event["channel"]["id"] == leg:
                del pbx.channels[leg]

        pbx.on_event = put_down if put_down_at_once else None
        await pbx.answer_taker(leg)
        await pbx.wait_for(lambda: leg not in pbx.channels and events_of(ctx, "call.requeued"))
        await bridge.app.drain()
        assert not [b for b in pbx.bridges if b.startswith("tanggap112-mix-")]
        call = call_on(ctx, caller)
        assert call is not None
        assert events_of(ctx, "call.requeued") == [{"id": call.id, "taker_id": slow, "reason": "caller_gone"}]
        assert taker_ready(ctx, slow)  # ready for the next caller at once
        logged = app_log(caplog)
        assert f"call-taker leg {leg} answered but its call is gone; hanging up" in logged


@pytest.mark.parametrize("fmt", ["gsm", "mp3"])
async def test_a_conversation_is_recorded_in_the_configured_format_and_a_refused_recording_is_only_logged(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture, fmt: str
) -> None:
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    make_taker("taker1")
    async with running(make_bridge(ctx, pbx, record_format=fmt), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: pbx.calls_to("POST", "/record") and status_of(ctx, caller) == "answered")
        assert pbx.calls_to("POST", "/record")[0][2]["format"] == fmt
        call = call_on(ctx, caller)
        assert call is not None
        if fmt == "gsm":
            await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
            return
        await pbx.wait_for(partial(app_log, caplog))
        (logged,) = app_log(caplog)
        assert logged == f"could not record call {call.id}: ARI 422: specified format is unknown on this system"
        assert status_of(ctx, caller) == "answered" and caller in pbx.channels  # the conversation goes on


async def test_a_caller_whose_call_taker_hung_up_while_no_bridge_was_connected_is_not_left_alone(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """Found by a survivor of `_resume`: the caller was adopted as talking, with nobody on the other end, and
    left in silence in the conversation bridge until they gave up."""
    taker = make_taker("taker1")
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
    call = call_on(ctx, caller)
    assert call is not None and call.status == "answered"
    leg = next(c for c in pbx.channels if c != caller and not c.startswith("tanggap112-journal-"))
    await pbx.caller_hangup(leg)  # the call-taker hangs up while no bridge hears it
    assert caller in pbx.channels
    async with running(make_bridge(ctx, pbx), pbx):
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and caller not in pbx.channels)
        await pbx.wait_for(lambda: f"tanggap112-mix-{call.id}" not in pbx.bridges and taker_ready(ctx, taker))
    ended = [e for e in events_of(ctx, "call.ended") if e.get("cause") == "call-taker hung up"]
    assert len(ended) == 1


async def test_a_caller_whose_call_taker_hung_up_while_the_events_connection_was_down_is_not_left_alone(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """The bridge kept running but heard nothing for a moment: its state still named the call-taker's leg, which
    no reconcile looked for, so the caller was left alone, in silence, in the conversation bridge (and the
    call-taker counted as talking). Found while reviewing the survivors of `_caller_of` and `_resume`."""
    taker = make_taker("taker1")
    async with running(make_bridge(ctx, pbx, backoff_initial_s=0.3), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
        leg = bridge.app.calls[caller].taker_channel
        assert leg is not None
        connections = bridge.connections
        await pbx.drop_websockets()
        await pbx.caller_hangup(leg)
        assert not pbx.app_connected  # unheard: the events of a gap are lost
        await pbx.wait_for(lambda: bridge.connections > connections and pbx.app_connected)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and caller not in pbx.channels)
        call = call_on(ctx, caller)
        assert call is not None
        await pbx.wait_for(lambda: f"tanggap112-mix-{call.id}" not in pbx.bridges and taker_ready(ctx, taker))
        assert [e["cause"] for e in events_of(ctx, "call.ended")] == ["call-taker hung up"]
        assert not bridge.app.calls and not bridge.app.taker_legs


async def test_only_the_greetings_own_end_clears_it_so_an_answer_still_stops_a_greeting_playing(
    ctx: Ctx, pbx: AriDouble
) -> None:
    """Another playback ending on the caller's channel (a prompt played by someone else on the PBX) is not the
    greeting's end: the bridge must still stop the greeting when a call-taker answers."""
    pbx.playback_s = None  # the greeting plays until it is stopped
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: caller in bridge.app.calls and bridge.app.calls[caller].playback_id is not None)
        state = bridge.app.calls[caller]
        greeting = state.playback_id
        other = {"id": "someone-elses", "target_uri": f"channel:{caller}", "state": "done", "media_uri": "sound:beep"}
        bridge.app._playback_finished({"type": "PlaybackFinished", "playback": other})
        assert state.playback_id == greeting
        ours = {**other, "id": greeting}
        bridge.app._playback_finished({"type": "PlaybackFinished", "playback": ours})
        assert state.playback_id is None


async def test_a_channel_that_is_neither_caller_nor_call_taker_is_ignored_and_said_so_in_the_debug_log(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        snoop = {"id": "snoop-1", "name": "Snoop/PJSIP/desk1-00000001"}
        await bridge.app._stasis_start({"type": "StasisStart", "channel": snoop, "args": []})
        assert "snoop-1" not in bridge.app.calls
    logged = [r.getMessage() for r in caplog.records if r.name == "telephony.ari.app" and r.levelno == logging.DEBUG]
    assert "ignoring StasisStart of channel snoop-1 (not a caller)" in logged


class StuckDesk(InProcessDesk):
    """A core whose writer never catches up: the wait for the burst to be recorded never ends by itself."""

    async def settled(self) -> None:
        await asyncio.Event().wait()


async def test_a_caller_is_answered_and_held_within_moments_even_if_the_burst_never_settles(
    ctx: Ctx, pbx: AriDouble
) -> None:
    desk = StuckDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(bridge_on(ctx, pbx, desk), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        started = time.monotonic()
        await pbx.wait_for(lambda: on_hold(pbx, caller), timeout=4)  # _SETTLE_MAX_S (1 s) and the REST calls
        assert time.monotonic() - started < 4
        assert pbx.calls_to("POST", f"/channels/{caller}/answer")


async def test_a_caller_adopted_after_a_restart_is_not_answered_again(ctx: Ctx, pbx: AriDouble) -> None:
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller))
    assert len(pbx.calls_to("POST", f"/channels/{caller}/answer")) == 1
    async with running(make_bridge(ctx, pbx), pbx) as bridge:  # its first reconcile adopts the caller
        assert caller in bridge.app.calls and on_hold(pbx, caller)
        await bridge.app.drain()
    assert len(pbx.calls_to("POST", f"/channels/{caller}/answer")) == 1  # the channel was Up already


async def test_an_answered_ring_cancels_its_watchdog(ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]) -> None:
    make_taker("taker1")
    pbx.endpoints["taker1"] = "ring"
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: bridge.app.taker_legs and bridge.app.calls[caller].watchdog is not None)
        watchdog = bridge.app.calls[caller].watchdog
        assert watchdog is not None
        (leg,) = bridge.app.taker_legs
        await pbx.answer_taker(leg)
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
        await pbx.wait_for(watchdog.done, timeout=2)  # well before the ring timeout (5 s) would end it
        assert watchdog.cancelled()


class AnswerRefused(AriClient):
    """An Asterisk that refuses to answer the caller's channel (a 500 under load, say)."""

    async def answer(self, channel_id: str) -> None:
        raise AriError(500, "Internal Server Error")


async def test_a_caller_whose_answer_fails_is_still_queued_and_the_failure_is_logged_with_the_channel(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    client = AnswerRefused(pbx.url, pbx.user, pbx.password, pbx.app)
    desk = InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(AriBridge(client, desk, AriOptions(**FAST)), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: "call.queued" in event_types(ctx))  # music is comfort: the call still waits
    logged = app_log(caplog)
    assert f"could not answer or greet the caller on channel {caller}: ARI 500: Internal Server Error" in logged


async def test_a_caller_whose_wait_the_core_could_not_note_is_still_rung_at_once(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    """The core took the call, then went away before it heard the caller was on hold (`queued`): nothing is logged
    as failed, and the ACD looks at the queue at once (here it would otherwise wait 30 s) and rings the ready
    call-taker."""
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    desk.queued_down = True
    async with running(bridge_on(ctx, pbx, desk, acd_interval_s=30), pbx):
        make_taker("taker1")
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
    assert "call.queued" not in event_types(ctx)  # the core never heard it
    assert app_log(caplog) == []


async def test_the_offered_hook_gets_the_channel_and_its_call_and_an_unrecorded_call_is_logged(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """`on_offered` is what bench_calls.py times a call by; a call the core could not take is logged with its
    channel and the reason, and the caller stays on hold."""
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    seen: list[tuple[str, int]] = []
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        bridge.app.on_offered = lambda channel_id, call: seen.append((channel_id, call.id))
        first = await pbx.incoming_call("081234567801")
        assert first is not None
        await pbx.wait_for(lambda: seen)
        call = call_on(ctx, first)
        assert call is not None and seen == [(first, call.id)]
        entered = next(e for e in pbx.sent if e["type"] == "StasisStart" and e["channel"]["id"] == first)
        assert call.offered_at.replace(tzinfo=UTC) == created_at(entered["channel"])  # when it rang, not now
        desk.offers_down = True
        second = await pbx.incoming_call("081234567802")
        assert second is not None
        await pbx.wait_for(lambda: on_hold(pbx, second))
        assert seen == [(first, call.id)]
    logged = app_log(caplog)
    assert f"could not record call on channel {second}: core away" in logged


async def test_an_event_whose_handling_fails_is_logged_by_its_type_and_channel(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller))
        await bridge.app.drain()

        async def refused(event: dict[str, Any]) -> None:
            raise AriError(500, "Internal Server Error")

        monkeypatch.setattr(bridge.app, "handle", refused)
        bridge.app.dispatch({"type": "ChannelDtmfReceived", "channel": {"id": caller}, "digit": "1"})
        await bridge.app.drain()
    logged = app_log(caplog)
    assert f"ChannelDtmfReceived for channel {caller}: ARI 500: Internal Server Error" in logged


# -- the major incident's announcement through the app (telephony/ari/choice.py holds the rest) ---------------


async def test_the_announcement_is_played_in_the_callers_language(ctx: Ctx, pbx: AriDouble, disaster: int) -> None:
    pbx.playback_s = None
    async with running(make_bridge(ctx, pbx, major_check_s=0.05), pbx):
        channel = await pbx.incoming_call("081234567801", args=["incoming", "081234567801", "en"])
        assert channel is not None
        await pbx.wait_for(lambda: pbx.calls_to("POST", f"/channels/{channel}/play"))
        (play,) = pbx.calls_to("POST", f"/channels/{channel}/play")
        assert play[2]["lang"] == "en"  # the dialplan said English; the bridge's default is Bahasa


async def test_a_flagged_caller_hears_the_warning_before_the_announcement(
    ctx: Ctx, pbx: AriDouble, disaster: int
) -> None:
    with ctx.sessions() as session:
        now = utcnow()
        session.add(
            CallerFlag(caller="+6281234567801", flagged_at=now, until=now + timedelta(hours=1), count=3, reason="r")
        )
        session.commit()
    pbx.playback_s = None
    async with running(make_bridge(ctx, pbx, major_check_s=0.05), pbx):
        channel = await pbx.incoming_call("081234567801")
        assert channel is not None
        await pbx.wait_for(lambda: pbx.calls_to("POST", f"/channels/{channel}/play"))
        (play,) = pbx.calls_to("POST", f"/channels/{channel}/play")
        assert play[2]["media"] == (
            "sound:tanggap/peringatan-iseng,sound:tanggap/bencana-pengumuman,sound:tanggap/bencana-pilihan"
        )
        await pbx.wait_for(lambda: on_hold(pbx, channel))  # flagged, never dropped


async def test_a_failing_step_of_the_announcement_is_logged_as_the_choices(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, disaster: int
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx, major_check_s=0.05, choice_wait_s=0.05), pbx) as bridge:

        async def refused(channel_id: str, asking: object) -> None:
            raise AriError(500, "Internal Server Error")

        monkeypatch.setattr(bridge.app.choice, "_silent", refused)
        caller = await pbx.incoming_call("081234567801")  # the announcement plays through; nobody presses
        assert caller is not None
        logged = lambda: app_log(caplog)  # noqa: E731
        await pbx.wait_for(lambda: logged())
    assert logged() == [f"major incident choice for channel {caller}: ARI 500: Internal Server Error"]


# -- the holding bridge that cannot be joined -----------------------------------------------------------------


async def test_a_holding_bridge_that_keeps_refusing_the_caller_is_tried_twice_then_by_the_next_reconcile(
    ctx: Ctx, pbx: AriDouble, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """404 from the holding bridge twice while the caller is still there: the bridge is made again once, then
    the bridge gives up on the hold for now; it never passes for a caller on hold. The caller is greeted and
    queued all the same (the call stays recorded and offered to the ACD), and the next reconcile puts them on
    hold: nobody waits in silence outside the holding bridge."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        tries: list[str] = []
        add_channel = bridge.app.client.add_channel

        async def gone(bridge_id: str, channel_id: str) -> None:
            tries.append(bridge_id)
            raise AriNotFound(404, "Bridge not found")

        monkeypatch.setattr(bridge.app.client, "add_channel", gone)
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: status_of(ctx, caller) == "offered" and bridge.app.calls.get(caller))
        await bridge.app.drain()
        assert tries == ["tanggap112-hold", "tanggap112-hold"]
        assert bridge.app.calls[caller].hold_bridge is None and status_of(ctx, caller) == "offered"
        assert not on_hold(pbx, caller) and "call.queued" in event_types(ctx)
        logged = app_log(caplog)
        assert (
            f"could not put the caller on channel {caller} on hold: ARI 404: holding bridge tanggap112-hold gone twice"
            in logged
        )
        greeted = [
            e["playback"]["media_uri"]
            for e in pbx.sent
            if e["type"] == "PlaybackFinished" and e["playback"]["target_uri"] == f"channel:{caller}"
        ]
        assert greeted == ["sound:tanggap/salam-112"]

        monkeypatch.setattr(bridge.app.client, "add_channel", add_channel)  # the PBX is itself again
        await bridge.app.reconcile()
        await bridge.app.drain()
        assert on_hold(pbx, caller) and bridge.app.calls[caller].hold_bridge == "tanggap112-hold"


@pytest.mark.parametrize(("task_turns", "timer_turns"), [(10, 1), (1, 10)])
async def test_close_waits_for_the_work_it_cancels(ctx: Ctx, pbx: AriDouble, task_turns: int, timer_turns: int) -> None:
    """Work cut short by close() (a REST call, a pause before ringing a busy desk again) may need a few turns of
    the loop to unwind; close() returns only once every one of them has."""
    bridge = make_bridge(ctx, pbx)
    app = bridge.app
    unwound: list[str] = []

    async def work(name: str, turns: int) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            for _ in range(turns):
                await asyncio.sleep(0)
            unwound.append(name)
            raise

    app._spawn(work("task", task_turns))
    pause = asyncio.ensure_future(work("timer", timer_turns))
    app._timers.add(pause)
    await asyncio.sleep(0)  # both started
    await app.close()
    assert sorted(unwound) == ["task", "timer"]
    await bridge.client.close()
    await bridge.desk.close()


async def test_a_reconcile_that_cannot_ask_after_the_desk_leg_leaves_the_conversation_alone(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The desk's leg is missing from the listing (it answered after the listing was read) and asking for it
    fails (500): not known now, so the conversation goes on and the next reconcile asks again."""
    make_taker("taker1")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: (call_on(ctx, caller) or Call()).recording_ref is not None)
        leg = next(c for c in pbx.channels if c.startswith("tanggap-taker-"))
        listing = bridge.app.client.channels

        async def without_the_leg() -> list[dict[str, Any]]:
            return [c for c in await listing() if c["id"] != leg]

        async def refused(channel_id: str) -> dict[str, Any]:
            raise AriError(500, "Internal Server Error")

        monkeypatch.setattr(bridge.app.client, "channels", without_the_leg)
        monkeypatch.setattr(bridge.app.client, "channel", refused)
        counts = await bridge.app.reconcile()
        await bridge.app.drain()
        assert counts["ended"] == 0 and status_of(ctx, caller) == "answered"
        assert leg in pbx.channels and caller in pbx.channels


# -- a recording that fails -------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["channel:1796576665.85", "bridge:tanggap112-call-7"])
async def test_a_failed_recording_is_logged_with_its_name_target_and_cause(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    """A conversation that is not being recorded is an operator's problem to see at once (the recording is the
    evidence of the call): Asterisk's RecordingFailed, as captured from Asterisk 22.10.1, is logged as an error
    with the recording's name, what it recorded and Asterisk's cause."""
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    recording = {
        "name": "capt1796576660-chanrec-bridged",
        "format": "wav",
        "state": "failed",
        "target_uri": target,
        "cause": "Cannot record channel while in bridge",
    }
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        await pbx.emit("RecordingFailed", {"recording": recording})

        logged = partial(app_log, caplog)
        await pbx.wait_for(logged)
        await bridge.app.drain()
    assert logged() == [
        f"recording capt1796576660-chanrec-bridged of {target} failed: Cannot record channel while in bridge"
    ]


# -- route(): every claimed call, in its caller's turn ----------------------------------------------------------


async def test_a_call_given_back_does_not_hold_back_the_next_claimed_call(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """A claim pairs the head of the queue with ready call-takers. When the first call is not on this bridge and
    is given back, the next pair is still rung at once: its call-taker is reserved for it, and nobody else would
    ring them for the reservation's 60 s."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        await pbx.wait_for(lambda: [r for r in pbx.calls_to("GET", "/bridges") if r[1] == "/ari/bridges"])
        bridge.app.active = False  # both calls in the queue before the ACD pairs them
        live_call(ctx, "elsewhere", "+6281234567801")
        caller = await pbx.incoming_call("081234567802")
        assert caller is not None
        await pbx.wait_for(lambda: "call.queued" in event_types(ctx))
        first, second = make_taker("taker1"), make_taker("taker2")
        bridge.app.active = True
        await bridge.app.route()
        await bridge.app.drain()
        call = call_on(ctx, caller)
        assert call is not None
        rung = [r[2]["appArgs"] for r in pbx.calls_to("POST", "/ari/channels") if "app" in r[2]]
        assert rung == [f"taker,{call.id},{second}"]
        # The first call-taker was made ready again (the ACD may have paired them with that call again since).
        freed = [e for e in events_of(ctx, "taker.available") if e.get("reason") == "not_on_this_bridge"]
        assert freed and freed[0]["user_id"] == first and freed[0]["available"]
        assert status_of(ctx, "elsewhere") == "offered"


async def test_a_caller_who_hangs_up_while_their_desk_is_being_rung_leaves_no_desk_ringing(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ringing a desk is handled in the caller's turn, like their events: a hang-up that arrives while the ring
    request is on its way is handled after it, so the desk leg it made is hung up too and not left ringing for
    a caller who has gone."""
    pbx.endpoints["taker1"] = "ring"  # rings until someone hangs it up
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        originate = Held(bridge.app.client.originate)
        monkeypatch.setattr(bridge.app.client, "originate", originate)
        make_taker("taker1")
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await asyncio.wait_for(originate.asked.wait(), 5)
        await pbx.caller_hangup(caller)
        app = bridge.app
        # The hang-up is with the bridge: waiting behind the ring in the caller's turn (or, were it not in that
        # turn, already handled).
        await pbx.wait_for(lambda: app._pending.get(caller, 0) >= 2 or app.calls[caller].ended)
        originate.go.set()
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and not desk_legs(pbx), timeout=2)
        await app.drain()
        assert not desk_legs(pbx) and not app.taker_legs


async def test_a_ring_that_fails_is_logged_as_ringing_a_call_taker_with_the_channel(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:

        async def refused(state: Any, match: Any) -> None:
            raise AriError(503, "busy")

        bridge.app._ring = refused  # type: ignore[method-assign]
        make_taker("taker1")
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None

        logged = partial(app_log, caplog)
        await pbx.wait_for(logged)
    assert logged()[0] == f"ringing a call-taker for channel {caller}: ARI 503: busy"


# -- reconcile() ------------------------------------------------------------------------------------------------


async def test_a_reconcile_whose_holding_bridge_check_fails_logs_it_and_goes_on_with_the_callers(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step of a reconcile may fail without holding the others back: the holding bridge cannot be read
    (Asterisk busy), and a caller the bridge did not know of is still found, recorded and put on hold."""
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app

        async def busy(bridge_id: str) -> dict[str, Any]:
            raise AriError(503, "busy")

        monkeypatch.setattr(app.client, "bridge", busy)
        app.active = False
        callers = [str(await pbx.incoming_call(f"08123456780{n}")) for n in range(2)]
        await pbx.wait_for(lambda: all(on_hold(pbx, c) for c in callers))
        await app.drain()
        app.forget_all()  # as after a gap in the events connection: the callers are unknown to the bridge
        counts = await app.reconcile()
        await app.drain()
        assert counts["offered"] == 2 and all(c in app.calls and status_of(ctx, c) == "offered" for c in callers)
    logged = app_log(caplog)
    assert "reconcile: checking the holding bridge failed: ARI 503: busy" in logged


async def test_a_reconcile_takes_only_callers_for_callers_not_the_other_channels_in_the_app(
    ctx: Ctx, pbx: AriDouble
) -> None:
    """A callback's leg (`callback,<job>,caller`) is in the app too; a reconcile that meets it unknown does not
    record it as a new 112 call."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        leg = await pbx.incoming_call("081234567801", args=["callback", "7", "caller"])
        assert leg is not None
        await bridge.app.drain()
        counts = await bridge.app.reconcile()
        await bridge.app.drain()
        assert counts["offered"] == 0 and leg not in bridge.app.calls and call_on(ctx, leg) is None


async def test_a_caller_found_by_a_reconcile_is_taken_in_their_turn_before_their_hang_up(
    ctx: Ctx, pbx: AriDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A caller met first by a reconcile (after a gap in the events connection) is taken in their own turn: a
    hang-up that comes while they are being put on hold waits for it, then ends the call."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        app.active = False
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller) and "call.queued" in event_types(ctx))
        await app.drain()
        app.forget_all()
        add_channel = Held(app.client.add_channel)
        monkeypatch.setattr(app.client, "add_channel", add_channel)
        reconciling = asyncio.ensure_future(app.reconcile())
        await asyncio.wait_for(add_channel.asked.wait(), 5)
        await pbx.caller_hangup(caller)
        # The recovery and the three hang-up events (ChannelHangupRequest, StasisEnd, ChannelDestroyed) queued in
        # the caller's turn; or, were the recovery not in that turn, the hang-up handled meanwhile.
        await pbx.wait_for(lambda: app._pending.get(caller, 0) >= 4 or status_of(ctx, caller) == "ended")
        assert status_of(ctx, caller) == "offered"  # the hang-up waits behind the caller's recovery
        add_channel.go.set()
        await reconciling
        await pbx.wait_for(lambda: status_of(ctx, caller) == "ended" and caller not in app.calls)


async def orphan_legs(pbx: AriDouble, app: StasisApp, *args: list[str]) -> list[str]:
    """Desk legs in our app that the bridge never heard of (answered in a gap of its events connection): their
    StasisStart reaches the bridge's reader and is dropped there."""
    dispatch, dropped = app.dispatch, []
    app.dispatch = lambda event: dropped.append(event)  # type: ignore[method-assign]
    try:
        legs = [str(await pbx.incoming_call("112", args=list(a))) for a in args]
        await pbx.wait_for(lambda: {e["channel"]["id"] for e in dropped if e["type"] == "StasisStart"} >= set(legs))
    finally:
        app.dispatch = dispatch  # type: ignore[method-assign]
    return legs


async def test_a_reconcile_hangs_up_every_orphan_desk_leg_and_gives_its_call_back(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """Desk legs no conversation owns are hung up and counted; a leg that names its call-taker makes them ready
    again (`orphan_leg`), one that does not (made by hand, or by an old version) is only hung up."""
    taker = make_taker("taker1", available=False)
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: "call.queued" in event_types(ctx))
        call = call_on(ctx, caller)
        assert call is not None
        bridge.app.active = False  # nobody rung meanwhile: a conversation would adopt a leg that names its call
        legs = await orphan_legs(
            pbx,
            bridge.app,
            ["taker", str(call.id), str(taker)],
            ["taker", str(call.id), str(taker)],
            ["taker", str(call.id)],
        )
        counts = await bridge.app.reconcile()
        await bridge.app.drain()
        assert counts["orphans"] == 3 and not [leg for leg in legs if leg in pbx.channels]
        assert taker_ready(ctx, taker)  # the leg named them: given back, they are ready for the next call
        freed = [e for e in events_of(ctx, "taker.available") if e.get("reason") == "orphan_leg"]
        assert freed and all(e["user_id"] == taker for e in freed)


async def test_a_reconcile_goes_on_when_an_orphan_leg_cannot_be_hung_up_or_its_call_given_back(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leg hung up meanwhile (Asterisk answers 404) and the dispatch core away: the reconcile still counts
    it and goes on to its other steps."""
    taker = make_taker("taker1", available=False)
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: "call.queued" in event_types(ctx))
        call = call_on(ctx, caller)
        assert call is not None
        await orphan_legs(pbx, app, ["taker", str(call.id), str(taker)])

        async def gone(channel_id: str, *args: Any, **kwargs: Any) -> None:
            raise AriNotFound(404, "Channel not found")

        async def away(*args: Any) -> None:
            raise DeskUnavailable("core away")

        monkeypatch.setattr(app.client, "hangup", gone)
        monkeypatch.setattr(app.desk, "requeue", away)
        counts = await app.reconcile()
        assert counts["orphans"] == 1
        assert [r for r in pbx.calls_to("GET", "/bridges") if r[1] == "/ari/bridges"]  # its last step ran


async def test_a_reconcile_ends_and_counts_every_call_whose_channel_is_gone(
    ctx: Ctx, pbx: AriDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two waiting callers gone without a word (their events lost in a gap), and two calls the core has as live
    whose channels the bridge never knew (a crashed bridge's): all four are ended and counted; a caller still
    on the line is left alone."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        app.active = False
        callers = [str(await pbx.incoming_call(f"08123456780{n}")) for n in range(3)]
        await pbx.wait_for(lambda: all(on_hold(pbx, c) and status_of(ctx, c) == "offered" for c in callers))
        await app.drain()
        for caller in callers[:2]:
            del pbx.channels[caller]
            pbx.bridges["tanggap112-hold"].channels.remove(caller)
        for n in range(2):
            live_call(ctx, f"crashed-{n}", f"+62812345678{n}9")
        counts = await app.reconcile()
        await app.drain()
        assert counts["ended"] == 4
        ended = [*callers[:2], "crashed-0", "crashed-1"]
        assert [status_of(ctx, c) for c in ended] == ["ended"] * 4 and status_of(ctx, callers[2]) == "offered"
        assert [e["cause"] for e in events_of(ctx, "call.ended")] == ["channel gone (reconciled)"] * 4


async def test_a_reconcile_that_cannot_end_a_gone_call_now_goes_on(
    ctx: Ctx, pbx: AriDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core away as the reconcile ends a call it has as live: the reconcile goes on to its last step (the
    next one ends the call)."""
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        live_call(ctx, "crashed")

        async def away(*args: Any, **kwargs: Any) -> None:
            raise DeskUnavailable("core away")

        monkeypatch.setattr(app.desk, "finish", away)
        before = len(pbx.requests)
        counts = await app.reconcile()
        assert counts["ended"] == 1 and status_of(ctx, "crashed") == "offered"
        assert [r for r in pbx.requests[before:] if r[1] == "/ari/bridges"]  # its last step ran


async def test_a_reconcile_ends_and_counts_every_conversation_whose_call_taker_is_gone(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """Two conversations whose call-takers' legs vanished without a word: both are over for their callers, and
    the reconcile counts both."""
    make_taker("taker1")
    make_taker("taker2")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        callers = [str(await pbx.incoming_call(f"08123456780{n}")) for n in range(2)]
        await pbx.wait_for(lambda: all((call_on(ctx, c) or Call()).recording_ref is not None for c in callers))
        await app.drain()
        for caller in callers:
            leg = app.calls[caller].taker_channel
            assert leg is not None
            mix = pbx.channels[leg].bridge
            del pbx.channels[leg]  # gone without a word (events lost in a gap)
            if mix is not None:
                pbx.bridges[mix].channels.remove(leg)
        counts = await app.reconcile()
        await pbx.wait_for(lambda: all(status_of(ctx, c) == "ended" for c in callers))
        assert counts["ended"] == 2


async def test_a_caller_the_core_could_not_record_is_recorded_by_the_next_reconcile(ctx: Ctx, pbx: AriDouble) -> None:
    """The core away when the caller came: held all the same, and recorded by the first reconcile once the core
    is back; a caller who has hung up meanwhile is not recorded as waiting."""
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:
        app = bridge.app
        app.active = False
        desk.offers_down = True
        callers = [str(await pbx.incoming_call(f"08123456780{n}")) for n in range(2)]
        await pbx.wait_for(lambda: all(on_hold(pbx, c) for c in callers))
        await app.drain()
        assert [app.calls[c].call_id for c in callers] == [None, None]
        app.calls[callers[1]].ended = True  # hung up; its end is on its way (a journal keeps it)
        desk.offers_down = False
        await app.reconcile()
        await app.drain()
        assert status_of(ctx, callers[0]) == "offered" and app.calls[callers[0]].call_id is not None
        assert call_on(ctx, callers[1]) is None


async def test_a_reconcile_clears_and_counts_orphan_conversation_bridges_and_says_what_it_did(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    """Conversation bridges a crashed bridge left behind are destroyed and counted, and a reconcile that changed
    anything says so in one warning line with its counts."""
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        async with by_hand(pbx) as client:
            for n in (1, 2):
                await client.create_bridge(f"tanggap112-mix-{n}", "mixing")
        caplog.clear()
        counts = await bridge.app.reconcile()
        assert counts["bridges"] == 2 and not [b for b in pbx.bridges if b.startswith("tanggap112-mix-")]
    logged = app_log(caplog)
    assert logged == [f"ARI reconcile: {counts}"]


async def test_a_reconcile_that_cannot_list_the_bridges_logs_it_and_ends_all_the_same(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:

        async def busy() -> list[dict[str, Any]]:
            raise AriError(503, "busy")

        monkeypatch.setattr(bridge.app.client, "bridges", busy)
        caplog.clear()
        counts = await bridge.app.reconcile()
        assert counts["bridges"] == 0
    logged = app_log(caplog)
    assert logged == ["reconcile: clearing orphan bridges failed: ARI 503: busy"]


async def test_a_fallback_call_the_core_cannot_take_now_is_logged_by_channel_and_read_again(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two calls the dialplan took while no bridge was connected, read from the journal while the core cannot
    take the first: it is logged with its channel, kept in the journal and recorded by a later read; the second
    is recorded at once. Each read says how many calls it found."""
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        first = await pbx.fallback_call("081234567801", desk=None, talk_s=None)
        second = await pbx.fallback_call("081234567802", desk=None, talk_s=None)
        record = app.desk.record_fallback

        async def away_for_the_first(trace: Any) -> Any:
            if trace.channel_id == first:
                raise DeskUnavailable("core away")
            return await record(trace)

        monkeypatch.setattr(app.desk, "record_fallback", away_for_the_first)
        caplog.clear()
        assert await app.read_journal() == 2
        assert first in app.fallback_open and call_on(ctx, first) is None and call_on(ctx, second) is not None
        logged = app_log(caplog)
        assert logged == [
            f"could not record fallback call {first}: core away (read again later)",
            "fallback journal: 2 call(s) taken by the dialplan while no bridge was connected",
        ]
        monkeypatch.setattr(app.desk, "record_fallback", record)
        assert await app.read_journal() == 2
        assert call_on(ctx, first) is not None


async def test_a_journal_that_cannot_be_read_is_named_once_for_the_operator(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PBX without the journal's dialplan: every read finds nothing, and the operator is told once what is
    missing (not on every reconcile)."""
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")

    @contextlib.asynccontextmanager
    async def unreadable() -> AsyncIterator[Any]:
        raise AriError(404, "Channel not found")
        yield

    bridge = make_bridge(ctx, pbx)
    monkeypatch.setattr(bridge.app.journal, "reader", unreadable)  # from the first reconcile on
    async with running(bridge, pbx):
        app = bridge.app
        assert [await app.read_journal() for _ in range(3)] == [0, 0, 0]
        # Nothing read, no fallback call open: a reconcile still ends a live call whose channel is gone.
        live_call(ctx, "crashed")
        assert (await app.reconcile())["ended"] == 1 and status_of(ctx, "crashed") == "ended"
    logged = app_log(caplog)
    assert logged == [
        "fallback journal unreadable (ARI 404: Channel not found): is [tanggap-journal] in the PBX's dialplan? "
        "Calls taken while the bridge was away cannot reach the record"
    ]


async def test_the_acd_says_when_the_dispatch_core_is_away_and_goes_on(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, make_taker: Callable[..., int]
) -> None:
    caplog.set_level(logging.WARNING, logger="telephony.ari.app")
    desk = FlakyDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    desk.down = True
    make_taker("taker1")
    async with running(bridge_on(ctx, pbx, desk), pbx) as bridge:

        def logged() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.name == "telephony.ari.app" and "ACD" in r.getMessage()]

        await pbx.wait_for(logged)
        assert logged()[0] == "ACD: dispatch core unavailable (core away)"
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        desk.down = False
        bridge.app.kick()
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")


async def test_an_acd_round_that_fails_is_logged_and_the_next_round_still_rings(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture, make_taker: Callable[..., int]
) -> None:
    caplog.set_level(logging.ERROR, logger="telephony.ari.app")
    async with running(make_bridge(ctx, pbx), pbx) as bridge:
        app = bridge.app
        route, rounds = app.route, []

        async def broken_once() -> None:
            rounds.append("round")
            if len(rounds) == 1:
                raise RuntimeError("bug")
            await route()

        app.route = broken_once  # type: ignore[method-assign]
        app.kick()
        await pbx.wait_for(lambda: rounds)
        make_taker("taker1")
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: status_of(ctx, caller) == "answered")
    failed = [r for r in caplog.records if r.name == "telephony.ari.app" and r.exc_info]
    assert [r.getMessage() for r in failed] == ["ACD round failed"]


async def test_a_holding_bridge_found_without_music_gets_its_music(ctx: Ctx, pbx: AriDouble) -> None:
    """A holding bridge of this installation already on the PBX when the bridge starts (made by hand, or by a
    bridge that died before starting the music) is used, and its music started: nobody waits in silence."""
    async with by_hand(pbx) as client:
        await client.create_bridge("tanggap112-hold", "holding")
    assert pbx.bridges["tanggap112-hold"].moh_class is None
    async with running(make_bridge(ctx, pbx), pbx):
        caller = await pbx.incoming_call("081234567801")
        assert caller is not None
        await pbx.wait_for(lambda: on_hold(pbx, caller))
