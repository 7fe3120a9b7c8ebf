"""Callbacks through the PBX (telephony/ari/callback.py) against the ARI double, which answers originate as the
captures of a real Asterisk 22 do (busy 486, no answer, "Allocation failed"): the desk first, then the caller with
the command center's number, bridged; every failure a state with a Bahasa reason. In the server's process and as
a bridge of its own over the HTTP API (woken by the call stream's notice)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dispatch.calls import callbacks
from dispatch.calls import service as calls
from dispatch.calls.models import Call, Callback
from dispatch.users import service as users
from telephony.ari.callback import PREFIX, _caller_refused, _desk_refused, caller_leg_ended, national
from telephony.ari.client import AriClient, AriError
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk import HttpDesk
from telephony.desk_local import InProcessDesk
from tests.doubles.ari_server import AriDouble
from tests.servers import serve
from tests.telephony.conftest import running
from ui.app import create_app
from ui.context import Ctx

CALLER = "+6281234567890"
TRUNK_LEG = f"{CALLER}@operator-trunk"  # the caller's leg as the double sees its endpoint's resource
# A poll far longer than any test: a callback is placed because the request woke the bridge, not by its poll.
OPTIONS = AriOptions(
    acd_interval_s=0.05, reconcile_interval_s=600, backoff_initial_s=0.02, ring_timeout_s=5, callback_ring_s=5,
    callback_poll_s=120,
)  # fmt: skip


@contextlib.asynccontextmanager
async def in_server(ctx: Ctx, pbx: AriDouble) -> AsyncIterator[AriBridge]:
    client = AriClient(pbx.url, pbx.user, pbx.password, pbx.app)
    desk = InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus)
    async with running(AriBridge(client, desk, OPTIONS), pbx) as bridge:
        yield bridge


def ask(ctx: Ctx, *, desk: str = "taker1", caller: str = "081234567890") -> int:
    """An abandoned call and a call-taker's callback through the PBX; returns the callback's id."""
    with ctx.sessions() as session:
        user = users.create(
            session=session, username=desk, password="rahasia-112", role="call_taker", sip_endpoint=desk
        )
        call = calls.offer(session=session, caller=caller, provider="asterisk", channel_id=f"gone-{desk}")
        calls.end(session=session, call_id=call.id, actor="ari")
        return callbacks.request(
            session=session, call_id=call.id, user_id=user.id, actor=desk, route="pbx", desk=desk,
            caller_id="+62751112",
        ).id  # fmt: skip


def attempt(ctx: Ctx, callback_id: int) -> Callback:
    with ctx.sessions() as session:
        found = session.get(Callback, callback_id)
        assert found is not None
        return found


def originated(pbx: AriDouble, leg: str) -> list[dict[str, str]]:
    return [q for m, p, q in pbx.requests if (m, p) == ("POST", "/ari/channels") and f",{leg}" in q.get("appArgs", "")]


def leg_of(pbx: AriDouble, leg: str) -> str:
    return originated(pbx, leg)[0]["channelId"]


async def test_the_desk_rings_first_then_the_caller_sees_our_number_and_they_talk_in_a_bridge(
    ctx: Ctx, pbx: AriDouble
) -> None:
    async with in_server(ctx, pbx):
        callback_id = ask(ctx)
        await pbx.wait_for(lambda: attempt(ctx, callback_id).state == "answered")
        (desk,) = originated(pbx, "desk")
        assert desk["endpoint"] == "PJSIP/taker1" and desk["appArgs"] == f"callback,{callback_id},desk"
        assert desk["callerId"] == f'"Panggil balik" <{CALLER}>'  # the call-taker sees whom they call
        (caller,) = originated(pbx, "caller")
        assert caller["endpoint"] == f"PJSIP/{TRUNK_LEG}" and caller["callerId"] == "+62751112"
        assert caller["channelId"].startswith(f"{PREFIX}{callback_id}-caller-")
        bridge = pbx.bridges[f"tanggap112-callback-{callback_id}"]
        assert sorted(bridge.channels) == sorted([desk["channelId"], caller["channelId"]])
        row = attempt(ctx, callback_id)
        assert row.claimed_at and row.ringing_at and row.answered_at and row.provider_ref == desk["channelId"]
        await pbx.caller_hangup(caller["channelId"])
        await pbx.wait_for(lambda: attempt(ctx, callback_id).ended_at is not None)
        await pbx.wait_for(lambda: desk["channelId"] not in pbx.channels and not pbx.bridges.get(bridge.id))
        with ctx.sessions() as session:  # its legs never reached the 112 queue as callers
            assert session.scalar(select(func.count()).select_from(Call)) == 1


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("busy", "Telepon meja taker1 sedang sibuk"),  # 486 Busy Here, cause 17
        ("no-answer", "Telepon meja taker1 tidak diangkat"),  # cause 19 at the timeout
        ("unregistered", "Telepon meja taker1 tidak terdaftar atau tidak tersambung ke PBX"),  # 500 Allocation failed
    ],
)
async def test_a_desk_that_does_not_answer_fails_the_callback_with_a_reason(
    ctx: Ctx, pbx: AriDouble, behaviour: str, reason: str
) -> None:
    pbx.endpoints["taker1"] = behaviour
    async with in_server(ctx, pbx):
        callback_id = ask(ctx)
        await pbx.wait_for(lambda: attempt(ctx, callback_id).state == "failed")
        row = attempt(ctx, callback_id)
        assert row.reason == reason and row.ended_at is not None
        assert originated(pbx, "caller") == []  # the caller is never rung for a desk nobody is at


@pytest.mark.parametrize(
    ("behaviour", "state", "reason"),
    [
        ("busy", "busy", None),
        ("no-answer", "no_answer", None),
        ("unknown", "failed", "PBX tidak dapat memanggil nomor penelepon (saluran keluar tidak tersedia)"),
    ],
)
async def test_a_caller_who_does_not_answer_is_recorded_and_the_desk_hung_up(
    ctx: Ctx, pbx: AriDouble, behaviour: str, state: str, reason: str | None
) -> None:
    pbx.endpoints[TRUNK_LEG] = behaviour
    async with in_server(ctx, pbx):
        callback_id = ask(ctx)
        await pbx.wait_for(lambda: attempt(ctx, callback_id).state == state)
        assert attempt(ctx, callback_id).reason == reason
        desk = leg_of(pbx, "desk")
        await pbx.wait_for(lambda: desk not in pbx.channels)  # the call-taker's phone is not left open
        assert pbx.calls_to("DELETE", f"/channels/{desk}")


async def test_a_remote_bridge_is_woken_by_the_call_stream_and_reports_over_the_api(ctx: Ctx, pbx: AriDouble) -> None:
    with serve(create_app(ctx=ctx)) as url:
        with ctx.sessions() as session:
            bot = users.create(session=session, username="bridge", password="rahasia-112", role="telephony")
            token = users.issue_token(session=session, user=bot, kind="api", lifetime=timedelta(hours=1))
        bridge = AriBridge(AriClient(pbx.url, pbx.user, pbx.password, pbx.app), HttpDesk(url, token), OPTIONS)
        async with running(bridge, pbx):
            await pbx.wait_for(lambda: bridge.desk.notices_takers)  # the call stream is open, for its notices
            callback_id = ask(ctx)
            await pbx.wait_for(lambda: attempt(ctx, callback_id).state == "answered", timeout=10)
            await pbx.caller_hangup(leg_of(pbx, "caller"))
            await pbx.wait_for(lambda: attempt(ctx, callback_id).ended_at is not None, timeout=10)


def test_what_asterisk_answers_is_said_in_bahasa() -> None:
    assert caller_leg_ended(17, "User busy") == ("busy", None)
    assert caller_leg_ended(19, "User alerting, no answer") == ("no_answer", None)
    assert caller_leg_ended(1, "Unallocated (unassigned) number") == (
        "failed",
        "Nomor penelepon tidak terdaftar atau salah",
    )
    assert caller_leg_ended(21, "Call Rejected") == ("failed", "Panggilan ditolak oleh penerima")
    assert caller_leg_ended(38, "Network out of order") == ("failed", "Jaringan operator sedang gangguan (kode 38)")
    assert caller_leg_ended(102, "Recovery on timer expiry") == (
        "failed", "Panggilan ke penelepon gagal (Recovery on timer expiry)"
    )  # fmt: skip
    invalid = AriError(400, "Invalid endpoint specified")  # what Asterisk answers a dial string without '/'
    assert _desk_refused(invalid, "taker1") == "PBX menolak menelepon meja taker1 (ARI 400: Invalid endpoint specified)"
    assert _caller_refused(AriError(409, "Channel with given unique ID already exists")).startswith("PBX menolak")
    assert _desk_refused(AriError(0, "POST /channels: ClientConnectorError"), "t1") == "PBX tidak dapat dihubungi"
    assert national(CALLER) == "081234567890" and national("+6591234567") == "+6591234567"


def test_the_callback_endpoint_must_be_a_dial_string_with_the_number() -> None:
    with pytest.raises(ValueError, match="callback_endpoint"):
        AriOptions(callback_endpoint="operator-trunk")
    assert AriOptions(callback_endpoint="PJSIP/{national}@trunk").callback_endpoint == "PJSIP/{national}@trunk"
