"""New calls from a bridge in its own process over the server's call stream (a websocket), and by HTTP
whenever the stream fails: refused, dropped, or silent. Real server on a real socket, real SQLite."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import websockets
from sqlalchemy import func, select

from dispatch.calls.models import Call
from dispatch.calls.service import CallBrief, Ringing
from dispatch.users import service as users
from telephony.desk import DeskUnavailable, HttpDesk
from telephony.http import LazySession
from telephony.offer_stream import OfferStream
from tests.servers import serve
from tests.telephony.test_remote_and_api import count_requests, token
from ui.app import create_app
from ui.context import Ctx
from ui.desk import desk_of
from ui.routes import offer_stream

PATH = offer_stream.PATH


def recorded(ctx: Ctx, prefix: str) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count(Call.id)).where(Call.channel_id.like(f"{prefix}%"))) or 0


def offers(desk: HttpDesk, prefix: str, n: int) -> list[Any]:
    return [desk.offer(channel_id=f"{prefix}{i}", caller=f"0815{i:08d}", dialled="112", at=None) for i in range(n)]


class Gate:
    """Holds the server's first batch of new calls until opened (the others pass): a stream message whose
    answer has not come yet."""

    def __init__(self) -> None:
        self.entered, self.open = threading.Event(), threading.Event()
        self.written = threading.Event()  # the held batch has been written (or refused as known)
        self.first = True

    def install(self, app: Any) -> None:
        desk = desk_of(app)
        real = desk.offer_many

        async def gated(ringing: list[Ringing], *, actor: str) -> list[CallBrief]:
            if self.first:
                self.first = False
                self.entered.set()
                await asyncio.to_thread(self.open.wait, 30)  # opened from the test's own thread and loop
                try:
                    return await real(ringing, actor=actor)
                finally:
                    self.written.set()
            return await real(ringing, actor=actor)

        desk.offer_many = gated  # type: ignore[method-assign]


class RefuseStream:
    """In front of the app, like a proxy that does not pass websockets (or a server without the stream)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope["path"] == PATH:
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)


@pytest.fixture
def gate() -> Iterator[Gate]:
    found = Gate()
    yield found
    found.open.set()


async def test_offers_of_one_turn_go_as_one_stream_message_and_none_by_http(ctx: Ctx) -> None:
    with serve(create_app(ctx=ctx)) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        requests = count_requests(desk)
        try:
            again = desk.offer(channel_id="s-7", caller=None, dialled="112", at=None)
            first = await asyncio.gather(*offers(desk, "s-", 50), again)
            second = await asyncio.gather(*offers(desk, "t-", 3))
            assert desk._stream is not None and desk._stream.connected
        finally:
            await desk.close()
    assert requests == []
    assert next(desk._stream._ids) == 3  # two messages: one per event-loop turn
    assert [c.channel_id for c in first[:50]] == [f"s-{n}" for n in range(50)]
    assert len({c.id for c in first[:50]}) == 50 and first[50].id == first[7].id
    assert [c.status for c in second] == ["offered"] * 3
    assert recorded(ctx, "s-") == 50 and recorded(ctx, "t-") == 3


async def test_a_refused_stream_sends_the_calls_by_http(ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    """A server without the call stream (an older version) or a proxy that refuses websockets: every call is
    still recorded, through `POST /calls/batch`."""
    app = create_app(ctx=ctx)
    app.add_middleware(RefuseStream)
    with caplog.at_level(logging.DEBUG, logger="telephony.offer_stream"), serve(app) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        requests = count_requests(desk)
        try:
            offered = await asyncio.gather(*offers(desk, "r-", 20))
            later = await asyncio.gather(*offers(desk, "u-", 2))  # HTTP straight away while the stream is down
            assert desk._stream is not None
            desk._stream._http_until = 1.0  # the retry window is over: it tries the stream again, in vain
            again = await asyncio.gather(*offers(desk, "w-", 2))
        finally:
            await desk.close()
    assert requests == ["POST /calls/batch"] * 3
    assert [c.channel_id for c in offered] == [f"r-{n}" for n in range(20)] and len(later) == len(again) == 2
    assert recorded(ctx, "r-") == 20 and recorded(ctx, "u-") == 2 and recorded(ctx, "w-") == 2
    said = [r for r in caplog.records if "call stream unavailable (403)" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG]  # a warning once per outage


async def test_calls_out_when_the_stream_drops_go_by_http_and_are_recorded_once(ctx: Ctx, gate: Gate) -> None:
    app = create_app(ctx=ctx)
    gate.install(app)
    with serve(app) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        requests = count_requests(desk)
        try:
            calls = asyncio.ensure_future(asyncio.gather(*offers(desk, "d-", 10)))
            assert await asyncio.to_thread(gate.entered.wait, 10)
            assert desk._stream is not None and desk._stream._ws is not None
            await desk._stream._ws.close()  # the connection drops with the ten calls unanswered
            offered = await calls
            gate.open.set()  # the server then writes the stream's copy of the calls: nothing new
            assert await asyncio.to_thread(gate.written.wait, 10)  # the marker: that copy has been written
        finally:
            await desk.close()
    assert requests == ["POST /calls/batch"]
    assert [c.channel_id for c in offered] == [f"d-{n}" for n in range(10)]
    assert recorded(ctx, "d-") == 10


async def test_a_silent_stream_is_given_up_after_the_timeout(ctx: Ctx, gate: Gate) -> None:
    app = create_app(ctx=ctx)
    gate.install(app)
    with serve(app) as url:
        desk = HttpDesk(url, token(ctx, "telephony"), timeout=0.5)
        requests = count_requests(desk)
        try:
            offered = await asyncio.gather(*offers(desk, "z-", 5))
            gate.open.set()
            later = await asyncio.gather(*offers(desk, "y-", 2))  # a new stream, answered
        finally:
            await desk.close()
    assert requests == ["POST /calls/batch"]
    assert [c.channel_id for c in offered] == [f"z-{n}" for n in range(5)] and len(later) == 2
    assert recorded(ctx, "z-") == 5 and recorded(ctx, "y-") == 2


async def test_the_stream_checks_its_messages_and_its_token(ctx: Ctx) -> None:
    bridge, taker = token(ctx, "telephony"), token(ctx, "call_taker")
    app = create_app(ctx=ctx)

    async def exchange(ws: Any, message: Any) -> dict[str, Any]:
        await ws.send(message if isinstance(message, str) else orjson.dumps(message).decode())
        answer: dict[str, Any] = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
        return answer

    with serve(app) as url:
        stream = url.replace("http", "ws") + PATH
        for headers in ({}, {"Authorization": f"Bearer {taker}"}):
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(stream, additional_headers=headers):
                    pass
            assert refused.value.response.status_code == 403
        async with websockets.connect(stream, additional_headers={"Authorization": f"Bearer {bridge}"}) as ws:
            ok = await exchange(ws, {"id": 1, "calls": [{"channel_id": "v-1", "caller": "081500000001"}]})
            again = await exchange(ws, {"id": 2, "calls": [{"channel_id": "v-1", "caller": "081500000001"}]})
            empty = await exchange(ws, {"id": 3, "calls": []})
            extra = await exchange(ws, {"id": 4, "calls": [{"channel_id": "v-2", "extra": 1}]})
            too_many = await exchange(ws, {"id": 5, "calls": [{"channel_id": "v-3"}] * 501})
            no_id = await exchange(ws, {"calls": [{"channel_id": "v-4"}]})
            not_json = await exchange(ws, "{calls")
            with ctx.sessions() as session:  # logged out elsewhere: the next message is refused
                users.revoke_token(session=session, token=bridge)
                session.commit()
            app.state.recent_tokens.forget(bridge)
            revoked = await exchange(ws, {"id": 6, "calls": [{"channel_id": "v-5"}]})
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
    assert ok["id"] == 1 and ok["calls"][0]["channel_id"] == "v-1" and ok["calls"][0]["status"] == "offered"
    assert again["calls"][0]["id"] == ok["calls"][0]["id"]
    for answer, number in ((empty, 3), (extra, 4), (too_many, 5), (no_id, None), (not_json, None)):
        assert answer["id"] == number and answer["error"]["status"] == 422, answer
    assert "calls" in empty["error"]["detail"] and "extra" in extra["error"]["detail"]
    assert revoked == {"id": 6, "error": {"status": 401, "detail": "login required"}}
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert recorded(ctx, "v-") == 1


async def test_an_answer_the_bridge_cannot_read_sends_its_calls_by_http() -> None:
    """A server (or something between) answering nonsense: the calls concerned go by HTTP, none is left
    waiting, and answers to nothing the bridge asked are ignored."""
    by_http: list[str] = []

    async def fallback(body: dict[str, Any]) -> str:
        by_http.append(body["channel_id"])
        return f"http-{body['channel_id']}"

    stream: OfferStream[str] = OfferStream(
        LazySession({}, connections=1, timeout=1),
        "http://127.0.0.1:9",
        str,
        fallback,
        timeout=1,
        refused=DeskUnavailable,
    )
    loop = asyncio.get_running_loop()
    out = {n: [({"channel_id": f"a{n}"}, loop.create_future())] for n in (1, 2, 3)}
    stream._out.update(out)
    for nonsense in (["not", "a", "dict"], {"id": 99, "calls": []}, {"id": "1"}):
        stream._answer(nonsense)
    assert len(stream._out) == 3
    stream._answer({"id": 1, "calls": []})  # one call asked, none answered
    stream._answer({"id": 2, "calls": 7})
    stream._answer({"id": 3, "error": {"status": "bad"}})
    answers = await asyncio.wait_for(asyncio.gather(*(f for items in out.values() for _, f in items)), 10)
    await stream.close()
    assert answers == ["http-a1", "http-a2", "http-a3"] and by_http == ["a1", "a2", "a3"]


async def test_more_calls_than_one_message_takes_while_the_stream_opens_go_in_several(ctx: Ctx) -> None:
    """A burst bigger than a message (500 calls) that comes before the stream is open waits for it, then goes
    in messages of 500 at most: none is refused for the size of the message."""
    with serve(create_app(ctx=ctx)) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        requests = count_requests(desk)
        try:
            offered = await asyncio.gather(*offers(desk, "big-", 600))
        finally:
            await desk.close()
    assert requests == [] and next(desk._stream._ids) == 3  # type: ignore[union-attr]
    assert [c.channel_id for c in offered] == [f"big-{n}" for n in range(600)]
    assert recorded(ctx, "big-") == 600


async def test_notices_come_without_calls_and_after_the_stream_drops(ctx: Ctx) -> None:
    """A bridge that listens for `taker.available` keeps the stream open, calls or not, and opens it again
    after it drops; the server sends one notice per call-taker made ready, not one per other event."""
    with serve(create_app(ctx=ctx)) as url:
        desk = HttpDesk(url, token(ctx, "telephony"))
        heard: list[float] = []
        unsubscribe = desk.on_taker_ready(lambda: heard.append(asyncio.get_running_loop().time()))
        stream = desk._stream
        assert stream is not None
        with ctx.sessions() as session:
            taker = users.create(session=session, username="ani", password="rahasia-112", role="call_taker")

        def ready(available: bool) -> None:
            with ctx.sessions() as session:
                user = session.get(type(taker), taker.id)
                assert user is not None
                users.set_available(session=session, user=user, available=available)

        async def heard_one() -> None:
            before = len(heard)
            await asyncio.to_thread(ready, True)
            async with asyncio.timeout(5):
                while len(heard) == before:  # noqa: ASYNC110 - the listener is a plain callback
                    await asyncio.sleep(0.01)
            await asyncio.to_thread(ready, False)  # not a notice: nobody became ready

        try:
            async with asyncio.timeout(5):
                while not stream.connected:  # noqa: ASYNC110 - opened by on_taker_ready, no call needed
                    await asyncio.sleep(0.01)
            await heard_one()
            assert stream._ws is not None
            await stream._ws.close()  # the connection drops
            async with asyncio.timeout(5):
                while not stream.connected:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await heard_one()
            await heard_one()  # the marker: notices come in order, so a duplicate would have come before it
            assert len(heard) == 3
        finally:
            unsubscribe()
            await desk.close()
