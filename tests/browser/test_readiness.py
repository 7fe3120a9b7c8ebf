"""A call-taker says they are ready for the queue, and sees live what the queue did with their desk phone: it rang,
it answered busy (not ready for a pause), it is free again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Route, expect

from dispatch.calls import intake, queue
from dispatch.calls import service as calls
from dispatch.users.models import User
from tests.browser.conftest import DESKTOP, Console, Server

pytestmark = pytest.mark.browser
OpenConsole = Callable[..., Console]
AVAILABILITY = "**/api/v1/me/availability"


def available(server: Server, user_id: int) -> bool:
    with server.ctx.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.available


def until(check: Callable[[], object], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def taker_id(server: Server) -> Iterator[int]:
    """The test call-taker, not ready, with a desk phone (the queue rings only a taker with one); as before after."""
    with server.api("calltaker") as api:
        me = api.get("/api/v1/auth/me").json()
        api.post("/api/v1/me/availability", json={"available": False}).raise_for_status()
    with server.ctx.sessions() as session:
        user = session.get(User, me["id"])
        assert user is not None
        user.sip_endpoint = "calltaker"
        session.commit()
    yield int(me["id"])
    with server.ctx.sessions() as session:
        user = session.get(User, me["id"])
        assert user is not None
        user.sip_endpoint, user.available = None, False
        session.commit()


def one_line(header: Locator) -> bool:
    box = header.bounding_box()
    return box is not None and box["height"] < 50


def ring_first(server: Server) -> int:
    """A caller waiting at the head of the queue (ahead of any call an earlier test left waiting: the queue is first
    come, first served across providers), and the queue ringing the ready call-taker's desk for it."""
    with server.ctx.sessions() as session:
        waiting = [c.offered_at for c in calls.waiting(session=session)]
        at = min(waiting) - timedelta(seconds=1) if waiting else None
        call = calls.offer(session=session, caller="081277001122", provider="asterisk", channel_id="ready-1", at=at)
        [match] = queue.claim(session=session, provider="asterisk", actor="asterisk")
        assert match.call_id == call.id
        return call.id


def test_call_taker_sets_ready_and_sees_the_desk_phone_busy_then_free(
    server: Server, open_console: OpenConsole, taker_id: int
) -> None:
    taker = open_console("calltaker")
    page = taker.login("/console")
    header = page.locator("header.topbar")
    toggle = page.locator("#ready-toggle")
    notice = page.locator("#ready-notice")
    expect(toggle).to_have_text("Tidak siap", use_inner_text=True)
    expect(toggle).to_have_attribute("aria-label", "Tidak siap — tekan untuk siap menerima panggilan dari antrean")
    expect(page.locator("#keys-intake")).to_contain_text("siap / tidak siap menerima panggilan")

    toggle.click()
    expect(toggle).to_have_attribute("data-available", "true")
    expect(toggle).to_have_attribute(
        "aria-label", "Siap menerima panggilan — tekan untuk berhenti menerima panggilan dari antrean"
    )
    expect(toggle).to_have_text("Siap", use_inner_text=True)  # in one word, so that the header stays one line
    assert one_line(header)
    page.set_viewport_size({"width": 1920, "height": 1080})
    expect(toggle).to_have_text("Siap menerima panggilan", use_inner_text=True)
    assert one_line(header)
    page.set_viewport_size(DESKTOP)
    with server.api("calltaker") as api:
        assert api.get("/api/v1/auth/me").json()["available"] is True
    assert available(server, taker_id)

    # The queue rings the desk; the desk answers busy (a call on that phone outside the queue): the caller goes
    # back to the queue, the call-taker is not ready for a pause. As the ARI bridge does it.
    call_id = ring_first(server)
    expect(notice).to_have_text("Telepon meja berdering")
    expect(toggle).to_have_text("Tidak siap", use_inner_text=True)
    with server.ctx.sessions() as session:
        queue.requeue(
            session=session,
            call_id=call_id,
            taker_id=taker_id,
            reason="desk_busy",
            taker_available=False,
            actor="asterisk",
        )
    expect(notice).to_have_text("Telepon meja sibuk — dicoba lagi sebentar lagi")
    expect(notice).to_have_class("ready-notice notice-warn")
    expect(toggle).to_have_text("Tidak siap", use_inner_text=True)
    expect(toggle).to_have_attribute("data-available", "false")
    expect(page.locator(f"#call-queue [data-id='{call_id}']")).to_be_visible()
    assert one_line(header)  # the notice hangs under the header, which does not grow
    taker.shot("19-calltaker-desk-busy")

    with server.ctx.sessions() as session:
        assert queue.ready_after_busy(session=session, taker_id=taker_id, actor="asterisk")
    expect(notice).to_have_text("Siap lagi")
    expect(toggle).to_have_text("Siap", use_inner_text=True)
    expect(toggle).to_have_attribute("data-available", "true")
    assert available(server, taker_id)
    expect(notice).to_be_empty(timeout=8000)  # "ready again" fades

    # The call-taker's own "not ready", by its key; the call is not left waiting for the next test.
    page.locator("#call-queue").click()  # focus on the page, not in a field
    page.keyboard.press("s")
    expect(toggle).to_have_text("Tidak siap", use_inner_text=True)
    until(lambda: not available(server, taker_id))
    with server.ctx.sessions() as session:
        intake.finish(session=session, call_id=call_id, actor="asterisk", cause="caller")

    # Refused (the network, then the server): the server's word, and the control as it was.
    page.route(AVAILABILITY, lambda route: route.abort())
    toggle.click()
    expect(page.locator(".toast-error")).to_contain_text("Status siap tidak dapat diubah: Tidak ada koneksi ke server")
    page.unroute(AVAILABILITY)

    def refuse(route: Route) -> None:
        route.fulfill(status=409, json={"error": "status sedang diubah di konsol lain", "kind": "Conflict"})

    page.route(AVAILABILITY, refuse)
    toggle.click()
    expect(page.locator(".toast-error").last).to_contain_text("status sedang diubah di konsol lain")
    expect(toggle).to_have_text("Tidak siap", use_inner_text=True)
    expect(toggle).to_have_attribute("data-available", "false")
    assert not available(server, taker_id)
    assert taker.real_errors() == []
