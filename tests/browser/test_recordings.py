"""A supervisor listens back to a conversation: a call through the Asterisk double and the bridge, recorded by
the PBX, played in the supervisor's Chromium through the server (which fetches it from ARI)."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from dispatch.calls.models import Call
from dispatch.users import service as users
from dispatch.users.models import User
from tests.browser.conftest import Console, Server, browser_ready, start
from tests.conftest import database
from tests.doubles.ari_server import AriDouble
from tests.servers import free_port

pytestmark = pytest.mark.browser
T = TypeVar("T")


class Pbx:
    """The ARI double on an event loop of its own thread: sync Playwright holds the main thread's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ari-double", daemon=True)
        self.thread.start()
        self.double = self.run(AriDouble().start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.run(self.double.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def until(check: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


@pytest.fixture(scope="module")
def pbx_server(browser_database: str) -> Iterator[tuple[Pbx, Server]]:
    """Its own server (with the ARI double and an in-server bridge) on the package's database kind: the
    package's server shares the database, so this one gets a database of its own below."""
    browser_ready()
    pbx = Pbx()
    ari = pbx.double
    kind = "postgresql" if browser_database.startswith("postgresql") else "sqlite"
    try:
        with (
            database(kind, Path(tempfile.mkdtemp(prefix="recordings-"))) as url,
            start(
                url,
                ari_url=ari.url,
                ari_bridge=True,
                ari_user=ari.user,
                ari_password=ari.password,
                agi_port=free_port(),
            ) as server,
        ):
            until(lambda: ari.app_connected)
            yield pbx, server
    finally:
        pbx.stop()


def recorded_call(pbx: Pbx, server: Server, caller: str) -> Call:
    """A caller through the bridge to the ready desk taker1, then hanging up; the PBX has stored the sound."""
    ari = pbx.double
    channel = pbx.run(ari.incoming_call(caller))
    assert channel is not None

    def call() -> Call | None:
        with server.ctx.sessions() as session:
            return session.scalar(select(Call).where(Call.channel_id == channel))

    until(lambda: (found := call()) is not None and found.recording_ref)
    pbx.run(ari.caller_hangup(channel))
    done = until(lambda: (found := call()) is not None and found.status == "ended" and found)
    until(lambda: done.recording_ref in ari.stored)
    return done


def ready(server: Server, user_id: int) -> bool:
    with server.ctx.sessions() as session:
        user = session.get(User, user_id)
        return bool(user and user.available)


def test_supervisor_plays_a_recorded_conversation(pbx_server: tuple[Pbx, Server], browser: Browser) -> None:
    pbx, server = pbx_server
    with server.ctx.sessions() as session:
        taker = users.create(
            session=session, username="taker1", password="rahasia-112", role="call_taker", sip_endpoint="taker1"
        )
        users.set_available(session=session, user=taker, available=True)
    kept = recorded_call(pbx, server, "081234567890")
    until(lambda: ready(server, taker.id))  # taker1 is ready again once the call has ended
    gone = recorded_call(pbx, server, "081355556666")
    del pbx.double.stored[gone.recording_ref or ""]  # the PBX has cleaned up its old recordings

    supervisor = Console(browser, server, "supervisor", {"width": 1600, "height": 1600})
    try:
        page = supervisor.login("/supervisor")
        rows = page.locator("#table-recordings tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.first).to_have_attribute("data-call", str(gone.id))  # newest first
        row = page.locator(f'#table-recordings tr[data-call="{kept.id}"]')
        expect(row).to_contain_text("0812-3456-7890")
        expect(row).to_contain_text("taker1")
        row.locator("button.play").click()
        audio = row.locator(f'audio[data-call="{kept.id}"]')
        expect(audio).to_be_attached()
        page.wait_for_function("(a) => a.readyState >= 1 && a.duration > 0", arg=audio.element_handle())
        stored = pbx.double.stored[kept.recording_ref or ""]  # 8 kHz 16-bit mono, as long as the conversation
        assert len(stored) > 44 and abs(audio.evaluate("(a) => a.duration") - (len(stored) - 44) / 16000) < 0.01

        page.locator(f'#table-recordings tr[data-call="{gone.id}"] button.play').click()
        expect(page.locator(".toast-error")).to_contain_text(f"#{gone.id} tidak dapat diputar")
        expect(page.locator(".toast-error")).to_contain_text("no longer on the PBX")
        expect(page.locator(f'#table-recordings tr[data-call="{gone.id}"] button.play')).to_be_enabled()
        page.locator("#table-recordings").scroll_into_view_if_needed()
        supervisor.shot("17-supervisor-recordings")
        assert supervisor.real_errors() == []
    finally:
        supervisor.close()
