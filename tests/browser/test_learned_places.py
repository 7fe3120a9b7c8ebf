"""The supervisor's learned places: what call-takers typed for two closed incidents is listed with its uses,
found by the call-taker's location search, renamed, removed (and then no longer found) and brought back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Dialog, expect

from tests.browser.conftest import DESKTOP, Console, Server, browser_ready, start

pytestmark = pytest.mark.browser

WARUNG = (-0.9301, 100.3547)  # a corner of Padang Barat that no register or landmark names


@pytest.fixture
def places_server(database_url: str) -> Iterator[Server]:
    """A server of its own: the places learned here must not show in the other browser tests' searches."""
    browser_ready()
    with start(database_url) as running:
        yield running


def close_at(server: Server, address: str, lat: float) -> None:
    with server.api("dispatcher") as api:
        body = {"type_code": "fire_house", "lat": lat, "lon": WARUNG[1], "address": address}
        incident = api.post("/api/v1/incidents", json=body)
        assert incident.status_code == 201, incident.text
        closed = api.post(f"/api/v1/incidents/{incident.json()['id']}/close", json={"closure": "selesai"})
        assert closed.status_code == 200, closed.text


def search(server: Server, query: str) -> list[str]:
    with server.api("calltaker") as api:
        return [p["name"] for p in api.get("/api/v1/geo/search", params={"q": query}).json()]


def test_the_supervisor_corrects_and_removes_a_learned_place(browser: Browser, places_server: Server) -> None:
    close_at(places_server, "Simpang Warung Pak Udin, Jl. Veteran No. 12", WARUNG[0])
    close_at(places_server, "Simpang Warung Pak Udin", WARUNG[0] + 0.0005)
    assert "Simpang Warung Pak Udin" in search(places_server, "warung pak udin")

    supervisor = Console(browser, places_server, "supervisor", DESKTOP)
    with contextlib.closing(supervisor):
        page = supervisor.login("/supervisor")
        row = page.locator("#table-places tr", has_text="Simpang Warung Pak Udin")
        expect(row).to_contain_text("Padang Barat", timeout=10000)
        expect(row.locator("td.num")).to_have_text("2")
        supervisor.shot("places-01-supervisor-learned")

        answers = iter(["Simpang Warung Udin"])

        def on_dialog(dialog: Dialog) -> None:
            if dialog.type == "prompt":
                dialog.accept(next(answers))
            else:
                dialog.accept()

        page.on("dialog", on_dialog)
        row.get_by_role("button", name="Ubah nama").click()
        renamed = page.locator("#table-places tr", has_text="Simpang Warung Udin")
        expect(renamed).to_be_visible(timeout=5000)
        assert "Simpang Warung Udin" in search(places_server, "warung udin")

        renamed.get_by_role("button", name="Hapus").click()
        expect(renamed).to_have_count(0, timeout=5000)
        assert "Simpang Warung Udin" not in search(places_server, "warung udin")

        page.locator("#places-hidden").check()
        hidden = page.locator("#table-places tr", has_text="Simpang Warung Udin")
        hidden.get_by_role("button", name="Pulihkan").click()
        expect(hidden).to_have_count(0, timeout=5000)  # the list redrawn (a click during its reflow can miss)
        page.locator("#places-hidden").uncheck()
        expect(page.locator("#table-places tr", has_text="Simpang Warung Udin")).to_be_visible(timeout=5000)
        assert "Simpang Warung Udin" in search(places_server, "warung udin")
        supervisor.shot("places-02-supervisor-restored")
