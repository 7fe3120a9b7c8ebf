"""The caller's announcement and choice during a major incident, against the ARI double (issue 25): the
announcement instead of the greeting within a second, 1/2/3 kept on the call, noise and silence count as 1,
3 hears the information and can ask for a person, choice 1 goes first, and nobody is ever dropped."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import select

from dispatch.calls.models import Call
from dispatch.major import service as major
from dispatch.major.enums import priority_of
from dispatch.major.schemas import MajorIn
from telephony.ari.client import AriClient
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk import DeskRefused, HttpDesk
from telephony.desk_local import InProcessDesk
from tests.doubles.ari_server import AriDouble
from tests.servers import serve
from tests.telephony.conftest import running
from tests.telephony.test_remote_and_api import token
from ui.app import create_app
from ui.context import Ctx

ANNOUNCEMENT = "sound:tanggap/bencana-pengumuman,sound:tanggap/bencana-pilihan"
INFORMATION = "sound:tanggap/bencana-info,sound:tanggap/bencana-tempat-padang,sound:tanggap/bencana-petugas"


@contextlib.asynccontextmanager
async def bridged(ctx: Ctx, pbx: AriDouble, **options: float) -> AsyncIterator[AriBridge]:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    settings = AriOptions(
        acd_interval_s=0.05, reconcile_interval_s=600, backoff_initial_s=0.02, ring_timeout_s=5, major_check_s=0.05,
        **options,
    )  # fmt: skip
    desk = InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus, region="padang")
    async with running(AriBridge(client, desk, settings), pbx) as bridge:
        yield bridge


@pytest.fixture
async def bridge(ctx: Ctx, pbx: AriDouble) -> AsyncIterator[AriBridge]:
    async with bridged(ctx, pbx) as bridge:
        yield bridge


@pytest.fixture
def disaster(ctx: Ctx) -> int:
    """The Padang earthquake, declared by a supervisor."""
    with ctx.sessions() as session:
        body = MajorIn(name="Gempa Padang M7,2", type_code="earthquake")
        return major.declare(session=session, region=ctx.region, body=body, user_id=None, actor="sup1").id


def call_on(ctx: Ctx, channel_id: str) -> Call | None:
    with ctx.sessions() as session:
        return session.scalar(select(Call).where(Call.channel_id == channel_id))


def choice_of(ctx: Ctx, channel_id: str) -> int | None:
    call = call_on(ctx, channel_id)
    return call.major_choice if call else None


def played(pbx: AriDouble, channel_id: str) -> list[str]:
    return [r[2]["media"] for r in pbx.calls_to("POST", f"/channels/{channel_id}/play")]


def stopped(pbx: AriDouble) -> int:
    return len(pbx.calls_to("DELETE", "/playbacks/"))


async def caller(pbx: AriDouble, number: str = "081234567890") -> str:
    channel = await pbx.incoming_call(number)
    assert channel is not None
    return channel


async def test_without_a_major_incident_callers_hear_the_greeting_only(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge
) -> None:
    channel = await caller(pbx)
    await pbx.wait_for(lambda: pbx.holding(channel) and played(pbx, channel))
    await pbx.dtmf(channel, "3")  # a key pressed anyway changes nothing
    await bridge.app.drain()
    assert played(pbx, channel) == ["sound:tanggap/salam-112"]
    assert choice_of(ctx, channel) is None


async def test_the_announcement_starts_within_a_second(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, disaster: int
) -> None:
    pbx.playback_s = None
    started = time.monotonic()
    channel = await caller(pbx)
    await pbx.wait_for(
        lambda: any(
            e["type"] == "PlaybackStarted" and e["playback"]["media_uri"] == "sound:tanggap/bencana-pengumuman"
            for e in pbx.sent
        )
    )
    assert time.monotonic() - started <= 1.0
    assert played(pbx, channel) == [ANNOUNCEMENT]  # instead of the greeting, not after it
    await pbx.wait_for(lambda: pbx.holding(channel))  # on hold in the queue from the first moment
    assert call_on(ctx, channel).status == "offered"  # type: ignore[union-attr]


@pytest.mark.parametrize(("digit", "choice"), [("1", 1), ("2", 2), ("3", 3), ("*", 1), ("9", 1), ("#", 1), ("0", 1)])
async def test_a_key_is_kept_and_noise_counts_as_one(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, disaster: int, digit: str, choice: int
) -> None:
    pbx.playback_s = None  # the caller presses during the announcement
    channel = await caller(pbx)
    await pbx.wait_for(lambda: pbx.playbacks and call_on(ctx, channel) is not None)
    await pbx.dtmf(channel, digit)
    await pbx.wait_for(lambda: choice_of(ctx, channel) == choice)
    assert stopped(pbx) >= 1  # the announcement stops at the key
    again = {1: "2", 2: "1", 3: "9"}[choice]  # a second key changes nothing (3: only 1 or 2 during the information)
    await pbx.dtmf(channel, again)
    await bridge.app.drain()
    assert choice_of(ctx, channel) == choice
    assert pbx.holding(channel) and call_on(ctx, channel).status == "offered"  # type: ignore[union-attr]


async def test_a_silent_caller_keeps_no_choice_and_counts_as_one(ctx: Ctx, pbx: AriDouble, disaster: int) -> None:
    async with bridged(ctx, pbx, choice_wait_s=0.2) as bridge:
        channel = await caller(pbx)  # the announcement plays through at once (playback_s 0)
        await pbx.wait_for(lambda: not bridge.app.choice.asking and played(pbx, channel))
        assert choice_of(ctx, channel) is None and priority_of(None) == 1
        await pbx.dtmf(channel, "3")  # too late: the caller waits as 1
        await bridge.app.drain()
        assert choice_of(ctx, channel) is None
        assert played(pbx, channel) == [ANNOUNCEMENT] and pbx.holding(channel)


async def test_information_then_a_person(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, disaster: int, make_taker: Callable[..., int]
) -> None:
    pbx.playback_s = None
    channel = await caller(pbx)
    await pbx.wait_for(lambda: pbx.playbacks and call_on(ctx, channel) is not None)
    await pbx.dtmf(channel, "3")
    await pbx.wait_for(lambda: played(pbx, channel) == [ANNOUNCEMENT, INFORMATION])
    assert choice_of(ctx, channel) == 3
    play = pbx.calls_to("POST", f"/channels/{channel}/play")[-1][2]
    assert play["lang"] == "id"
    await pbx.dtmf(channel, "0")  # a person, please
    await pbx.wait_for(lambda: stopped(pbx) == 2 and not bridge.app.choice.asking)
    assert choice_of(ctx, channel) == 3 and pbx.holding(channel)
    taker = make_taker("taker1")
    await pbx.wait_for(lambda: call_on(ctx, channel).status == "answered")  # type: ignore[union-attr]
    assert call_on(ctx, channel).taker_id == taker  # type: ignore[union-attr]


async def test_keys_pressed_while_talking_to_a_call_taker_play_nothing_and_keep_the_choice(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, disaster: int, make_taker: Callable[..., int]
) -> None:
    """A call-taker answered during the announcement: a 3 pressed now (to answer the call-taker, or by chance) must
    not start the information over the conversation, nor change the choice the queue went by."""
    pbx.playback_s = None  # the announcement still plays when the call-taker answers
    channel = await caller(pbx)
    await pbx.wait_for(lambda: pbx.playbacks and call_on(ctx, channel) is not None)
    make_taker("taker1")
    await pbx.wait_for(lambda: call_on(ctx, channel).status == "answered")  # type: ignore[union-attr]
    await pbx.dtmf(channel, "3")
    await pbx.caller_hangup(channel)  # handled after the key, in the caller's turn: the key's moment has passed
    await pbx.wait_for(lambda: channel not in bridge.app.calls)
    assert played(pbx, channel) == [ANNOUNCEMENT]
    assert choice_of(ctx, channel) is None


async def test_during_the_information_1_or_2_changes_the_choice(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, disaster: int
) -> None:
    pbx.playback_s = None
    channel = await caller(pbx)
    await pbx.wait_for(lambda: pbx.playbacks and call_on(ctx, channel) is not None)
    await pbx.dtmf(channel, "3")
    await pbx.wait_for(lambda: len(played(pbx, channel)) == 2)
    await pbx.dtmf(channel, "7")  # ignored during the information
    await bridge.app.drain()
    assert choice_of(ctx, channel) == 3 and bridge.app.choice.asking
    await pbx.dtmf(channel, "1")  # someone is hurt after all
    await pbx.wait_for(lambda: choice_of(ctx, channel) == 1 and not bridge.app.choice.asking)


async def test_choice_one_is_answered_before_an_earlier_report(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, disaster: int, make_taker: Callable[..., int]
) -> None:
    pbx.playback_s = None
    report = await caller(pbx, "081200000001")
    await pbx.wait_for(lambda: pbx.playbacks and call_on(ctx, report) is not None)
    await pbx.dtmf(report, "2")
    await pbx.wait_for(lambda: choice_of(ctx, report) == 2)
    trapped = await caller(pbx, "081200000002")
    await pbx.wait_for(lambda: call_on(ctx, trapped) is not None and bridge.app.choice.asking.get(trapped))
    await pbx.dtmf(trapped, "1")
    await pbx.wait_for(lambda: choice_of(ctx, trapped) == 1)
    make_taker("taker1")
    await pbx.wait_for(lambda: call_on(ctx, trapped).status == "answered")  # type: ignore[union-attr]
    assert call_on(ctx, report).status == "offered" and pbx.holding(report)  # type: ignore[union-attr]
    assert trapped not in bridge.app.choice.asking  # a caller with a person is asked nothing more


async def test_a_caller_who_hangs_up_during_the_announcement_is_abandoned(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge, disaster: int
) -> None:
    pbx.playback_s = None
    channel = await caller(pbx)
    await pbx.wait_for(lambda: pbx.playbacks and call_on(ctx, channel) is not None)
    await pbx.caller_hangup(channel)
    await pbx.wait_for(lambda: call_on(ctx, channel).status == "ended")  # type: ignore[union-attr]
    await bridge.app.drain()
    assert call_on(ctx, channel).classification == "abandoned"  # type: ignore[union-attr]
    assert not bridge.app.choice.asking


async def test_a_major_incident_declared_while_running_is_announced_to_the_next_callers(
    ctx: Ctx, pbx: AriDouble, bridge: AriBridge
) -> None:
    first = await caller(pbx)
    await pbx.wait_for(lambda: played(pbx, first) == ["sound:tanggap/salam-112"])
    with ctx.sessions() as session:
        body = MajorIn(name="Gempa", type_code="earthquake")
        found = major.declare(session=session, region=ctx.region, body=body, user_id=None, actor="sup1")
    deadline = time.monotonic() + 5
    while True:  # the bridge asks again every major_check_s (0.05 s here); a caller meanwhile is greeted
        channel = await caller(pbx)
        await pbx.wait_for(lambda channel=channel: played(pbx, channel))  # type: ignore[misc]
        if played(pbx, channel) == [ANNOUNCEMENT] or time.monotonic() > deadline:
            break
    assert played(pbx, channel) == [ANNOUNCEMENT]
    with ctx.sessions() as session:
        major.stand_down(session=session, major_id=found.id, user_id=None, actor="sup1")
    deadline = time.monotonic() + 5
    while True:
        channel = await caller(pbx)
        await pbx.wait_for(lambda channel=channel: played(pbx, channel))  # type: ignore[misc]
        if played(pbx, channel) == ["sound:tanggap/salam-112"] or time.monotonic() > deadline:
            break
    assert played(pbx, channel) == ["sound:tanggap/salam-112"]


async def test_a_bridge_in_its_own_process_announces_and_keeps_the_choice(
    ctx: Ctx, pbx: AriDouble, disaster: int
) -> None:
    """`tanggap ari` reaches the server's API: `GET /telephony/major`, `POST /telephony/calls/{id}/choice`."""
    with serve(create_app(ctx=ctx)) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        options = AriOptions(acd_interval_s=0.05, backoff_initial_s=0.02, reconcile_interval_s=600)
        bridge = AriBridge(AriClient(pbx.url, pbx.user, pbx.password, pbx.app), desk, options)
        async with running(bridge, pbx):
            pbx.playback_s = None
            channel = await caller(pbx)
            await pbx.wait_for(lambda: played(pbx, channel) == [ANNOUNCEMENT], timeout=10)
            await pbx.wait_for(lambda: call_on(ctx, channel) is not None and channel in bridge.app.choice.asking)
            await pbx.dtmf(channel, "2")
            await pbx.wait_for(lambda: choice_of(ctx, channel) == 2, timeout=10)
            body = await desk.request("GET", "/major")
            assert body == {"id": disaster, "name": "Gempa Padang M7,2", "region": "padang"}
            with pytest.raises(DeskRefused):  # an unknown call, a choice no key gives: refused, 4xx
                await desk.request("POST", "/calls/999999/choice", {"choice": 1})
            with pytest.raises(DeskRefused):
                await desk.request("POST", f"/calls/{call_on(ctx, channel).id}/choice", {"choice": 4})  # type: ignore[union-attr]
            assert choice_of(ctx, channel) == 2
