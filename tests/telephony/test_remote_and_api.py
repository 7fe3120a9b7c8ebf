"""The bridge as its own process (HttpDesk over the API), in the server's lifespan, and the supervisor views."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from dispatch.audit import service as audit
from dispatch.audit.models import AccessAction
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.calls.records import Match
from dispatch.calls.service import CallBrief
from dispatch.events.models import Event
from dispatch.users import service as users
from dispatch.users.models import User
from telephony.ari.client import AriClient
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk import DeskUnavailable, HttpDesk
from tests.doubles.ari_server import AriDouble
from tests.servers import free_port, serve
from tests.telephony.test_ari_bridge import call_on, status_of
from ui.app import create_app
from ui.context import Ctx


def queued_at(ctx: Ctx, channel: str, timeout: float = 5) -> float:
    """When the call's `call.queued` was written (epoch seconds): after it, the bridge kicks the ACD."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        call = call_on(ctx, channel)
        with ctx.sessions() as session:
            at = session.scalar(
                select(Event.at).where(Event.call_id == (call.id if call else -1), Event.type == "call.queued")
            )
        if at is not None:
            return at.timestamp()
        time.sleep(0.01)
    raise AssertionError(f"call on {channel} never queued")


def token(ctx: Ctx, role: str) -> str:
    with ctx.sessions() as session:
        user = users.create(session=session, username=f"{role}-x", password="rahasia-112", role=role)
        return users.issue_token(session=session, user=user, kind="api", lifetime=timedelta(hours=1))


async def test_remote_bridge_through_the_http_api(ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]) -> None:
    with serve(create_app(ctx=ctx)) as url:  # the server on a real socket, as `tanggap ari` reaches it
        desk = HttpDesk(url, token(ctx, "telephony"))
        bridge = AriBridge(
            AriClient(pbx.url, pbx.user, pbx.password, pbx.app),
            desk,
            AriOptions(acd_interval_s=0.05, backoff_initial_s=0.02),
        )
        await bridge.start()
        try:
            await pbx.wait_for(lambda: pbx.app_connected)
            taker = make_taker("taker1")
            channel = await pbx.incoming_call("081234567890")
            assert channel is not None
            await pbx.wait_for(lambda: status_of(ctx, channel) == "answered", timeout=10)
            assert (await desk.triage("081234567890")).flagged is False
            await pbx.caller_hangup(channel)
            await pbx.wait_for(lambda: status_of(ctx, channel) == "ended", timeout=10)
            call = call_on(ctx, channel)
            assert call is not None and call.taker_id == taker and call.recording_ref
        finally:
            await bridge.stop()


async def test_a_taker_who_becomes_ready_is_rung_at_once_by_a_remote_bridge(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    """The server's notice on the call stream, not the ACD's poll (here 30 s), rings the desk."""
    with serve(create_app(ctx=ctx)) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        bridge = AriBridge(
            AriClient(pbx.url, pbx.user, pbx.password, pbx.app), desk, AriOptions(acd_interval_s=30)
        )  # fmt: skip
        rounds: list[float] = []  # when each ACD round ended
        claim = desk.claim

        async def counted() -> list[Match]:
            try:
                return await claim()
            finally:
                rounds.append(time.time())

        desk.claim = counted  # type: ignore[method-assign]
        await bridge.start()
        try:
            await pbx.wait_for(lambda: pbx.app_connected)
            taker = make_taker("taker1", available=False)
            channel = await pbx.incoming_call("081234567890")
            assert channel is not None
            await pbx.wait_for(lambda: pbx.holding(channel))  # on hold, nobody ready
            queued = await asyncio.to_thread(queued_at, ctx, channel)
            await pbx.wait_for(lambda: any(r > queued for r in rounds))  # the ACD looked and found nobody
            assert status_of(ctx, channel) == "offered"
            with ctx.sessions() as session:
                user = session.get(User, taker)
                assert user is not None
                users.set_available(session=session, user=user, available=True)
            await pbx.wait_for(lambda: status_of(ctx, channel) == "answered", timeout=5)
            await pbx.caller_hangup(channel)
            await pbx.wait_for(lambda: status_of(ctx, channel) == "ended")
        finally:
            await bridge.stop()


async def test_lifespan_starts_bridge_and_supervisor_plays_recording(
    ctx: Ctx, pbx: AriDouble, make_taker: Callable[..., int]
) -> None:
    ctx.settings = ctx.settings.model_copy(
        update={
            "ari_url": pbx.url,
            "ari_bridge": True,
            "ari_user": pbx.user,
            "ari_password": SecretStr(pbx.password),
            "agi_port": free_port(),
        }
    )
    app = create_app(ctx=ctx)
    supervisor = {"Authorization": f"Bearer {token(ctx, 'supervisor')}"}
    taker_token = {"Authorization": f"Bearer {token(ctx, 'call_taker')}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cad.test") as api,
    ):
        await pbx.wait_for(lambda: pbx.app_connected)
        waiting = await pbx.incoming_call("081234567890")
        assert waiting is not None
        await pbx.wait_for(lambda: pbx.holding(waiting))
        queue = (await api.get("/api/v1/telephony/queue", headers=supervisor)).json()
        assert queue["waiting"] == 1 and queue["calls"][0]["position"] == 1
        assert queue["calls"][0]["caller"] == "+6281234567890"
        assert (await api.get("/api/v1/telephony/queue", headers=taker_token)).status_code == 403
        make_taker("taker1")
        await pbx.wait_for(lambda: (call_on(ctx, waiting) or object()).__dict__.get("recording_ref"))
        await pbx.caller_hangup(waiting)
        await pbx.wait_for(lambda: status_of(ctx, waiting) == "ended")
        call = call_on(ctx, waiting)
        assert call is not None
        await pbx.wait_for(lambda: call.recording_ref in pbx.stored)
        audio = await api.get(f"/api/v1/telephony/calls/{call.id}/recording", headers=supervisor)
        assert audio.status_code == 200 and audio.content.startswith(b"RIFF")
        refused = await api.get(f"/api/v1/telephony/calls/{call.id}/recording", headers=taker_token)
        assert refused.status_code == 403


async def test_a_recording_is_played_only_once_its_row_is_in_the_access_audit(
    ctx: Ctx, pbx: AriDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Playback fails closed (ui/audit.py): a supervisor's listening is written before the sound leaves, and when
    it cannot be written the sound does not leave (503)."""
    ctx.settings = ctx.settings.model_copy(
        update={"ari_url": pbx.url, "ari_user": pbx.user, "ari_password": SecretStr(pbx.password)}
    )
    with ctx.sessions() as session:
        call = calls.offer(session=session, caller="081234567890", provider="asterisk", channel_id="rec-1")
        calls.set_recording(session=session, call_id=call.id, ref="tanggap-rec-1", actor="ari")
    pbx.stored["tanggap-rec-1"] = b"RIFF----WAVEfmt "
    supervisor = {"Authorization": f"Bearer {token(ctx, 'supervisor')}"}
    app = create_app(ctx=ctx)
    url = f"/api/v1/telephony/calls/{call.id}/recording"

    def played() -> list[tuple[str, str, list[int]]]:
        with ctx.sessions() as session:
            rows = audit.listing(session=session, action=AccessAction.recording_played).rows
            return [(r.username, r.subject, audit.data(r)["call_ids"]) for r in rows]  # type: ignore[misc]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cad.test") as api:
        audio = await api.get(url, headers=supervisor)
        assert audio.status_code == 200 and audio.content.startswith(b"RIFF")
        assert played() == [("supervisor-x", f"recording of call {call.id}", [call.id])]

        def broken(**_kw: Any) -> None:
            raise OperationalError("INSERT INTO access_audit", {}, Exception("disk I/O error"))

        monkeypatch.setattr(audit, "record", broken)
        refused = await api.get(url, headers=supervisor)
        assert refused.status_code == 503 and not refused.content.startswith(b"RIFF")
        assert "audit" in refused.json()["error"]
    monkeypatch.undo()
    assert len(played()) == 1


def test_a_burst_from_a_remote_bridge_is_recorded_whole(ctx: Ctx) -> None:
    """200 calls offered at once over HTTP, as `tanggap ari` does in a burst, and a console request meanwhile:
    every call is recorded once, nobody gets a 5xx, and the console is not starved of database connections.
    (Each request once held a pooled connection while it waited for SQLite's lock: 500s and lost calls.)"""
    headers = {"Authorization": f"Bearer {token(ctx, 'telephony')}"}
    staff = {"Authorization": f"Bearer {token(ctx, 'supervisor')}"}

    async def burst(url: str) -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=200)) as http:
            offers = [
                http.post(
                    "/api/v1/telephony/calls", json={"channel_id": f"b-{n}", "caller": f"0812{n:08d}"}, headers=headers
                )
                for n in range(200)
            ]
            again = http.post(
                "/api/v1/telephony/calls", json={"channel_id": "b-7", "caller": "081200000007"}, headers=headers
            )
            console = asyncio.ensure_future(http.get("/api/v1/calls?active=true", headers=staff))
            answers = await asyncio.gather(*offers, again)
            return list(answers), await console

    with serve(create_app(ctx=ctx)) as url:
        answers, console = asyncio.run(burst(url))
    assert [r.status_code for r in answers] == [200] * 201, {r.status_code for r in answers}
    assert console.status_code == 200
    ids = [r.json()["id"] for r in answers]
    assert len(set(ids[:200])) == 200 and ids[200] == ids[7]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count(Call.id)).where(Call.channel_id.like("b-%"))) == 200


def test_offers_in_one_request_come_back_in_order_and_bad_batches_write_nothing(ctx: Ctx) -> None:
    bridge = {"Authorization": f"Bearer {token(ctx, 'telephony')}"}
    taker = {"Authorization": f"Bearer {token(ctx, 'call_taker')}"}
    calls = [{"channel_id": f"m-{n}", "caller": f"0812{n:08d}"} for n in range(3)]

    async def post(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            path = "/api/v1/telephony/calls/batch"
            return [
                await http.post(path, json={"calls": [*calls, calls[1]]}, headers=bridge),
                await http.post(path, json={"calls": calls}, headers=bridge),  # a retry of the same calls
                await http.post(path, json={"calls": []}, headers=bridge),
                await http.post(path, json={"calls": [{"channel_id": "x"}] * 501}, headers=bridge),
                await http.post(path, json={"calls": [{"channel_id": "m-9", "extra": 1}]}, headers=bridge),
                await http.post(path, json={"calls": [{"channel_id": "m-8"}]}, headers=taker),
            ]

    with serve(create_app(ctx=ctx)) as url:
        first, retry, empty, too_many, extra, wrong_role = asyncio.run(post(url))
    assert first.status_code == 200 and retry.status_code == 200
    ids = [row["id"] for row in first.json()]
    assert [row["channel_id"] for row in first.json()] == ["m-0", "m-1", "m-2", "m-1"]
    assert len(set(ids)) == 3 and ids[3] == ids[1] and [row["id"] for row in retry.json()] == ids[:3]
    assert {empty.status_code, too_many.status_code, extra.status_code} == {422} and wrong_role.status_code == 403
    with ctx.sessions() as session:
        assert session.scalar(select(func.count(Call.id)).where(Call.channel_id.like("m-%"))) == 3


def count_requests(desk: HttpDesk) -> list[str]:
    """The requests `desk` sends from now on, as "METHOD /path"."""
    requests: list[str] = []
    call = desk._call

    async def counted(method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        requests.append(f"{method} {path}")
        return await call(method, path, *args, **kwargs)

    desk._call = counted  # type: ignore[method-assign]
    return requests


async def test_http_desk_sends_the_offers_of_one_turn_together(ctx: Ctx) -> None:
    """Fifty callers at once from a bridge in its own process, by HTTP (without the call stream, or when it
    fails: tests/telephony/test_offer_stream.py): one request, fifty calls, in order."""
    with serve(create_app(ctx=ctx)) as url:
        desk = HttpDesk(url, token(ctx, "telephony"), stream=False)
        requests = count_requests(desk)
        try:
            offered = await asyncio.gather(
                *(desk.offer(channel_id=f"h-{n}", caller=f"0813{n:08d}", dialled="112", at=None) for n in range(50)),
                desk.offer(channel_id="h-7", caller="081300000007", dialled="112", at=None),
            )
        finally:
            await desk.close()
    assert requests == ["POST /calls/batch"]
    assert [c.channel_id for c in offered[:50]] == [f"h-{n}" for n in range(50)]
    assert len({c.id for c in offered[:50]}) == 50 and offered[50].id == offered[7].id
    with ctx.sessions() as session:
        assert session.scalar(select(func.count(Call.id)).where(Call.channel_id.like("h-%"))) == 50


async def test_http_desk_sends_each_step_of_one_turn_together_and_a_missing_call_fails_alone(ctx: Ctx) -> None:
    """After a burst, the bridge puts callers on hold and they hang up in floods: `queued` and `finish` of
    one event-loop turn go as one request each, in order, and a call the server does not know fails on its
    own without failing the others."""
    with serve(create_app(ctx=ctx)) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        requests = count_requests(desk)
        try:
            offered = await asyncio.gather(
                *(desk.offer(channel_id=f"q-{n}", caller=f"0814{n:08d}", dialled="112", at=None) for n in range(20))
            )
            positions = await asyncio.gather(*(desk.queued(c.id) for c in offered))
            missing = 10**9
            ended = await asyncio.gather(
                *(desk.finish(c.id, "caller hung up") for c in offered),
                desk.finish(missing, None),
                return_exceptions=True,
            )
        finally:
            await desk.close()
    assert requests == ["POST /calls/queued/batch", "POST /calls/finish/batch"]  # the offers: the call stream
    assert None not in positions and len(set(positions)) == 20
    assert positions == sorted(p for p in positions if p is not None)
    assert [c.status for c in ended[:20] if isinstance(c, CallBrief)] == ["ended"] * 20
    assert isinstance(ended[20], DeskUnavailable) and "404" in str(ended[20])
    with ctx.sessions() as session:
        statuses = session.scalars(select(Call.classification).where(Call.channel_id.like("q-%")))
        assert list(statuses) == ["abandoned"] * 20


def test_step_batches_are_validated_and_for_the_bridge_only(ctx: Ctx) -> None:
    bridge = {"Authorization": f"Bearer {token(ctx, 'telephony')}"}
    taker = {"Authorization": f"Bearer {token(ctx, 'call_taker')}"}

    async def post(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            out = []
            for path in ("/api/v1/telephony/calls/queued/batch", "/api/v1/telephony/calls/finish/batch"):
                out += [
                    await http.post(path, json={"calls": []}, headers=bridge),
                    await http.post(path, json={"calls": [{"call_id": 1}] * 501}, headers=bridge),
                    await http.post(path, json={"calls": [{"call_id": "one"}]}, headers=bridge),
                    await http.post(path, json={"calls": [{"call_id": 1, "extra": 1}]}, headers=bridge),
                    await http.post(path, json={"calls": [{"call_id": 1}]}, headers=taker),
                    await http.post(path, json={"calls": [{"call_id": 10**9}]}, headers=bridge),
                ]
            return out

    with serve(create_app(ctx=ctx)) as url:
        answers = asyncio.run(post(url))
    for n in (0, 6):
        empty, too_many, not_int, extra, wrong_role, missing = answers[n : n + 6]
        assert {empty.status_code, too_many.status_code, not_int.status_code, extra.status_code} == {422}
        assert wrong_role.status_code == 403
        assert missing.status_code == 200 and missing.json()[0]["error"]["status"] == 404


async def test_http_desk_keeps_two_requests_of_a_step_out_and_the_rest_waits_for_one_of_them() -> None:
    """A burst reaches the bridge over many event-loop turns: with two offer requests out, the calls after
    them wait and go together in the next request, instead of one small request per turn."""
    desk = HttpDesk("http://127.0.0.1:9", "unused", stream=False)
    sizes: list[int] = []
    gate = asyncio.Event()

    async def fake(method: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        sizes.append(len(body["calls"]))
        await gate.wait()
        return [
            {"id": n, "channel_id": c["channel_id"], "status": "offered", "flagged": False}
            for n, c in enumerate(body["calls"])
        ]

    desk._call = fake  # type: ignore[method-assign,assignment]

    def offer(channel: str) -> asyncio.Task[CallBrief]:
        return asyncio.ensure_future(desk.offer(channel_id=channel, caller=None, dialled="112", at=None))

    calls = [offer("first")]
    await asyncio.sleep(0)
    calls += [offer("second-a"), offer("second-b")]
    for turn in range(5):  # five more turns while both requests are out
        await asyncio.sleep(0)
        calls += [offer(f"later-{turn}-{n}") for n in range(6)]
    await asyncio.sleep(0.01)
    assert sizes == [1, 2]
    gate.set()
    offered = await asyncio.gather(*calls)
    await desk.close()
    assert sizes == [1, 2, 30]
    assert [c.channel_id for c in offered] == ["first", "second-a", "second-b"] + [
        f"later-{t}-{n}" for t in range(5) for n in range(6)
    ]
