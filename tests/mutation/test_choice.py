"""The major incident's announcement and choice (telephony/ari/choice.py) where its main tests look away: what a
bridge in its own process reads of the server (whole, through its journal, once per interval, or nothing while
the server is away), prompts that cannot be played or stopped, keys just after the announcement and after the
information, the caller's language and region, a call-taker answering during the information, the logs by call,
and the steps that must not act on a caller who has moved on (a silence timer that fires after the caller chose,
or after they were forgotten). Every wait is for a condition, never a fixed sleep."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from dispatch.major import service as major
from dispatch.major.schemas import MajorIn
from telephony.ari.choice import HttpMajor, MajorNow, port_for
from telephony.ari.client import AriClient, AriError
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk import DeskUnavailable, HttpDesk
from telephony.desk_journal import JournaledDesk
from telephony.desk_local import InProcessDesk
from telephony.spool import Spool
from tests.doubles.ari_server import AriDouble
from tests.servers import serve
from tests.telephony import conftest as telephony
from tests.telephony import test_major_choice
from tests.telephony.conftest import running
from tests.telephony.test_major_choice import ANNOUNCEMENT, INFORMATION, bridged, call_on, choice_of, played
from tests.telephony.test_remote_and_api import token
from ui.app import create_app
from ui.context import Ctx

# The telephony tests' fixtures: their conftest reaches tests/telephony/ only.
pbx, make_taker, disaster = telephony.pbx, telephony.make_taker, test_major_choice.disaster


@pytest.fixture
async def bridge(ctx: Ctx, pbx: AriDouble, disaster: int) -> AsyncIterator[AriBridge]:
    """A bridge during the Padang earthquake; prompts play until stopped (the caller presses during them)."""
    pbx.playback_s = None
    async with bridged(ctx, pbx, choice_wait_s=30) as bridge:
        yield bridge


async def announced(pbx: AriDouble, bridge: AriBridge) -> tuple[str, Any]:
    """A caller hearing the announcement: their channel and the app's state of the call."""
    channel = await pbx.incoming_call("081234567890")
    assert channel is not None
    asking = bridge.app.choice.asking
    await pbx.wait_for(lambda: channel in asking and asking[channel].playback_id and bridge.app.calls[channel].call_id)
    return channel, bridge.app.calls[channel]


def stops(pbx: AriDouble) -> list[str]:
    return [path for _method, path, _body in pbx.calls_to("DELETE", "/playbacks/")]


async def test_a_bridge_in_its_own_process_reads_the_major_incident_whole(ctx: Ctx) -> None:
    """GET /telephony/major -> id, name and the region whose shelters the information names; none -> None."""
    with serve(create_app(ctx=ctx)) as url:
        port = HttpMajor(HttpDesk(url, token(ctx, "telephony")))
        assert await port.active() is None
        with ctx.sessions() as session:
            body = MajorIn(name="Gempa Padang M7,2", type_code="earthquake")
            declared = major.declare(session=session, region=ctx.region, body=body, user_id=None, actor="sup1").id
        assert await port.active() == MajorNow(declared, "Gempa Padang M7,2", "padang")
        await port.desk.close()


async def test_a_silence_timer_after_the_caller_chose_information_leaves_the_information_playing(
    pbx: AriDouble, bridge: AriBridge
) -> None:
    channel, state = await announced(pbx, bridge)
    choice = bridge.app.choice
    await choice.digit(state, "3")
    asking = choice.asking[channel]
    assert asking.stage == "information" and asking.playback_id is not None
    before = stops(pbx)
    await choice._silent(channel, asking)  # the announcement's timer, fired as the key was handled
    assert choice.asking.get(channel) is asking and asking.playback_id is not None
    assert stops(pbx) == before


async def test_a_silence_timer_of_a_forgotten_caller_stops_nothing(pbx: AriDouble, bridge: AriBridge) -> None:
    channel, _state = await announced(pbx, bridge)
    choice = bridge.app.choice
    stale = choice.asking[channel]
    choice.forget(channel)  # the caller is with a call-taker before the timer ran
    before = stops(pbx)
    await choice._silent(channel, stale)
    assert stops(pbx) == before and stale.playback_id is not None and channel not in choice.asking


async def test_silence_at_the_announcement_is_logged_by_call(
    pbx: AriDouble, bridge: AriBridge, caplog: pytest.LogCaptureFixture
) -> None:
    channel, state = await announced(pbx, bridge)
    choice = bridge.app.choice
    asking = choice.asking[channel]
    playing = asking.playback_id
    with caplog.at_level(logging.DEBUG, logger="telephony.ari.choice"):
        await choice._silent(channel, asking)
    assert f"call {state.call_id}: no key at the announcement" in caplog.messages
    assert channel not in choice.asking and stops(pbx)[-1].endswith(f"/playbacks/{playing}")


@pytest.mark.parametrize("key", ["1", "2"])
async def test_during_the_information_1_or_2_is_the_new_choice(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, key: str
) -> None:
    channel, _state = await announced(pbx, bridge)
    await pbx.dtmf(channel, "3")
    await pbx.wait_for(lambda: len(played(pbx, channel)) == 2)
    await pbx.dtmf(channel, key)
    await pbx.wait_for(lambda: choice_of(ctx, channel) == int(key) and channel not in bridge.app.choice.asking)


async def test_only_a_wrong_key_is_logged_as_counting_as_one(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="telephony.ari.choice"):
        right, _ = await announced(pbx, bridge)
        await pbx.dtmf(right, "1")
        await pbx.wait_for(lambda: choice_of(ctx, right) == 1)
        assert not [m for m in caplog.messages if "counts as 1" in m]
        wrong, state = await announced(pbx, bridge)
        await pbx.dtmf(wrong, "*")
        await pbx.wait_for(lambda: choice_of(ctx, wrong) == 1)
    assert f"call {state.call_id}: key '*' at the announcement counts as 1" in caplog.messages


@pytest.mark.parametrize("key", ["1", "3"])
async def test_a_key_ends_the_announcements_timer(pbx: AriDouble, bridge: AriBridge, key: str) -> None:
    """The silence timer of the announcement is cancelled by the choice, not left to fire and be ignored."""
    channel, _state = await announced(pbx, bridge)
    timer = bridge.app.choice.asking[channel].timer
    assert timer is not None and not timer.cancelled()
    await pbx.dtmf(channel, key)
    await pbx.wait_for(lambda: timer.cancelled())


async def test_a_choice_made_before_the_call_was_known_to_the_announcement_is_kept(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge
) -> None:
    """The announcement may start before the core has answered with the call's id (a journaled call): the
    choice goes to the call the bridge knows by then."""
    channel, _state = await announced(pbx, bridge)
    bridge.app.choice.asking[channel].call_id = None
    await pbx.dtmf(channel, "2")
    await pbx.wait_for(lambda: choice_of(ctx, channel) == 2)


async def test_a_caller_the_core_has_not_recorded_still_hears_the_information(
    pbx: AriDouble, bridge: AriBridge
) -> None:
    channel, state = await announced(pbx, bridge)
    bridge.app.choice.asking[channel].call_id = None
    state.call_id = None  # the core is away: nothing to record the choice on, the caller is helped all the same
    await pbx.dtmf(channel, "3")
    await pbx.wait_for(lambda: played(pbx, channel) == [ANNOUNCEMENT, INFORMATION])


class Away:
    """The server while it is away: nothing can be recorded, and with `known` the bridge still remembers the
    major incident from before."""

    def __init__(self, known: MajorNow | None = None) -> None:
        self.known = known

    async def active(self) -> MajorNow | None:
        if self.known is None:
            raise DeskUnavailable("GET /major: dispatch API unreachable")
        return self.known

    async def choose(self, call_id: int, choice: int) -> None:
        raise DeskUnavailable("POST /calls/choice: dispatch API unreachable")


async def test_a_choice_the_server_cannot_take_is_logged_and_the_caller_goes_on(
    pbx: AriDouble, bridge: AriBridge, caplog: pytest.LogCaptureFixture
) -> None:
    channel, state = await announced(pbx, bridge)
    bridge.app.choice.port = Away(MajorNow(1, "Gempa Padang", "padang"))
    with caplog.at_level(logging.WARNING, logger="telephony.ari.choice"):
        await pbx.dtmf(channel, "3")
        await pbx.wait_for(lambda: played(pbx, channel) == [ANNOUNCEMENT, INFORMATION])
    assert (
        f"call {state.call_id}: choice 3 not recorded: POST /calls/choice: dispatch API unreachable" in caplog.messages
    )


async def test_without_a_region_the_information_leaves_the_shelters_out(
    ctx: Ctx, pbx: AriDouble, disaster: int
) -> None:
    pbx.playback_s = None
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    desk = InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus)  # no region pack named: no shelters prompt
    options = AriOptions(acd_interval_s=0.05, reconcile_interval_s=600, backoff_initial_s=0.02, major_check_s=0.05)
    async with running(AriBridge(client, desk, options), pbx) as bridge:
        channel, _state = await announced(pbx, bridge)
        await pbx.dtmf(channel, "3")
        await pbx.wait_for(lambda: len(played(pbx, channel)) == 2)
        assert played(pbx, channel)[1] == "sound:tanggap/bencana-info,sound:tanggap/bencana-petugas"


async def test_a_call_taker_answering_during_the_information_stops_it(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, make_taker: Callable[..., int]
) -> None:
    channel, _state = await announced(pbx, bridge)
    await pbx.dtmf(channel, "3")
    await pbx.wait_for(lambda: len(played(pbx, channel)) == 2 and bridge.app.choice.asking[channel].playback_id)
    information = bridge.app.choice.asking[channel].playback_id
    make_taker("taker1")
    await pbx.wait_for(lambda: call_on(ctx, channel).status == "answered")  # type: ignore[union-attr]
    await pbx.wait_for(lambda: any(path.endswith(f"/playbacks/{information}") for path in stops(pbx)))


async def test_information_that_cannot_be_played_leaves_the_caller_waiting_and_asked_nothing(
    ctx: Ctx, pbx: AriDouble, disaster: int, caplog: pytest.LogCaptureFixture
) -> None:
    pbx.playback_s = None
    async with bridged(ctx, pbx, choice_wait_s=30, information=",") as bridge:  # Asterisk: 500, no media
        channel, _state = await announced(pbx, bridge)
        with caplog.at_level(logging.WARNING, logger="telephony.ari.choice"):
            await pbx.dtmf(channel, "3")
            await pbx.wait_for(lambda: choice_of(ctx, channel) == 3 and channel not in bridge.app.choice.asking)
        assert pbx.holding(channel) and call_on(ctx, channel).status == "offered"  # type: ignore[union-attr]
        warning = f"could not play the major incident's prompts on channel {channel}: ARI 500: "
        assert [m for m in caplog.messages if m.startswith(warning)]


async def test_a_key_after_the_announcement_ended_unheard_is_still_kept(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge
) -> None:
    """The announcement ended and its PlaybackFinished is not handled yet: stopping it answers 404, and the key
    counts all the same."""
    channel, _state = await announced(pbx, bridge)
    bridge.app.choice.asking[channel].playback_id = "tanggap112-major-over"
    await pbx.dtmf(channel, "2")
    await pbx.wait_for(lambda: choice_of(ctx, channel) == 2)


async def test_a_key_is_kept_when_asterisk_fails_to_stop_the_announcement(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500 from DELETE /playbacks (no capture has one; the client raises AriError for it) costs the caller
    nothing: the prompt plays on, the choice is kept."""

    async def fails(playback_id: str) -> None:
        raise AriError(500, "Internal Server Error")

    channel, _state = await announced(pbx, bridge)
    monkeypatch.setattr(bridge.app.choice.client, "stop_playback", fails)
    await pbx.dtmf(channel, "2")
    await pbx.wait_for(lambda: choice_of(ctx, channel) == 2)


def test_a_journaled_http_desk_still_asks_the_server(tmp_path: Path) -> None:
    """`tanggap ari` wraps its HTTP desk in the journal: the choice must still reach the server's API."""
    desk = HttpDesk("http://127.0.0.1:9", "token")
    assert isinstance(port_for(JournaledDesk(desk, Spool(tmp_path, "bridge"))), HttpMajor)
    assert port_for(desk).desk is desk  # type: ignore[union-attr]


class Counting:
    """The server's side, counting how often the bridge asks whether a major incident is in force."""

    def __init__(self) -> None:
        self.asked = 0

    async def active(self) -> MajorNow | None:
        self.asked += 1
        return MajorNow(1, "Gempa Padang", "padang")

    async def choose(self, call_id: int, choice: int) -> None:
        return None


async def test_a_flood_of_callers_asks_the_server_once_per_interval(pbx: AriDouble, bridge: AriBridge) -> None:
    choice = bridge.app.choice
    choice.port, choice.options = Counting(), choice.options.model_copy(update={"major_check_s": 60})
    choice._checked = -1.0  # as at start-up: the first caller waits for the answer
    for _ in range(3):
        assert await choice.major() == MajorNow(1, "Gempa Padang", "padang")
        if choice._refresh is not None:  # a question sent in the background: let it reach the server
            await choice._refresh
    assert choice.port.asked == 1


async def test_a_server_away_at_the_first_caller_leaves_the_greeting(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    pbx.playback_s = None
    async with bridged(ctx, pbx) as bridge:
        bridge.app.choice.port = Away()
        with caplog.at_level(logging.WARNING, logger="telephony.ari.choice"):
            channel = await pbx.incoming_call("081234567890")
            assert channel is not None
            await pbx.wait_for(lambda: played(pbx, channel) == ["sound:tanggap/salam-112"])
        message = "could not ask whether a major incident is active: GET /major: dispatch API unreachable"
        assert message in caplog.messages
        assert pbx.holding(channel) and channel not in bridge.app.choice.asking


async def test_an_announcement_whose_end_is_never_told_stops_asking_after_choice_max_s(
    ctx: Ctx, pbx: AriDouble, disaster: int
) -> None:
    pbx.playback_s = None  # no PlaybackFinished ever comes
    async with bridged(ctx, pbx, choice_wait_s=30, choice_max_s=0.3) as bridge:
        channel, _state = await announced(pbx, bridge)
        await pbx.wait_for(lambda: channel not in bridge.app.choice.asking)
        assert choice_of(ctx, channel) is None and pbx.holding(channel)  # waits as 1


async def test_the_greetings_end_without_a_major_incident_is_handled_cleanly(
    ctx: Ctx, pbx: AriDouble, caplog: pytest.LogCaptureFixture
) -> None:
    async with bridged(ctx, pbx) as bridge:  # the greeting plays through at once (playback_s 0)
        with caplog.at_level(logging.WARNING):
            channel = await pbx.incoming_call("081234567890")
            assert channel is not None
            calls = bridge.app.calls
            await pbx.wait_for(lambda: channel in calls and calls[channel].playback_id is None and played(pbx, channel))
            await bridge.app.drain()
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_key_just_after_the_announcement_is_kept_with_nothing_to_stop(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge
) -> None:
    channel, _state = await announced(pbx, bridge)  # its playback id known: the announcement plays
    asking = bridge.app.choice.asking
    announcement = asking[channel].playback_id
    assert announcement is not None
    for _item in ANNOUNCEMENT.split(","):  # played through, item by item
        await pbx.end_playback(announcement)
    await pbx.wait_for(lambda: asking[channel].playback_id is None)  # its end handled: the caller may press
    await pbx.dtmf(channel, "2")
    await pbx.wait_for(lambda: choice_of(ctx, channel) == 2)
    assert stops(pbx) == []  # the announcement was over: nothing to stop


async def test_once_the_information_is_over_the_caller_is_asked_nothing_more(
    ctx: Ctx, pbx: AriDouble, disaster: int
) -> None:
    pbx.playback_s = None
    async with bridged(ctx, pbx, choice_wait_s=30) as bridge:
        channel, _state = await announced(pbx, bridge)
        await pbx.dtmf(channel, "3")
        await pbx.wait_for(lambda: len(played(pbx, channel)) == 2 and bridge.app.choice.asking[channel].playback_id)
        information = bridge.app.choice.asking[channel].playback_id
        for _item in INFORMATION.split(","):  # played through, item by item
            await pbx.end_playback(information)
        await pbx.wait_for(lambda: channel not in bridge.app.choice.asking)
        await pbx.dtmf(channel, "1")  # too late to change: the caller waits as 3
        await bridge.app.drain()
        assert choice_of(ctx, channel) == 3
