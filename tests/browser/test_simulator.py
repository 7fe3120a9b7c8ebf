"""The demo's call simulator in a real Chromium (issue 23, finding 1): a supervisor rings a simulated call from
their page, a call-taker sees it ring, answers it and reads what the caller says."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from playwright.sync_api import expect

from dispatch.clock import utcnow
from tests.browser.conftest import Console, Server
from ui import scenarios
from ui.simulator import Simulator

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]


def quiet(server: Server) -> None:
    """End calls left ringing by earlier tests, so 'answer the next call' means this test's call."""
    with server.api("calltaker") as api:
        for call in api.get("/api/v1/calls", params={"active": True}).json():
            api.post(f"/api/v1/calls/{call['id']}/end")


@pytest.fixture
def simulator(server: Server) -> Iterator[Simulator]:
    """The server simulates calls from now on (as with TANGGAP_SIMULATE=true), on a clock that stands still: no
    call rings by itself, and its callers act when the test ticks."""
    start = utcnow()

    def clock() -> datetime:
        return start

    sim = Simulator(server.ctx, scenarios.load(), rng=random.Random(112), clock=clock)
    server.app.state.simulator = sim
    yield sim
    server.app.state.simulator = None


def test_a_supervisor_rings_a_simulated_call_and_a_call_taker_hears_the_caller(
    server: Server, simulator: Simulator, open_console: OpenConsole
) -> None:
    quiet(server)
    taker = open_console("calltaker")
    console = taker.login("/console")
    expect(console.locator("#answer-next")).to_be_visible()
    expect(console.locator("#sim-ring")).to_be_hidden()  # a call-taker takes calls, does not make them

    boss = open_console("supervisor")
    page = boss.login("/supervisor")
    ring = page.locator("#sim-ring")
    expect(ring).to_be_visible()
    expect(page.locator("#sim-ring-button")).to_have_text("Dering panggilan simulasi")
    page.select_option("#sim-kind", "emergency")
    boss.shot("simulator-supervisor-ring")
    page.click("#sim-ring-button")
    expect(page.locator(".toast-ok")).to_contain_text("berdering")
    (caller,) = simulator.on_line()
    assert caller.draw.scenario.kind == "emergency"

    ringing = console.locator(f"#call-queue li.call-offered[data-id='{caller.call_id}']")
    expect(ringing).to_be_visible()
    taker.shot("simulator-call-ringing")
    expect(console.locator("#call-words")).to_be_hidden()  # nothing heard before the answer

    console.locator("#answer-next").click()
    expect(console.locator("#call-status")).to_have_class("chip st-answered")
    simulator.tick()  # the caller hears the call-taker and speaks
    words = console.locator("#call-words")
    expect(words).to_be_visible()
    expect(words.locator("figcaption")).to_have_text("Kata penelepon")
    expect(console.locator("#call-words-lines")).to_have_text(caller.draw.words)
    assert caller.draw.place.name in caller.draw.words
    taker.shot("simulator-caller-words")

    console.reload()  # the words come back with the call, not only with the live event
    console.locator("#conn.conn-live").wait_for(timeout=15000)
    console.locator(f"#call-queue li[data-id='{caller.call_id}']").click()
    expect(console.locator("#call-words-lines")).to_have_text(caller.draw.words)
    assert taker.real_errors() == [] and boss.real_errors() == []
