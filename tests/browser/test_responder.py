"""The crew's phone in a real Chromium where coverage is patchy: a tap changes the screen at once and keeps its
time, the steps follow the kind of unit, a cancellation is announced with its reason, a refusal is said in
Bahasa."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from dispatch.users import service as users
from tests.browser.conftest import PASSWORD, PHONE, RESPONDER_UNIT, Console, Server

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]
AMBULANCE = "PSC119-03-AMB1"  # Padang Barat, as the fire engine
ENDED = {"dispatched": "cancelled", "acknowledged": "cancelled", "en_route": "cancelled"}


def free(server: Server, callsign: str) -> None:
    """End whatever the unit is doing, for the next test."""
    unit_id = server.unit_id(callsign)
    with server.api("dispatcher") as api:
        for incident in api.get("/api/v1/incidents", params={"open": True}).json():
            for a in api.get(f"/api/v1/incidents/{incident['id']}").json()["assignments"]:
                if a["unit_id"] == unit_id and a["status"] not in ("cleared", "cancelled"):
                    end = ENDED.get(a["status"], "cleared")
                    api.post(f"/api/v1/assignments/{a['id']}/status", json={"status": end}).raise_for_status()


def crew(server: Server, username: str, callsign: str) -> None:
    """A responder account bound to `callsign` (the browser tests' users have one responder, of a fire engine)."""
    with server.ctx.sessions() as session:
        if users.find_active(session=session, username=username) is None:
            users.create(
                session=session,
                username=username,
                password=PASSWORD,
                role="responder",
                name=username.capitalize(),
                unit_callsign=callsign,
            )


def dispatch(server: Server, callsign: str, address: str) -> dict[str, Any]:
    """An incident in Padang Barat with `callsign` assigned to it; returns the assignment."""
    with server.api("dispatcher") as api:
        incident = api.post(
            "/api/v1/incidents",
            json={"type_code": "fire_house", "lat": -0.9262, "lon": 100.3560, "address": address},
        )
        incident.raise_for_status()
        r = api.post(
            f"/api/v1/incidents/{incident.json()['id']}/assignments", json={"unit_id": server.unit_id(callsign)}
        )
        r.raise_for_status()
        return dict(r.json())


def assignment(server: Server, a: dict[str, Any]) -> dict[str, Any]:
    with server.api("dispatcher") as api:
        found = api.get(f"/api/v1/incidents/{a['incident_id']}").json()["assignments"]
    return dict(next(x for x in found if x["id"] == a["id"]))


def status_events(server: Server, a: dict[str, Any]) -> list[dict[str, Any]]:
    with server.api("dispatcher") as api:
        log = api.get(f"/api/v1/incidents/{a['incident_id']}/events").json()
    return [e for e in log if e["type"] == "assignment.status" and e["data"]["assignment"]["id"] == a["id"]]


def queued(page: Page, username: str) -> list[dict[str, Any]]:
    """The taps the phone keeps until the server has them (localStorage)."""
    raw = page.evaluate(f"() => localStorage.getItem('tanggap.outbox.{username}')")
    return [i for i in json.loads(raw or "[]") if i["kind"] == "action"]


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def no_errors(*consoles: Console) -> None:
    for console in consoles:
        assert console.real_errors() == [], console.username


def test_an_offline_tap_changes_the_screen_at_once_and_keeps_the_time_it_was_tapped(
    server: Server, open_console: OpenConsole
) -> None:
    """The walkthrough: a tap made offline after one made online left the chip at the old status and the same
    button active (a second tap queued a duplicate), and the server dated the step when the signal came back."""
    free(server, RESPONDER_UNIT)
    responder = open_console("responder", PHONE)
    phone = responder.login("/responder")
    a = dispatch(server, RESPONDER_UNIT, "Jl. Hiligoo, gudang kayu")
    expect(phone.locator("#current")).to_contain_text("Jl. Hiligoo, gudang kayu", timeout=5000)
    phone.locator("button[data-step='acknowledged']").click()  # online
    expect(phone.locator("#unit-status")).to_have_text("Diterima")
    expect(phone.locator("#current .recorded")).to_contain_text("Diterima tercatat", timeout=5000)

    responder.context.set_offline(True)
    expect(phone.locator("#offline-banner")).to_be_visible(timeout=5000)
    phone.locator("button[data-step='en_route']").click()
    # At once, without the server: the new status, marked as waiting, and the buttons moved on.
    expect(phone.locator("#unit-status")).to_have_text("Menuju lokasi", timeout=1000)
    expect(phone.locator("#unit-status")).to_have_class(re.compile(r"\bpending\b"))
    expect(phone.locator("#pending-chip")).to_have_text("menunggu sinyal")
    expect(phone.locator("#current .pending-line")).to_contain_text("Berangkat ditekan")
    expect(phone.locator("button[data-step='en_route']")).to_be_disabled()
    expect(phone.locator("button[data-step='on_scene']")).to_have_class(re.compile(r"\bnext\b"))
    phone.locator("button[data-step='en_route']").click(force=True)  # a second tap of the same step: nothing
    expect(phone.locator("#outbox-count")).to_have_text("1")
    phone.wait_for_timeout(1500)  # driving; the tap on arrival is later
    phone.locator("button[data-step='on_scene']").click()
    expect(phone.locator("#unit-status")).to_have_text("Di lokasi", timeout=1000)
    expect(phone.locator("#current .pending-line")).to_contain_text("Tiba di lokasi ditekan")
    expect(phone.locator("button[data-step='cleared']")).to_have_class(re.compile(r"\bnext\b"))
    expect(phone.locator("#outbox-count")).to_have_text("2")
    # A fire engine is not offered to carry a patient.
    expect(phone.locator("button[data-step='transporting']")).to_have_count(0)
    expect(phone.locator("button[data-step='at_hospital']")).to_have_count(0)
    responder.shot("responder-offline-pending")
    taps = {i["body"]["status"]: moment(i["body"]["at"]) for i in queued(phone, "responder")}
    assert list(taps) == ["en_route", "on_scene"]
    assert assignment(server, a)["status"] == "acknowledged"  # nothing has reached the server
    phone.wait_for_timeout(2000)  # the signal comes back later than the taps

    responder.context.set_offline(False)
    expect(phone.locator("#pending-chip")).to_be_hidden(timeout=15000)
    expect(phone.locator("#outbox")).to_be_hidden()
    expect(phone.locator("#unit-status")).not_to_have_class(re.compile(r"\bpending\b"))
    expect(phone.locator("#current .recorded")).to_contain_text("Di lokasi tercatat", timeout=5000)
    responder.shot("responder-online-confirmed")
    stored = assignment(server, a)
    assert stored["status"] == "on_scene"
    # The steps are dated when they were tapped (to the millisecond the phone sends), not when they arrived.
    assert moment(stored["en_route_at"]) == taps["en_route"]
    assert moment(stored["on_scene_at"]) == taps["on_scene"]
    events = status_events(server, a)
    assert [e["data"]["assignment"]["status"] for e in events] == ["acknowledged", "en_route", "on_scene"]
    for e in events[1:]:
        assert e["data"]["time_source"] == "device"
        assert moment(e["at"]) - moment(e["data"]["device_at"]) > timedelta(seconds=1.5)  # received later
    shown = phone.locator("#current .recorded").get_attribute("data-at")
    assert shown is not None and moment(shown) == taps["on_scene"]
    # The dispatcher's history lists the steps as they arrived, each with the time the crew tapped it.
    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    desk.locator(f"#incident-list li[data-id='{a['incident_id']}']").click()
    history = desk.locator("#history")
    expect(history.locator("li", has_text="Menuju lokasi")).to_contain_text("ditekan di HP", timeout=5000)
    expect(history.locator("li", has_text="Di lokasi")).to_contain_text("ditekan di HP")
    history.scroll_into_view_if_needed()
    dispatcher.shot("responder-dispatcher-history-tap-time")
    no_errors(responder, dispatcher)
    free(server, RESPONDER_UNIT)


def test_an_ambulance_is_offered_the_hospital_and_the_handover(server: Server, open_console: OpenConsole) -> None:
    crew(server, "ambulans", AMBULANCE)
    free(server, AMBULANCE)
    responder = open_console("ambulans", PHONE)
    phone = responder.login("/responder")
    dispatch(server, AMBULANCE, "Jl. Permindo, depan toko emas")
    expect(phone.locator("#current")).to_contain_text("Jl. Permindo", timeout=5000)
    for step, chip in (("acknowledged", "Diterima"), ("en_route", "Menuju lokasi"), ("on_scene", "Di lokasi")):
        phone.locator(f"button[data-step='{step}']").click()
        expect(phone.locator("#unit-status")).to_have_text(chip)
    expect(phone.locator("button[data-step='transporting']")).to_have_class(re.compile(r"\bnext\b"))
    expect(phone.locator("button[data-step='transporting']")).to_have_text("Membawa pasien")
    expect(phone.locator("button[data-step='at_hospital']")).to_be_disabled()
    phone.locator("button[data-step='transporting']").click()
    at_hospital = phone.locator("button[data-step='at_hospital']")
    expect(at_hospital).to_have_text("Tiba di RS")
    expect(at_hospital).to_have_class(re.compile(r"\bnext\b"))
    at_hospital.click()
    expect(phone.locator("#unit-status")).to_have_text("Di rumah sakit")
    # At the hospital the last step is the handover: the patient handed over, the unit available again.
    expect(phone.locator("button[data-step='cleared']")).to_have_text("Pasien diserahkan · Tersedia")
    expect(phone.locator("#pending-chip")).to_be_hidden(timeout=10000)
    responder.shot("responder-ambulance-at-hospital")
    phone.locator("button[data-step='cleared']").click()
    expect(phone.locator("#current")).to_contain_text("Tidak ada penugasan aktif", timeout=5000)
    no_errors(responder)


def test_a_cancellation_is_announced_with_its_reason_until_dismissed(server: Server, open_console: OpenConsole) -> None:
    free(server, RESPONDER_UNIT)
    responder = open_console("responder", PHONE)
    phone = responder.login("/responder")
    phone.locator("#gps-status").click()  # any first touch turns the alert sound on
    a = dispatch(server, RESPONDER_UNIT, "Jl. Kampung Jawa Dalam")
    expect(phone.locator("#current")).to_contain_text("Kampung Jawa Dalam", timeout=5000)
    with server.api("dispatcher") as api:
        api.post(
            f"/api/v1/assignments/{a['id']}/status",
            json={"status": "cancelled", "reason": "Laporan palsu, sudah dicek Polsek"},
        ).raise_for_status()
    notice = phone.locator(f"#notices .notice.cancelled[data-assignment='{a['id']}']")
    expect(notice).to_be_visible(timeout=5000)
    expect(notice).to_contain_text("Penugasan dibatalkan")
    expect(notice).to_contain_text(f"#{a['incident_id']}")
    expect(notice).to_contain_text("Alasan: Laporan palsu, sudah dicek Polsek")
    expect(phone.locator("body")).to_have_attribute("data-cancel-alerts", "1")  # sound and vibration
    expect(phone.locator("#current")).to_contain_text("Tidak ada penugasan aktif")
    responder.shot("responder-cancelled-reason")
    phone.wait_for_timeout(3000)
    expect(notice).to_be_visible()  # no vanishing: it stays until the crew has read it
    phone.reload()
    expect(phone.locator("#conn")).to_have_class(re.compile("conn-live"), timeout=10000)
    expect(notice).to_be_visible()
    expect(phone.locator("body")).not_to_have_attribute("data-cancel-alerts", "1")  # not announced twice
    notice.locator("button.dismiss").click()
    expect(phone.locator("#notices .notice")).to_have_count(0)

    # Stood down while the phone had no signal, without a reason: announced when the signal comes back.
    b = dispatch(server, RESPONDER_UNIT, "Jl. Nipah")
    expect(phone.locator("#current")).to_contain_text("Jl. Nipah", timeout=5000)
    responder.context.set_offline(True)
    expect(phone.locator("#offline-banner")).to_be_visible(timeout=5000)
    with server.api("dispatcher") as api:
        api.post(f"/api/v1/assignments/{b['id']}/status", json={"status": "cancelled"}).raise_for_status()
    responder.context.set_offline(False)
    silent = phone.locator(f"#notices .notice.cancelled[data-assignment='{b['id']}']")
    expect(silent).to_be_visible(timeout=15000)
    expect(silent).to_contain_text("Tanpa alasan dari dispatcher")
    expect(phone.locator("body")).to_have_attribute("data-cancel-alerts", "1")
    no_errors(responder)


def test_a_refused_tap_is_explained_in_bahasa(server: Server, open_console: OpenConsole) -> None:
    """The walkthrough showed "assignment cannot go from 'cancelled' to 'en_route'" as it came."""
    free(server, RESPONDER_UNIT)
    responder = open_console("responder", PHONE)
    phone = responder.login("/responder")
    a = dispatch(server, RESPONDER_UNIT, "Jl. Olo Ladang")
    expect(phone.locator("#current")).to_contain_text("Jl. Olo Ladang", timeout=5000)
    responder.context.set_offline(True)
    expect(phone.locator("#offline-banner")).to_be_visible(timeout=5000)
    phone.locator("button[data-step='en_route']").click()
    expect(phone.locator("#pending-chip")).to_be_visible()
    with server.api("dispatcher") as api:  # meanwhile the dispatcher stands the unit down
        api.post(f"/api/v1/assignments/{a['id']}/status", json={"status": "cancelled"}).raise_for_status()
    responder.context.set_offline(False)
    refusal = phone.locator("#notices .notice.refused[data-why='InvalidTransition']")
    expect(refusal).to_be_visible(timeout=15000)
    expect(refusal).to_contain_text("Tidak tercatat")
    expect(refusal).to_contain_text(
        f"Berangkat #{a['incident_id']}: status ini tidak bisa dipilih lagi — penugasan sudah dibatalkan."
    )
    expect(phone.locator("#notices .notice.cancelled")).to_be_visible()
    page_text = phone.locator("body").inner_text()
    assert "cannot go from" not in page_text and "allowed from" not in page_text
    expect(phone.locator("#pending-chip")).to_be_hidden()
    responder.shot("responder-refused-bahasa")
    while phone.locator("#notices button.dismiss").count():
        phone.locator("#notices button.dismiss").first.click()

    # A refusal of a kind the phone does not know: a general text in Bahasa, the server's words small beneath.
    b = dispatch(server, RESPONDER_UNIT, "Jl. Bundo Kanduang")
    expect(phone.locator("#current")).to_contain_text("Jl. Bundo Kanduang", timeout=5000)

    def odd(route: Route) -> None:
        route.fulfill(status=400, json={"error": "something unforeseen", "kind": "Unforeseen"})

    phone.route("**/api/v1/assignments/*/status", odd)
    phone.locator("button[data-step='acknowledged']").click()
    other = phone.locator("#notices .notice.refused[data-why='other']")
    expect(other).to_be_visible(timeout=5000)
    expect(other).to_contain_text(f"Terima #{b['incident_id']}: ditolak server. Hubungi dispatcher lewat radio.")
    expect(other.locator("small.detail")).to_have_text("something unforeseen")
    expect(phone.locator("#unit-status")).to_have_text("Ditugaskan")  # the screen shows the server's status again
    phone.unroute("**/api/v1/assignments/*/status")
    no_errors(responder)
    free(server, RESPONDER_UNIT)
