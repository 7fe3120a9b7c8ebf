"""The bridge in its own process keeps what the server could not take in a journal on its disk and replays it
when the server answers again, also from a restarted bridge: each call on record once, with its real times."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

from dispatch.calls.models import Call
from dispatch.clock import as_utc
from telephony.ari.run import AriBridge
from telephony.ari.settings import AriOptions
from telephony.desk import HttpDesk
from telephony.desk_journal import JournaledDesk
from telephony.spool import Spool
from tests.doubles.ari_server import AriDouble
from tests.servers import free_port
from tests.telephony.conftest import running
from tests.telephony.test_ari_bridge import call_on, event_types, status_of
from tests.telephony.test_remote_and_api import token
from ui.app import create_app
from ui.context import Ctx

FAST = {"acd_interval_s": 0.05, "reconcile_interval_s": 600, "backoff_initial_s": 0.02, "lease_ttl_s": 1.0}


class Server:
    """`tanggap serve` under uvicorn on a port of its own: stopped, and started again on the same port."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx, self.port = ctx, free_port()
        self.token = token(ctx, "telephony")  # the bridge's
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(ctx=self.ctx),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)
            self._server = None


@pytest.fixture
async def server(ctx: Ctx) -> AsyncIterator[Server]:
    server = Server(ctx)
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


def make_bridge(ctx: Ctx, pbx: AriDouble, server: Server, journal: Path, **options: object) -> AriBridge:
    """As `tanggap ari` makes it (telephony/run.py): an HTTP desk, journaled by `AriBridge.from_settings`."""
    settings = ctx.settings.model_copy(
        update={
            "ari_url": pbx.url,
            "ari_user": pbx.user,
            "ari_password": SecretStr(pbx.password),
            "journal_dir": journal,
        }
    )
    desk = HttpDesk(server.url, server.token, attempts=2, timeout=2)
    bridge = AriBridge.from_settings(settings, desk, AriOptions(**{**FAST, **options}))  # type: ignore[arg-type]
    assert isinstance(bridge.desk, JournaledDesk)
    return bridge


def desk_legs(pbx: AriDouble) -> list[str]:
    return [c.id for c in pbx.channels.values() if c.name.startswith("PJSIP/taker1")]


def at(call: Call, field: str) -> float:
    value = getattr(call, field)
    assert value is not None, field
    return as_utc(value).timestamp()


async def test_a_call_that_came_and_went_while_the_server_was_down_reaches_the_record_from_a_restarted_bridge(
    ctx: Ctx, pbx: AriDouble, server: Server, tmp_path: Path
) -> None:
    journal = tmp_path / "journal"
    spool = Spool(journal, "bridge")
    first = make_bridge(ctx, pbx, server, journal)
    async with running(first, pbx):
        await asyncio.to_thread(server.stop)
        channel = await pbx.incoming_call("081234567890")
        assert channel is not None
        created = pbx.channels[channel].created
        await pbx.wait_for(lambda: pbx.holding(channel) and spool.pending() == 1, timeout=10)  # held and journaled
        hung_up = time.time()
        await pbx.caller_hangup(channel)
        await pbx.wait_for(lambda: spool.pending() == 2 and channel not in first.app.calls, timeout=10)
    written = spool.path.read_text()
    assert "081234567890" in written and call_on(ctx, channel) is None
    await asyncio.sleep(1.2)  # the bridge process is gone; the replay comes well after the call
    await asyncio.to_thread(server.start)
    back = time.time()
    second = make_bridge(ctx, pbx, server, journal)  # a new process: all it knows is on the disk
    async with running(second, pbx):
        await pbx.wait_for(lambda: status_of(ctx, channel) == "ended" and spool.pending() == 0, timeout=10)
    call = call_on(ctx, channel)
    assert call is not None and call.classification == "abandoned" and call.caller == "+6281234567890"
    assert abs(at(call, "offered_at") - created) < 0.01  # Asterisk's creation time, not the replay's
    assert abs(at(call, "ended_at") - hung_up) < 0.5 and at(call, "ended_at") < back - 0.5
    recorded = [t for t in event_types(ctx) if t in ("call.offered", "call.ended")]
    assert recorded == ["call.offered", "call.ended"]

    # Replayed again (a crash between applying the entries and forgetting them): nothing changes.
    spool.path.write_text(written)
    again = JournaledDesk(HttpDesk(server.url, server.token, stream=False), spool)
    try:
        assert await again.flush() == 2
    finally:
        await again.close()
    assert spool.pending() == 0
    replayed = call_on(ctx, channel)
    assert replayed is not None and (replayed.offered_at, replayed.ended_at) == (call.offered_at, call.ended_at)
    assert [t for t in event_types(ctx) if t.startswith("call.")] == ["call.offered", "call.ended"]


async def test_an_answer_recording_and_end_while_the_server_is_down_keep_their_order_and_times(
    ctx: Ctx, pbx: AriDouble, server: Server, tmp_path: Path, make_taker: Callable[..., int]
) -> None:
    spool = Spool(tmp_path, "bridge")
    taker = make_taker("taker1")
    pbx.endpoints["taker1"] = "ring"  # rings until the test picks it up
    bridge = make_bridge(ctx, pbx, server, tmp_path)
    async with running(bridge, pbx):
        channel = await pbx.incoming_call("081234567890")
        assert channel is not None
        await pbx.wait_for(lambda: desk_legs(pbx), timeout=10)  # the desk phone rings
        [desk_leg] = desk_legs(pbx)
        await asyncio.to_thread(server.stop)
        answered = time.time()
        await pbx.answer_taker(desk_leg)
        await pbx.wait_for(lambda: spool.pending() == 2, timeout=10)  # the answer and the recording
        await asyncio.sleep(0.3)
        hung_up = time.time()
        await pbx.caller_hangup(channel)
        await pbx.wait_for(lambda: spool.pending() == 3 and not bridge.app.calls, timeout=10)
        assert status_of(ctx, channel) == "offered"
        await asyncio.sleep(1.0)
        await asyncio.to_thread(server.start)  # the same bridge: its next lease renewal replays the journal
        back = time.time()
        await pbx.wait_for(lambda: status_of(ctx, channel) == "ended" and spool.pending() == 0, timeout=10)
    call = call_on(ctx, channel)
    assert call is not None and call.taker_id == taker and call.recording_ref
    assert call.classification is None  # answered: not abandoned, as an end replayed before its answer would be
    assert abs(at(call, "answered_at") - answered) < 0.5 and abs(at(call, "ended_at") - hung_up) < 0.5
    assert at(call, "answered_at") < at(call, "ended_at") < back - 0.5
    assert [t for t in event_types(ctx) if t in ("call.answered", "call.recording", "call.ended")] == [
        "call.answered",
        "call.recording",
        "call.ended",
    ]


async def test_an_end_that_reaches_the_server_first_waits_behind_the_answer_in_the_journal(
    ctx: Ctx, pbx: AriDouble, server: Server, tmp_path: Path, make_taker: Callable[..., int]
) -> None:
    """The server is back before anything replayed the journal (no lease renewals, no ACD poll here): the end,
    which the server would take, is journaled behind the answer, or the call would be recorded abandoned."""
    spool = Spool(tmp_path, "bridge")
    make_taker("taker1")
    pbx.endpoints["taker1"] = "ring"
    bridge = make_bridge(ctx, pbx, server, tmp_path, lease=False, acd_interval_s=30, acd_idle_s=30, record=False)
    async with running(bridge, pbx):
        channel = await pbx.incoming_call("081234567890")
        assert channel is not None
        await pbx.wait_for(lambda: desk_legs(pbx), timeout=10)
        await asyncio.to_thread(server.stop)
        await pbx.answer_taker(desk_legs(pbx)[0])
        await pbx.wait_for(lambda: spool.pending() == 1, timeout=10)
        await asyncio.to_thread(server.start)
        await pbx.caller_hangup(channel)
        await pbx.wait_for(lambda: status_of(ctx, channel) == "ended" and spool.pending() == 0, timeout=10)
    call = call_on(ctx, channel)
    assert call is not None and call.answered_at is not None and call.classification is None
    assert [t for t in event_types(ctx) if t in ("call.answered", "call.ended")] == ["call.answered", "call.ended"]


async def test_an_unwritable_journal_is_an_error_in_the_log_and_the_caller_is_still_held(
    ctx: Ctx, pbx: AriDouble, server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = tmp_path / "journal"
    journal.write_text("a file where the folder should be")  # as good as a full or read-only disk
    caplog.set_level(logging.WARNING)
    bridge = make_bridge(ctx, pbx, server, journal)
    async with running(bridge, pbx):
        await asyncio.to_thread(server.stop)
        channel = await pbx.incoming_call("081234567890")
        assert channel is not None
        await pbx.wait_for(lambda: pbx.holding(channel), timeout=10)
        await pbx.wait_for(
            lambda: any(r.name == "telephony.spool" and r.levelno == logging.ERROR for r in caplog.records)
        )
        hung_up = time.time()
        await pbx.caller_hangup(channel)
        await pbx.wait_for(lambda: bridge.app.calls[channel].ended, timeout=10)
        await bridge.app.drain()
        assert channel in bridge.app.calls  # not journaled: kept in memory, for the reconcile to retry
        await asyncio.to_thread(server.start)
        await bridge.app.reconcile()
        assert status_of(ctx, channel) == "ended" and channel not in bridge.app.calls
    assert not [r for r in caplog.records if r.exc_info]  # nothing raised into the call's handling
    call = call_on(ctx, channel)
    assert call is not None and abs(at(call, "ended_at") - hung_up) < 0.5  # the hang-up's time, kept in memory


async def test_an_entry_the_server_refuses_is_set_aside_and_the_rest_replayed(
    ctx: Ctx, server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Waiting on it would change nothing, and every call journaled after it would wait too."""
    spool = Spool(tmp_path, "bridge")
    ended = datetime.now(UTC).isoformat()
    spool.append({"step": "finish", "call_id": 987654, "cause": "caller hung up", "at": ended})  # no such call
    spool.append({"step": "offer", "channel_id": "1763.42", "caller": "081234567890", "offered_at": ended})
    desk = JournaledDesk(HttpDesk(server.url, server.token, stream=False), spool)
    try:
        assert await desk.flush() == 2
    finally:
        await desk.close()
    assert spool.pending() == 0 and status_of(ctx, "1763.42") == "offered"
    rejected = (tmp_path / "bridge.rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["call_id"] for line in rejected] == [987654]
    assert any("refused finish of call 987654" in r.getMessage() for r in caplog.records)
