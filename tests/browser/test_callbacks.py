"""Callbacks from the console in a real Chromium (issue 23, the call-taker's finding): abandoned calls stay on the
call-taker's screen as a callback list; a button or `B` places the callback (by hand here, the server knowing no
PBX, or through Twilio when it can place calls) and the outcome is recorded from the same panel."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from dispatch.calls import callbacks
from tests.browser.conftest import Console, Server

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]


def abandoned(server: Server, number: str) -> int:
    """A caller who hung up before anybody answered."""
    with server.api("calltaker") as api:
        call = api.post("/api/v1/calls", json={"caller": number}).json()
        api.post(f"/api/v1/calls/{call['id']}/end").raise_for_status()
    return int(call["id"])


def attempts(server: Server, call_id: int) -> list[callbacks.Callback]:
    with server.ctx.sessions() as session:
        return list(callbacks.for_call(session=session, call_id=call_id))


def test_an_abandoned_caller_is_called_back_by_hand_and_the_outcome_recorded(
    server: Server, open_console: OpenConsole
) -> None:
    call_id = abandoned(server, "0812-7777-1212")
    taker = open_console("calltaker")
    page = taker.login("/console")
    row = page.locator(f"#callback-list li[data-call='{call_id}']")
    expect(row).to_contain_text("0812-7777-1212")  # the full number: the call-taker dials it
    expect(page.locator("#keys-intake")).to_contain_text("Panggil balik penelepon terputus terbaru")
    taker.shot("callbacks-list")
    row.locator("button.cb-place").click()
    panel = page.locator("#callback-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("hubungi manual nomor 0812-7777-1212")
    page.fill("#cb-note", "Salah pencet, penelepon aman")
    taker.shot("callbacks-by-hand")
    panel.locator("button.cb-out-reached").click()
    expect(panel).to_be_hidden()
    expect(row).to_have_count(0)  # called back: off the list
    (attempt,) = attempts(server, call_id)
    assert (attempt.route, attempt.outcome, attempt.note) == ("none", "reached", "Salah pencet, penelepon aman")
    assert not taker.real_errors()


def test_b_calls_back_through_twilio_and_the_panel_follows_the_phones(
    server: Server, open_console: OpenConsole
) -> None:
    placed: list[str] = []

    def place(to: str, from_: str, twiml: str, status_callback: str | None) -> str:
        placed.append(to)
        return "CAbrowser0000000000000000000000000"

    server.app.state.callback_place = place  # the server can place calls (Twilio, at the network edge)
    try:
        taker = open_console("calltaker")
        page = taker.login("/console")
        call_id = abandoned(server, "0813-1212-3434")
        row = page.locator(f"#callback-list li[data-call='{call_id}']")
        expect(row).to_be_visible()
        page.locator("body").press("b")  # the newest abandoned caller
        panel = page.locator("#callback-panel")
        expect(panel).to_contain_text("Lewat Twilio")
        expect(page.locator("#cb-state")).to_have_text("Berdering")
        assert placed == ["client:calltaker"]
        (attempt,) = attempts(server, call_id)
        with server.ctx.sessions() as session:  # the caller picks up: Twilio's <Dial> action says so
            callbacks.advance(session=session, callback_id=attempt.id, state="answered", actor="twilio")
        expect(page.locator("#cb-state")).to_have_text("Tersambung")
        taker.shot("callbacks-twilio-connected")
        panel.locator("button.cb-out-voicemail").click()
        expect(row).to_have_count(0)
        assert attempts(server, call_id)[0].outcome == "voicemail"
        assert not taker.real_errors()
    finally:
        server.app.state.callback_place = None
