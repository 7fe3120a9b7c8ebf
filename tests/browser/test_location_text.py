"""The location field in a real Chromium: a caller's WhatsApp link or read-out coordinates pasted in, picked and
placed like a place; text that is no location says so, with the forms that work."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Console, Server
from tests.browser.test_console import no_errors, offer, quiet

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]
WHATSAPP = "Ini lokasi saya https://maps.google.com/maps?q=-0.9471%2C100.4172&z=17&hl=en"


def _intake(page: Page, server: Server, caller: str) -> None:
    """Answer the caller's call and start an emergency intake with its type chosen: the focus is in Location."""
    call = offer(server, caller)
    expect(page.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("F2")
    page.keyboard.press("1")
    page.keyboard.type("pingsan")
    expect(page.locator("#type-list li.active")).to_contain_text("Kegawatdaruratan medis")
    page.keyboard.press("Enter")
    expect(page.locator("#loc-q")).to_be_focused()


def test_a_pasted_whatsapp_link_is_placed_like_a_place(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    expect(page.locator("#map")).to_have_attribute("data-boundaries", re.compile(r"[1-9]"), timeout=5000)
    _intake(page, server, "0813 5555 7001")
    page.keyboard.insert_text(WHATSAPP)  # what a paste does: one input event with the whole text
    offered = page.locator("#loc-list li.active")
    expect(offered).to_contain_text("-0,94710, 100,41720", timeout=5000)
    expect(offered).to_contain_text("koordinat · Piai Tangah, Pauh")
    taker.shot("31-calltaker-location-link-offered")
    page.keyboard.press("Enter")
    chosen = page.locator("#loc-chosen")
    expect(chosen).to_contain_text("Keterangan penelepon")
    expect(chosen).to_contain_text("-0,94710, 100,41720 ±11 m")
    expect(chosen).to_contain_text("Piai Tangah, Pauh")
    expect(page.locator("#notes")).to_be_focused()
    taker.shot("32-calltaker-location-link-placed")
    page.keyboard.press("Control+Enter")
    created = page.locator("#created-incident")
    expect(created).to_be_visible(timeout=5000)
    with server.api("dispatcher") as api:
        incident = api.get(f"/api/v1/incidents/{created.get_attribute('data-id')}").json()
    assert (incident["lat"], incident["lon"]) == pytest.approx((-0.9471, 100.4172), abs=1e-6)
    assert incident["location_source"] == "caller" and incident["location_accuracy_m"] == pytest.approx(11.1)
    assert incident["kecamatan"] == "Pauh"
    no_errors(taker)


def test_coordinates_read_out_and_text_that_is_no_location(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    _intake(page, server, "0813 5555 7002")
    note = page.locator("#loc-note")
    field = page.locator("#loc-q")
    field.fill("%%%$$")
    expect(note).to_contain_text("Lokasi tidak dikenali", timeout=5000)
    expect(note).to_contain_text("LS")  # with examples written for Padang
    expect(note).to_have_class(re.compile(r"\berror\b"))
    field.fill("https://maps.app.goo.gl/Xk3pY7fQ2abCdE9u8")
    expect(note).to_contain_text("internet", timeout=5000)
    field.fill("Qwxzv")  # a word that names nothing: the gazetteer's empty list, said in words
    expect(note).to_contain_text("Lokasi tidak dikenali", timeout=5000)
    expect(note).to_contain_text("3C38+5V Padang")
    taker.shot("33-calltaker-location-not-recognised")
    field.fill("")
    page.keyboard.insert_text("0°56'49.6\" LS 100°25'01.9\" BT")
    expect(page.locator("#loc-list li.active")).to_contain_text("Piai Tangah, Pauh", timeout=5000)
    expect(note).not_to_have_class(re.compile(r"\berror\b"))
    page.keyboard.press("Enter")
    expect(page.locator("#loc-chosen")).to_contain_text("±3 m")
    no_errors(taker)
