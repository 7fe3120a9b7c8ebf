"""Where is the caller: a location link in a real Chromium. The call-taker presses G, the link is shown to read
out; the caller's phone (another browser, geolocation allowed, a fixed position) opens it and the console shows
the position with its accuracy circle, live, and again when the caller moves. The crew's phone shows how sure
an incident's point is as a circle too."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Geolocation, Page, expect

from tests.browser.conftest import PHONE, RESPONDER_UNIT, Console, Server
from tests.browser.test_console import no_errors, quiet
from tests.browser.test_responder import free

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]
CALLER_AT: Geolocation = {"latitude": -0.9471, "longitude": 100.4172, "accuracy": 40}  # Limau Manis, Pauh
MOVED_TO: Geolocation = {"latitude": -0.9449, "longitude": 100.4190, "accuracy": 12}  # ~300 m away


def link_circles(page: Page) -> list[dict[str, Any]]:
    """The accuracy circles the console's map draws around a caller's reported position (a canvas: read from
    Leaflet's layers)."""
    return list(
        page.evaluate(
            """() => { const found = [];
                window.tanggapMap.pick.eachLayer((l) => { if (l instanceof window.L.Circle) {
                  const at = l.getLatLng(); found.push({lat: at.lat, lon: at.lng, radius: l.getRadius()}); } });
                return found; }"""
        )
    )


def test_the_caller_opens_the_link_and_the_console_shows_where_with_its_circle(
    server: Server, open_console: OpenConsole
) -> None:
    quiet(server)
    server.app.state.sms_send = None  # no Twilio: the call-taker reads the link out
    taker = open_console("calltaker")
    desk = taker.login("/console")
    with server.api("calltaker") as api:
        call = api.post("/api/v1/calls", json={"caller": "0812 6633 4411"}).json()
    expect(desk.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)
    expect(desk.locator("#keys-intake")).to_contain_text("minta lokasi lewat tautan")
    desk.keyboard.press("a")
    expect(desk.locator("#call-status")).to_have_text("Dijawab", timeout=5000)
    desk.keyboard.press("g")
    box = desk.locator("#link-box")
    expect(box).to_contain_text("Bacakan tautan ini", timeout=5000)
    expect(box).to_contain_text("Menunggu penelepon")
    spoken = desk.locator("#link-url").inner_text()
    assert re.fullmatch(rf"{re.escape(server.url)}/l/([a-z2-7]{{4}}-){{6}}[a-z2-7]{{2}}", spoken), spoken
    taker.shot("24-calltaker-location-link")

    # The caller's phone: no login, the link as read out (dashes and all), the position allowed.
    caller = open_console("caller", PHONE, geolocation=CALLER_AT)
    phone = caller.page
    answer = phone.goto(spoken)
    assert answer is not None and answer.status == 200
    expect(phone.locator("#status")).to_contain_text("Lokasi terkirim (±40 m", timeout=10000)
    assert "0812" not in phone.content() and "6633" not in phone.content()

    # Live on the console: the position, its accuracy, and a circle as wide as it on the map.
    expect(box.locator("#link-fix")).to_contain_text("±40 m", timeout=5000)
    desk.wait_for_function("() => window.tanggapMap.pick.getLayers().length > 0", timeout=5000)
    circles = link_circles(desk)
    assert [(round(c["lat"], 4), round(c["lon"], 4), c["radius"]) for c in circles] == [(-0.9471, 100.4172, 40)]
    taker.shot("25-calltaker-link-location-on-map")

    # The caller writes a note; the call-taker reads it on the call.
    phone.fill("#note", "Rumah pagar hijau, lantai 2")
    phone.locator("#send-note").click()
    expect(phone.locator("#note-status")).to_contain_text("Pesan terkirim")
    expect(desk.locator("#call-messages")).to_contain_text("Rumah pagar hijau, lantai 2", timeout=5000)
    phone.locator("#lang").click()
    expect(phone.locator("h1")).to_have_text("Send your location to 112")
    expect(phone.locator("#status")).to_contain_text("Location sent (±40 m")
    caller.shot("26-caller-location-page")

    # The caller moves: the page sends the new position (after the server's 5 s between positions).
    caller.context.set_geolocation(MOVED_TO)
    expect(box.locator("#link-fix")).to_contain_text("±12 m", timeout=15000)
    desk.wait_for_function(
        "() => window.tanggapMap.pick.getLayers().some((l) => l instanceof window.L.Circle && l.getRadius() === 12)",
        timeout=5000,
    )
    with server.api("calltaker") as api:
        found = api.get(f"/api/v1/calls/{call['id']}").json()["locations"]
    assert [(x["source"], x["accuracy_m"]) for x in found] == [("link", 40.0), ("link", 12.0)]

    # Said as the link's, not as AML, and kept as the link's when the call-taker takes it (F4).
    expect(desk.locator("#aml-box")).to_contain_text("Lokasi dari tautan diterima")
    desk.keyboard.press("F4")
    expect(desk.locator("#loc-chosen .chip")).to_have_text("Tautan lokasi")
    expect(desk.locator("#loc-chosen")).to_contain_text("±12 m")
    no_errors(taker, caller)


def test_a_bad_link_gets_a_plain_page(server: Server, open_console: OpenConsole) -> None:
    caller = open_console("caller", PHONE)
    answer = caller.page.goto(f"{server.url}/l/aaaa-bbbb-cccc-dddd-eeee-ffff-gg")
    assert answer is not None and answer.status == 404
    expect(caller.page.locator("h1")).to_have_text("Tautan lokasi tidak dikenal")
    caller.shot("27-caller-location-link-unknown")


def test_the_crew_sees_how_sure_the_incidents_point_is(server: Server, open_console: OpenConsole) -> None:
    free(server, RESPONDER_UNIT)
    near: Geolocation = {"latitude": -0.9280, "longitude": 100.3575, "accuracy": 10}  # ~250 m from the point
    responder = open_console("responder", PHONE, geolocation=near)
    phone = responder.login("/responder")
    phone.locator("#duty").check()
    expect(phone.locator("#gps-status")).to_contain_text("GPS ±10 m", timeout=5000)
    with server.api("calltaker") as api:
        incident = api.post(
            "/api/v1/incidents",
            json={"type_code": "fire_house", "lat": -0.9262, "lon": 100.3560, "location_source": "caller",
                  "location_accuracy_m": 400, "address": "sekitar Pasar Raya"},
        ).json()  # fmt: skip
    with server.api("dispatcher") as api:
        unit = server.unit_id(RESPONDER_UNIT)
        api.post(f"/api/v1/incidents/{incident['id']}/assignments", json={"unit_id": unit}).raise_for_status()
    sketch = phone.locator("#current figure.uncertain")
    expect(sketch).to_be_visible(timeout=5000)
    expect(sketch).to_have_attribute("data-radius", "400")
    expect(sketch).to_contain_text("radius 400 m")
    expect(sketch.locator("circle.circle")).to_have_count(1)
    expect(sketch.locator("circle.you")).to_have_count(1)  # the crew, inside the sketch
    responder.shot("28-responder-uncertain-location")
    free(server, RESPONDER_UNIT)
    no_errors(responder)
