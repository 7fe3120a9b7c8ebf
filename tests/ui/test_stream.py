"""/ws: replay with since, live events, who sees what, and slow clients told to resync."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time

import pytest
import websockets
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from dispatch.events.service import record
from tests.servers import serve
from tests.streams import Inbox, TextSocket
from ui import stream
from ui.app import create_app
from ui.context import Ctx

Headers = dict[str, dict[str, str]]


def test_reconnect_with_since_receives_what_was_missed_in_order(client: TestClient, auth: Headers) -> None:
    h = auth["call_taker"]
    with client.websocket_connect("/ws", headers=h) as ws:
        inbox = Inbox(ws)
        assert inbox.next()["type"] == "live"
        client.post("/api/v1/calls", json={"caller": "0811"}, headers=h)
        first = inbox.next()
    last = first["seq"]
    for n in range(3):
        client.post("/api/v1/calls", json={"caller": f"081100{n}"}, headers=h)
    with client.websocket_connect(f"/ws?since={last}", headers=h) as ws:
        inbox = Inbox(ws)
        missed = inbox.until("live")
        client.post("/api/v1/calls", json={"caller": "081199998888"}, headers=h)
        after = inbox.next()
    seqs = [m["seq"] for m in missed[:-1]]
    assert len(seqs) == 3 and seqs == sorted(seqs) and seqs[0] > last
    assert set(missed[0]) == {"seq", "type", "at", "data"} and missed[0]["type"] == "call.offered"
    assert after["seq"] > seqs[-1] and after["data"]["caller"] == "+6281199998888"


def test_a_replay_comes_in_few_messages_each_an_array_in_order(client: TestClient, auth: Headers) -> None:
    """Catching up on 300 events costs two websocket messages (250 at most each), not 300."""
    h = auth["dispatcher"]
    with client.websocket_connect("/ws", headers=h) as ws:
        start = Inbox(ws).next()["seq"]
    ctx: Ctx = client.app.state.ctx  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        for n in range(300):
            record(session, "test.bulk", actor="test", data={"n": n})
        session.commit()
    with client.websocket_connect(f"/ws?since={start}", headers=h) as ws:
        inbox = Inbox(ws)
        missed = inbox.until("live")[:-1]
    assert [m["data"]["n"] for m in missed] == list(range(300))
    assert inbox.arrays == 3  # 250 events, 50 events, then `live`


def test_event_data_with_number_keys_and_indonesian_text_is_stored_and_sent_as_json(
    client: TestClient, auth: Headers
) -> None:
    """The log and /ws encode with orjson; keys that are not strings (counts by priority, say) are written as
    `json.dumps` writes them, live and on replay, rather than failing the commit or the send."""
    h = auth["dispatcher"]
    data = {"per_priority": {1: 3, 2: 0}, "note": "Kebakaran di Jl. Sudirman ±100 m"}
    expected = json.loads(json.dumps(data))
    ctx: Ctx = client.app.state.ctx  # type: ignore[attr-defined]
    with client.websocket_connect("/ws", headers=h) as ws:
        inbox = Inbox(ws)
        start = inbox.next()["seq"]
        with ctx.sessions() as session:
            record(session, "test.counts", actor="test", data=data)
            session.commit()
        live = inbox.next()
    with client.websocket_connect(f"/ws?since={start}", headers=h) as ws:
        replayed = Inbox(ws).until("live")[0]
    assert live["type"] == replayed["type"] == "test.counts"
    assert live["data"] == replayed["data"] == expected == {"per_priority": {"1": 3, "2": 0}, "note": data["note"]}


def test_live_events_published_late_or_out_of_order_arrive_once_in_order(client: TestClient, auth: Headers) -> None:
    """Two commits race to the bus: the later one's events come first. The gap is filled from the log, the
    late batch is not sent again, and the 40 events of one commit arrive whole, in order."""
    from sqlalchemy.orm import Session

    from dispatch.events.service import NewEvent, record_many

    ctx: Ctx = client.app.state.ctx  # type: ignore[attr-defined]
    with client.websocket_connect("/ws", headers=auth["supervisor"]) as ws:
        inbox = Inbox(ws)
        assert inbox.next()["type"] == "live"
        with Session(ctx.engine) as session:  # no publisher on this session: we publish by hand below
            first, second = record_many(
                session, [NewEvent("test.first", "test", {}), NewEvent("test.second", "test", {})]
            )
            session.commit()
        ctx.bus.publish([second])
        got = inbox.until("test.second")
        ctx.bus.publish([first])  # arrives late: already sent from the log
        with ctx.sessions() as session:
            for n in range(40):  # within the tests' TANGGAP_WS_BUFFER of 50
                record(session, "test.bulk", actor="test", data={"n": n})
            session.commit()
        bulk = [inbox.next() for _ in range(40)]
    assert [m["type"] for m in got] == ["test.first", "test.second"]
    assert [m["seq"] for m in got] == [first.seq, second.seq]
    assert [m["data"]["n"] for m in bulk] == list(range(40)) and bulk[0]["seq"] == second.seq + 1


def test_a_new_call_goes_at_once_and_takes_what_was_held_back_with_it(
    client: TestClient, auth: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A console gets at most one message per `_COALESCE_S`, except that a new call goes at once, with the
    events held back before it. The window is made long here so that nothing depends on this machine's speed."""
    monkeypatch.setattr(stream, "_COALESCE_S", 30.0)
    ctx: Ctx = client.app.state.ctx  # type: ignore[attr-defined]

    def emit(kind: str) -> None:
        with ctx.sessions() as session:
            record(session, kind, actor="test", data={})
            session.commit()

    def types(ws: TextSocket) -> list[str]:
        return [m["type"] for m in json.loads(ws.receive_text())]

    with client.websocket_connect("/ws", headers=auth["supervisor"]) as ws:
        assert types(ws) == ["live"]
        emit("call.queued")
        assert types(ws) == ["call.queued"]  # the first in a while goes at once
        emit("call.answered")
        emit("call.recording")
        emit("call.offered")
        assert types(ws) == ["call.answered", "call.recording", "call.offered"]


def test_websocket_needs_a_login(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as err, client.websocket_connect("/ws"):
        pass
    assert err.value.code == 4401


def test_bad_since_is_refused(client: TestClient, auth: Headers) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as err,
        client.websocket_connect("/ws?since=-3", headers=auth["dispatcher"]),
    ):
        pass
    assert err.value.code == 4400


def test_responder_stream_carries_only_its_unit(client: TestClient, auth: Headers) -> None:
    taker, disp = auth["call_taker"], auth["dispatcher"]
    units = {u["callsign"]: u["id"] for u in client.get("/api/v1/units", headers=disp).json()}
    mine = client.post(
        "/api/v1/incidents", json={"type_code": "fire_house", "lat": -0.9262, "lon": 100.356}, headers=taker
    ).json()
    other = client.post(
        "/api/v1/incidents", json={"type_code": "medical", "lat": -0.95, "lon": 100.40}, headers=taker
    ).json()
    with client.websocket_connect("/ws", headers=auth["responder"]) as ws:
        inbox = Inbox(ws)
        inbox.until("live")
        client.post(
            f"/api/v1/incidents/{other['id']}/assignments", json={"unit_id": units["PSC119-03-AMB1"]}, headers=disp
        )
        client.post("/api/v1/calls", json={"caller": "0812"}, headers=taker)
        client.post(
            f"/api/v1/incidents/{mine['id']}/assignments", json={"unit_id": units["DAMKAR-03-PMK1"]}, headers=disp
        )
        client.patch(f"/api/v1/incidents/{mine['id']}", json={"notes": "lantai 2"}, headers=taker)
        got = [inbox.next() for _ in range(2)]
    assert [g["type"] for g in got] == ["assignment.created", "incident.updated"]
    assert all(g["data"].get("id", mine["id"]) == mine["id"] for g in got)


def _raw_websocket(url: str, path: str) -> socket.socket:
    """A client that stops reading: a tiny fixed receive window, so the server feels it at once."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def test_slow_client_is_told_to_resync_and_fast_one_gets_everything(ctx: Ctx, auth: Headers) -> None:
    """A console that stops reading must not hold up the others, nor grow the server's memory."""
    ctx.settings.ws_buffer = 200
    token = auth["dispatcher"]["Authorization"].split()[1]
    # 24 MB in all: more than the server's socket send buffer (4 MB at most here) can hide.
    total, payload = 1500, {"blob": "x" * 16000}

    def write_events() -> None:
        for _ in range(total):
            with ctx.sessions() as session:
                record(session, "test.bulk", actor="test", data=payload)
                session.commit()
            time.sleep(0.001)

    async def fast_client(url: str) -> list[int]:
        async with websockets.connect(url.replace("http", "ws") + f"/ws?token={token}", max_size=None) as fast:
            assert [m["type"] for m in json.loads(await fast.recv())] == ["live"]
            writer = asyncio.get_running_loop().run_in_executor(None, write_events)
            seqs: list[int] = []
            while len(seqs) < total:
                seqs.extend(m["seq"] for m in json.loads(await asyncio.wait_for(fast.recv(), 30)))
            await writer
            return seqs

    with serve(create_app(ctx=ctx)) as url:
        slow = _raw_websocket(url, f"/ws?token={token}")
        fast_seqs = asyncio.run(fast_client(url))
        slow.settimeout(10)
        received = b""
        with contextlib.suppress(TimeoutError):
            while chunk := slow.recv(1 << 20):
                received += chunk
                if b'"resync"' in received:
                    break
        slow.close()
    assert fast_seqs == sorted(fast_seqs) and len(set(fast_seqs)) == total
    assert b'"resync"' in received and received.count(b'"test.bulk"') < total
