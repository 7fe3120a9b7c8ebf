"""Public alerts on the console: a CAP alert for the region raises a banner and draws its area on the map, live;
one outside the region raises nothing; an exercise is marked LATIHAN; an alert without an area waits for a
supervisor, who confirms it on their page; a Cancel takes the banner down."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import DESKTOP, Console, Server, browser_ready, start
from tests.cap_samples import fresh

pytestmark = pytest.mark.browser


@pytest.fixture
def alert_server(database_url: str) -> Iterator[Server]:
    """A server of its own: the alerts posted here must not show on the other browser tests' consoles."""
    browser_ready()
    with start(database_url) as running:
        yield running


def post(server: Server, name: str) -> dict[str, object]:
    with server.api("supervisor") as api:
        answer = api.post("/api/v1/alerts/cap", content=fresh(name), headers={"content-type": "application/xml"})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_alert_banner_and_area_on_the_map(browser: Browser, alert_server: Server) -> None:
    taker = Console(browser, alert_server, "calltaker", DESKTOP)
    supervisor = Console(browser, alert_server, "supervisor", DESKTOP)
    with contextlib.closing(taker), contextlib.closing(supervisor):
        page = taker.login("/console")
        banner, lines = page.locator("#alert-banner"), page.locator("#alert-banner .alert-line")
        expect(banner).to_be_hidden()

        post(alert_server, "bmkg_gempa_padang.xml")  # a 150 km circle around a point at sea off Padang
        expect(lines).to_have_count(1, timeout=10000)
        expect(banner).to_be_visible()
        expect(lines.first).to_contain_text("Peringatan dini")
        expect(lines.first).to_contain_text("Gempa Mag:6.2")
        expect(lines.first).to_contain_text("Pusat gempa berada di laut")
        expect(page.locator("#map")).to_have_attribute("data-alert-areas", "1")

        post(alert_server, "bmkg_cuaca_jatim.xml")  # Surabaya: kept, raises nothing here
        post(alert_server, "inatews_latihan_tsunami.xml")  # no area: waits for a supervisor
        expect(page.locator("#alert-banner .alert-line[data-identifier='CJI20240415007']")).to_have_count(0)
        expect(lines).to_have_count(1)

        sup = supervisor.login("/supervisor")
        waiting = sup.locator("#table-alerts tr[data-identifier='INATEWS-EXERCISE-20241126-01']")
        expect(waiting).to_contain_text("menunggu konfirmasi")
        expect(sup.locator("#table-alerts tr[data-identifier='CJI20240415007']")).to_contain_text("Di luar wilayah")
        waiting.locator("button.confirm-alert").click()
        expect(waiting).to_contain_text("seluruh wilayah", timeout=10000)
        supervisor.shot("alerts-supervisor")

        exercise = page.locator("#alert-banner .alert-line.exercise")
        expect(exercise).to_have_count(1, timeout=10000)
        expect(exercise).to_contain_text("LATIHAN")
        expect(exercise).to_contain_text("seluruh wilayah")
        page.locator("#alert-banner .alert-line[data-identifier='20240415143022'] .alert-show").click()
        taker.shot("alerts-console-banner-and-area")

        post(alert_server, "bmkg_cuaca_padang.xml")  # a polygon over Koto Tangah: a second area on the map
        expect(lines).to_have_count(3, timeout=10000)
        expect(page.locator("#map")).to_have_attribute("data-alert-areas", "2")
        post(alert_server, "bmkg_cuaca_padang_update.xml")  # acts on it: still one line, one area
        expect(lines.filter(has_text="meluas")).to_have_count(1, timeout=10000)
        expect(lines).to_have_count(3)
        post(alert_server, "bmkg_cuaca_padang_cancel.xml")  # references the Update
        expect(lines).to_have_count(2, timeout=10000)
        expect(page.locator("#map")).to_have_attribute("data-alert-areas", "1")

        page.locator("#lang").click()  # English with the alert's own English headline
        expect(lines.filter(has_text="Earthquake Mag:6.2")).to_have_count(1)
        expect(exercise).to_contain_text("EXERCISE")
        assert taker.real_errors() == [] and supervisor.real_errors() == []
