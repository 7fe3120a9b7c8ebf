"""Disaster mode in a real Chromium (issue 25): a supervisor declares a major incident on their page, a call-taker
files the call on screen under it with one key ("terkait", F9 from the notes field), with the AML place and the
needs typed, and a dispatcher sees the report on their panel and counts its casualties by triage colour."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DESKTOP, Console, Server, browser_ready, start
from tests.browser.test_console import offer, quiet, send_aml

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]
PASAR_RAYA = (-0.947256, 100.359696)  # Padang Barat


@pytest.fixture
def stand_down(server: Server) -> Iterator[None]:
    """The server is shared by the package's browser tests: no major incident outlives this one."""
    yield
    with server.api("supervisor") as api:
        active = api.get("/api/v1/major/active").json()["major"]
        if active:
            api.post(f"/api/v1/major/{active['id']}/stand-down").raise_for_status()


def test_declare_file_terkait_with_one_key_and_the_dispatcher_counts_casualties(
    server: Server, open_console: OpenConsole, stand_down: None
) -> None:
    quiet(server)
    supervisor = open_console("supervisor")
    sup = supervisor.login("/supervisor")
    # Folded on an ordinary day (test_the_section_stays_folded_on_an_ordinary_day); this server has taken other
    # tests' calls, which may make a burst proposal and so unfold it.
    form = sup.locator("#major-declare")
    expect(form).to_have_count(1, timeout=10000)
    if sup.locator("#major-fold").count():
        sup.locator("#major-fold summary").click()
    expect(form).to_be_visible()
    sup.fill("#major-name", "Gempa Padang M7,2")
    sup.select_option("#major-type", "earthquake")
    sup.select_option("#major-area", ["13.71.03", "13.71.11"])
    form.locator("button[type=submit]").click()
    expect(sup.locator("#major-active")).to_contain_text("INSIDEN BESAR: Gempa Padang M7,2", timeout=10000)
    expect(sup.locator("main.dash > section").first).to_have_attribute("id", "major-panel")  # now on top
    expect(sup.locator("#major-surge")).to_contain_text("Panggilan 1 jam terakhir")
    supervisor.shot("major-01-supervisor-declared")

    taker = open_console("calltaker")
    page = taker.login("/console")
    expect(page.locator("#major-banner")).to_contain_text("INSIDEN BESAR: Gempa Padang M7,2", timeout=10000)
    expect(page.locator("#keys-intake")).to_contain_text("lapor terkait insiden besar")
    caller = "0813 2525 0909"
    call = offer(server, caller)
    expect(page.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("a")
    expect(page.locator("#call-status")).to_have_text("Dijawab", timeout=5000)
    send_aml(server, caller, *PASAR_RAYA)
    page.keyboard.press("1")  # an emergency: the form opens (no type chosen: the major incident's is taken)
    expect(page.locator("#aml-box")).to_contain_text("±18 m", timeout=5000)
    page.keyboard.press("F4")  # take the handset's fix as the place; the notes field has the focus then
    expect(page.locator("#loc-chosen")).to_contain_text("AML", timeout=5000)
    expect(page.locator("#notes")).to_be_focused()
    page.keyboard.type("Ruko runtuh, 3 orang terjebak, butuh alat berat")
    taker.shot("major-02-calltaker-before-terkait")
    page.keyboard.press("F9")  # terkait, from inside the notes field
    filed = page.locator("#major-filed")
    expect(filed).to_contain_text("terkait Gempa Padang M7,2", timeout=5000)
    report_id = int(filed.get_attribute("data-id") or 0)
    expect(page.locator("#major-kecamatan")).to_contain_text("Padang Barat", timeout=5000)
    taker.shot("major-03-calltaker-filed")

    with server.api("dispatcher") as api:
        report = api.get(f"/api/v1/incidents/{report_id}").json()
    assert (report["type_code"], report["kecamatan"], report["location_source"]) == (
        "earthquake", "Padang Barat", "aml",
    )  # fmt: skip
    assert report["notes"] == "Ruko runtuh, 3 orang terjebak, butuh alat berat"
    assert report["major_id"] and [c["id"] for c in report["calls"]] == [call["id"]]

    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    site = desk.locator(f"#major-sites li[data-id='{report_id}']")
    expect(site).to_contain_text("Padang Barat", timeout=10000)
    site.locator("input.tr-merah").fill("3")
    site.locator("input.tr-hijau").fill("7")
    site.locator("button.triage-save").click()
    expect(desk.locator("#major-dispatch .chip.tr-merah")).to_contain_text("Merah 3", timeout=5000)
    expect(desk.locator("#major-agencies")).to_be_visible()
    with server.api("dispatcher") as api:
        board = api.get(f"/api/v1/major/{report['major_id']}/board").json()
    assert board["triage"] == {"merah": 3, "kuning": 0, "hijau": 7, "hitam": 0}
    assert desk.locator("#map").get_attribute("data-shelters") == "7"
    dispatcher.shot("major-04-dispatcher-board")

    sup.locator("#major-stand-down").click()
    expect(sup.locator("#major-active")).to_have_count(0, timeout=10000)
    expect(sup.locator("#major-declare")).to_have_count(1)
    expect(page.locator("#major-banner")).to_be_hidden(timeout=10000)
    assert not (taker.real_errors() or dispatcher.real_errors() or supervisor.real_errors())


@pytest.fixture
def quiet_server(database_url: str) -> Iterator[Server]:
    """A server of its own that has taken no call: no burst proposal, no alert."""
    browser_ready()
    with start(database_url) as running:
        yield running


def test_the_section_stays_folded_on_an_ordinary_day(browser: Browser, quiet_server: Server) -> None:
    """Nothing active, proposed or alerted: one folded line at the page's end, the day's figures on top; a
    declaration brings it to the top, in view; standing down folds it again."""
    supervisor = Console(browser, quiet_server, "supervisor", DESKTOP)
    with contextlib.closing(supervisor):
        sup = supervisor.login("/supervisor")
        last = sup.locator("main.dash > section").last
        expect(sup.locator("#major-fold")).to_be_visible(timeout=10000)
        expect(last).to_have_attribute("id", "major-panel")
        expect(sup.locator("#major-declare")).to_be_hidden()
        with quiet_server.api("supervisor") as api:
            major = api.post("/api/v1/major", json={"name": "Banjir Kuranji", "type_code": "flood"}).json()
        expect(sup.locator("#major-active")).to_contain_text("Banjir Kuranji", timeout=15000)
        expect(sup.locator("main.dash > section").first).to_have_attribute("id", "major-panel")
        with quiet_server.api("supervisor") as api:
            api.post(f"/api/v1/major/{major['id']}/stand-down").raise_for_status()
        expect(sup.locator("#major-fold")).to_be_visible(timeout=15000)
        expect(last).to_have_attribute("id", "major-panel")
