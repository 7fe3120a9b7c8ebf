"""The console in a real Chromium: a 112 call from arrival to a unit en route, seen by every role."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import APIResponse, Geolocation, Page, Response, Route, expect
from sqlalchemy import update

from dispatch.calls import locations, messages
from dispatch.referrals.models import Referral
from tests.browser.conftest import PHONE, RESPONDER_UNIT, Console, Server

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]
PADANG_BARAT = (-0.9262, 100.3560)


def quiet(server: Server) -> None:
    """End calls left ringing by earlier tests, so 'answer the next call' means this test's call."""
    with server.api("calltaker") as api:
        for call in api.get("/api/v1/calls", params={"active": True}).json():
            api.post(f"/api/v1/calls/{call['id']}/end")


def wait_on(page: Page, condition: Callable[[], bool], what: str) -> None:
    """Polls `condition` for 10 s at most, letting the page handle its events (routes, responses) meanwhile."""
    for _ in range(200):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(what)


class _StaleReload:
    """Holds the phone's status tap until its assignments reload has read the database, then lets the tap through
    and keeps the reload's stale answer until the test lets it go (`answer`), once the tap has been answered."""

    TAP, RELOAD = "**/api/v1/assignments/*/status", "**/api/v1/assignments/mine"

    def __init__(self, page: Page) -> None:
        self.page, self.happened, self.tap_answered = page, False, False
        self.held: list[Route] = []
        self.stale: tuple[Route, APIResponse] | None = None
        page.route(self.TAP, self.hold)
        page.route(self.RELOAD, self.reload)
        page.on("response", self.seen)

    def hold(self, route: Route) -> None:
        self.held.append(route)

    def reload(self, route: Route) -> None:
        if not self.held or self.stale or self.happened:
            route.continue_()
            return
        self.stale = (route, route.fetch())  # read before the tap is written
        while self.held:
            self.held.pop(0).continue_()

    def seen(self, response: Response) -> None:
        if re.search(r"/api/v1/assignments/\d+/status$", response.url) and response.ok:
            self.tap_answered = True

    def answer(self) -> None:
        """Once the tap is written and answered, answers the reload with what it read before."""
        wait_on(
            self.page, lambda: self.stale is not None, "the reload did not overtake the tap; the race was not exercised"
        )
        wait_on(self.page, lambda: self.tap_answered, "the tap was not answered")
        assert self.stale is not None
        route, snapshot = self.stale
        with self.page.expect_request_finished(lambda r: r.url.endswith("/api/v1/assignments/mine")):
            route.fulfill(response=snapshot)
        self.happened = True

    def stop(self) -> None:
        self.page.remove_listener("response", self.seen)
        self.page.unroute(self.TAP)
        self.page.unroute(self.RELOAD)


def offer(server: Server, caller: str) -> dict[str, Any]:
    with server.api("calltaker") as api:
        r = api.post("/api/v1/calls", json={"caller": caller, "provider": "simulator"})
        r.raise_for_status()
        return dict(r.json())


def send_aml(server: Server, caller: str, lat: float, lon: float, accuracy_m: float = 18) -> None:
    """An AML fix as the telephony bridge records it (the SMS parser is tested with telephony)."""
    with server.ctx.sessions() as session:
        locations.report(
            session=session,
            caller=caller,
            source="aml",
            lat=lat,
            lon=lon,
            accuracy_m=accuracy_m,
            fix_at=datetime.now(UTC),
            raw=None,
            actor="test-aml",
        )


def free(server: Server, callsign: str) -> None:
    """Bring a unit back to available whatever it is doing, for the next test."""
    with server.api("dispatcher") as api:
        unit = next(u for u in api.get("/api/v1/units").json() if u["callsign"] == callsign)
        for incident in api.get("/api/v1/incidents", params={"open": True}).json():
            for a in api.get(f"/api/v1/incidents/{incident['id']}").json()["assignments"]:
                if a["unit_id"] != unit["id"] or a["status"] in ("cleared", "cancelled"):
                    continue
                path = {
                    "dispatched": ["cancelled"],
                    "acknowledged": ["cancelled"],
                    "en_route": ["cancelled"],
                    "on_scene": ["cleared"],
                    "transporting": ["cleared"],
                    "at_hospital": ["cleared"],
                }
                for status in path[a["status"]]:
                    api.post(f"/api/v1/assignments/{a['id']}/status", json={"status": status}).raise_for_status()


def no_errors(*consoles: Console) -> None:
    for console in consoles:
        assert console.real_errors() == [], console.username


def test_simulated_call_appears_live_with_caller_history(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    prankster = "0812-7000-1111"
    with server.api("calltaker") as api:  # three pranks from one number flag it for 24 h
        for _ in range(3):
            call = offer(server, prankster)
            api.post(f"/api/v1/calls/{call['id']}/answer").raise_for_status()
            api.post(f"/api/v1/calls/{call['id']}/classify", json={"classification": "prank"}).raise_for_status()
            api.post(f"/api/v1/calls/{call['id']}/end").raise_for_status()
    taker = open_console("calltaker")
    page = taker.login("/console")
    expect(page.locator("#view-intake")).to_be_visible()

    call = offer(server, "0812 3456 7001")
    item = page.locator(f"#call-queue li[data-id='{call['id']}']")
    # Shown as staff read and dial it; the stored E.164 number on hover.
    expect(item.locator(".caller")).to_have_text("0812-3456-7001", timeout=5000)
    expect(item.locator(".caller")).to_have_attribute("title", "+6281234567001")
    expect(item).to_contain_text("Berdering")
    expect(item.locator(".timer")).to_have_text(re.compile(r"0:0[1-9]"), timeout=4000)  # waiting time ticks

    flagged = offer(server, prankster)
    flagged_item = page.locator(f"#call-queue li[data-id='{flagged['id']}']")
    expect(flagged_item.locator(".chip.danger")).to_have_text("DITANDAI", timeout=5000)
    flagged_item.click()
    banner = page.locator("#caller-flag")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("3 panggilan iseng/kosong")
    expect(banner).to_contain_text("Tetap layani")
    expect(page.locator("#caller-history")).to_contain_text("Riwayat: 3 panggilan sebelumnya")
    taker.shot("01-calltaker-incoming-flagged")
    no_errors(taker)


def texts(server: Server, caller: str, body: str, sid: str) -> int:
    """An SMS to 112 as the Twilio webhook records it (the webhook itself is tested with telephony)."""
    with server.ctx.sessions() as session:
        call, _ = messages.receive(
            session=session, provider="sms", message_id=sid, caller=caller, dialled="112", text=body, actor="twilio"
        )
        return call.id


def test_a_text_caller_and_the_call_taker_write_to_each_other(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    sent: list[tuple[str, str]] = []
    server.app.state.sms_send = lambda to, body, callback: sent.append((to, body)) or f"SM-out-{len(sent)}"
    taker = open_console("calltaker")
    page = taker.login("/console")
    call_id = texts(server, "0812 7700 1122", "Tolong, ada orang pingsan di pasar. Saya tuli.", "SM-in-1")
    item = page.locator(f"#call-queue li[data-id='{call_id}']")
    expect(item.locator(".chip.sms")).to_have_text("SMS", timeout=5000)
    item.click()
    conversation = page.locator("#call-messages")
    expect(conversation.locator(".msg-in")).to_have_count(1)
    expect(conversation).to_contain_text("orang pingsan di pasar")
    page.keyboard.press("a")  # answer it, as a voice call
    box = page.locator("#reply-text")
    box.fill("Petugas PSC 119 segera datang. Di pasar mana, dekat apa?")
    box.press("Enter")
    expect(conversation.locator(".msg-out")).to_contain_text("PSC 119 segera datang")
    expect(conversation.locator(".msg-out .msg-meta")).to_contain_text("terkirim")
    expect(box).to_have_value("")
    assert sent == [("+6281277001122", "Petugas PSC 119 segera datang. Di pasar mana, dekat apa?")]
    texts(server, "+6281277001122", "Pasar Raya, depan toko emas", "SM-in-2")  # the answer joins the call
    expect(conversation.locator(".msg-in")).to_have_count(2, timeout=5000)
    expect(conversation.locator(".msg").last).to_contain_text("depan toko emas")
    expect(page.locator(f"#call-queue li[data-id='{call_id}']")).to_have_count(1)
    taker.shot("18-calltaker-text-conversation")
    no_errors(taker)
    server.app.state.sms_send = None


def test_without_sms_a_text_call_says_to_call_back(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    call_id = texts(server, "0812 7700 3344", "Ada kecelakaan, saya tidak bisa bicara", "SM-in-9")
    page.locator(f"#call-queue li[data-id='{call_id}']").click()
    expect(page.locator("#call-messages")).to_contain_text("kecelakaan")
    expect(page.locator("#reply-off")).to_contain_text("telepon balik")
    expect(page.locator("#reply-form")).to_be_hidden()
    no_errors(taker)


def test_keyboard_only_emergency_intake(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    caller = "0813 2222 4001"
    call = offer(server, caller)
    expect(page.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)

    page.keyboard.press("a")  # answer the call waiting longest
    expect(page.locator("#call-status")).to_have_text("Dijawab", timeout=5000)
    send_aml(server, caller, *PADANG_BARAT)
    page.keyboard.press("1")  # emergency: the type field has the focus now
    expect(page.locator("#type-q")).to_be_focused()
    page.keyboard.type("rumah terbakar")
    expect(page.locator("#type-list li.active")).to_contain_text("Kebakaran rumah")
    page.keyboard.press("Enter")
    expect(page.locator("#type-chosen")).to_contain_text("Kebakaran rumah")
    expect(page.locator("#loc-q")).to_be_focused()
    expect(page.locator("#aml-box")).to_contain_text("±18 m", timeout=5000)
    page.keyboard.press("Enter")  # empty location field: take the AML fix
    expect(page.locator("#loc-chosen")).to_contain_text("AML")
    expect(page.locator("#notes")).to_be_focused()
    page.keyboard.type("Api dari dapur, dua anak masih di dalam. <b>bukan html</b>")
    taker.shot("02-calltaker-intake-form")
    page.keyboard.press("Control+Enter")
    created = page.locator("#created-incident")
    expect(created).to_be_visible(timeout=5000)
    incident_id = int(created.get_attribute("data-id") or 0)

    with server.api("dispatcher") as api:
        incident = api.get(f"/api/v1/incidents/{incident_id}").json()
    assert incident["type_code"] == "fire_house"
    assert incident["location_source"] == "aml"
    assert (incident["lat"], incident["lon"]) == PADANG_BARAT
    assert incident["kecamatan"] == "Padang Barat"
    assert incident["notes"] == "Api dari dapur, dua anak masih di dalam. <b>bukan html</b>"
    assert [c["id"] for c in incident["calls"]] == [call["id"]]
    taker.shot("03-calltaker-incident-created")

    # A neighbour calls about the same fire: the console offers "probably the same as #N", F8 links it.
    page.keyboard.press("e")  # end the first call
    expect(page.locator("#call-status")).to_have_text("Selesai", timeout=5000)
    neighbour = "0813 2222 4002"
    second = offer(server, neighbour)
    expect(page.locator(f"#call-queue li[data-id='{second['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("F2")
    expect(page.locator("#call-status")).to_have_text("Dijawab", timeout=5000)
    send_aml(server, neighbour, PADANG_BARAT[0] + 0.0005, PADANG_BARAT[1])
    page.keyboard.press("1")
    page.keyboard.type("kebakaran rumah")
    page.keyboard.press("Enter")
    expect(page.locator("#aml-box")).to_be_visible(timeout=5000)
    page.keyboard.press("F4")
    dups = page.locator("#dups")
    expect(dups).to_contain_text(f"#{incident_id}", timeout=5000)
    page.fill("#notes", "asap tebal, api dari rumah kayu")  # what the neighbour saw: kept with the link
    taker.shot("04-calltaker-duplicate")
    page.keyboard.press("F8")
    expect(page.locator("#intake-result")).to_contain_text(f"ditautkan ke insiden #{incident_id}", timeout=5000)
    with server.api("dispatcher") as api:
        linked = api.get(f"/api/v1/incidents/{incident_id}").json()["calls"]
        history = api.get(f"/api/v1/incidents/{incident_id}/events").json()
    assert sorted(c["id"] for c in linked) == sorted([call["id"], second["id"]])
    assert next(c for c in linked if c["id"] == second["id"])["notes"] == "asap tebal, api dari rumah kayu"
    report = [e for e in history if e["type"] == "call.linked" and e["data"]["id"] == second["id"]]
    assert [e["data"]["notes"] for e in report] == ["asap tebal, api dari rumah kayu"]
    no_errors(taker)

    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    desk.locator(f"#incident-list li[data-id='{incident_id}']").click()
    expect(desk.locator("#history")).to_contain_text(
        f"laporan penelepon (panggilan #{second['id']}): “asap tebal, api dari rumah kayu”", timeout=5000
    )
    dispatcher.shot("04b-dispatcher-caller-report")
    no_errors(dispatcher)


def test_a_reload_keeps_the_intake_and_the_selected_incident(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    call = offer(server, "0813 2222 4011")
    expect(page.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("a")
    expect(page.locator("#call-status")).to_have_text("Dijawab", timeout=5000)
    page.keyboard.press("1")
    page.keyboard.type("rumah terbakar")
    page.keyboard.press("Enter")
    expect(page.locator("#type-chosen")).to_contain_text("Kebakaran rumah")
    page.fill("#address", "Jl. Permindo no. 12")
    page.fill("#notes", "api di lantai dua")
    page.reload()
    expect(page.locator("#call-status")).to_have_text("Dijawab", timeout=10000)
    expect(page.locator("#type-chosen")).to_contain_text("Kebakaran rumah")
    expect(page.locator("#address")).to_have_value("Jl. Permindo no. 12")
    expect(page.locator("#notes")).to_have_value("api di lantai dua")
    taker.shot("04c-calltaker-intake-after-reload")
    no_errors(taker)

    incident_id = _incident(server, "0813 2222 4012")
    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    desk.locator(f"#incident-list li[data-id='{incident_id}']").click()
    expect(desk.locator("#incident-list li.selected")).to_have_attribute("data-id", str(incident_id))
    desk.reload()
    expect(desk.locator("#incident-list li.selected")).to_have_attribute("data-id", str(incident_id), timeout=10000)
    no_errors(dispatcher)


def test_location_by_gazetteer_then_map_click(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    expect(page.locator("#map")).to_have_attribute("data-boundaries", re.compile(r"[1-9]"), timeout=5000)
    call = offer(server, "0813 3333 5001")
    expect(page.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("F2")
    page.keyboard.press("1")
    page.keyboard.type("pingsan")
    expect(page.locator("#type-list li.active")).to_contain_text("Kegawatdaruratan medis")
    page.keyboard.press("Enter")
    page.keyboard.type("flamboyan")
    expect(page.locator("#loc-list li.active")).to_contain_text("Flamboyan Baru", timeout=5000)
    page.keyboard.press("Enter")
    chosen = page.locator("#loc-chosen")
    expect(chosen).to_contain_text("Gazetir")
    expect(chosen).to_contain_text("Flamboyan Baru")
    expect(page.locator("#address")).to_have_value("Flamboyan Baru")
    # The caller corrects it: "no, by the beach". A click on the map moves the point.
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(chosen).to_contain_text("Titik yang diklik di peta")
    expect(chosen).to_contain_text("Padang", timeout=5000)  # kelurahan, kecamatan from /geo/locate
    taker.shot("15-calltaker-map-click")
    # Another call rings: one slip of F2 must not throw this unsaved intake away.
    other = offer(server, "0813 3333 5002")
    expect(page.locator(f"#call-queue li[data-id='{other['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("F2")
    expect(page.locator("#toasts")).to_contain_text("belum disimpan")
    expect(page.locator("#call-number")).to_have_text("0813-3333-5001")
    page.keyboard.press("Control+Enter")
    created = page.locator("#created-incident")
    expect(created).to_be_visible(timeout=5000)
    with server.api("dispatcher") as api:
        incident = api.get(f"/api/v1/incidents/{created.get_attribute('data-id')}").json()
    assert incident["location_source"] == "map"
    assert incident["kecamatan"]
    no_errors(taker)


def test_complaint_is_referred_to_an_agency_and_followed_up(server: Server, open_console: OpenConsole) -> None:
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    call = offer(server, "0813 4444 6001")
    expect(page.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("a")
    page.keyboard.press("2")  # information / complaint: the agency field has the focus
    expect(page.locator("#agency-q")).to_be_focused()
    page.keyboard.type("lingkungan")
    expect(page.locator("#agency-list li.active")).to_contain_text("Lingkungan Hidup")
    page.keyboard.press("Enter")
    expect(page.locator("#ref-summary")).to_be_focused()
    page.keyboard.type("Sampah menumpuk di depan pasar sejak tiga hari")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#intake-result")).to_contain_text("diteruskan ke Dinas Lingkungan Hidup", timeout=5000)
    page.keyboard.press("r")  # the follow-up view
    item = page.locator("#referral-list li", has_text="Sampah menumpuk")
    expect(item).to_contain_text("Diteruskan")
    taker.shot("16-referrals-follow-up")
    item.locator("input.note").fill("diangkut truk DLH")
    item.locator("button.to-done").click()
    expect(item).to_have_count(0, timeout=5000)
    with server.api("supervisor") as api:
        rows = api.get("/api/v1/reports/follow-up").json()["rows"]
    dlh = next(r for r in rows if r["agency"] == "dlh")
    assert dlh["done"] >= 1
    no_errors(taker)


def test_street_light_complaint_reaches_dishub_desk_and_an_overdue_one_stands_out(
    server: Server, open_console: OpenConsole
) -> None:
    """Issue 23, finding 8: "lampu jalan" finds the topic and so Dishub; the referral carries the map point and a
    deadline; Dishub's desk (/opd, on a phone) sees it, without the caller, and marks it done; one past its
    deadline stands out for the supervisor and in the console's follow-up list."""
    quiet(server)
    taker = open_console("calltaker")
    page = taker.login("/console")
    call = offer(server, "0813 4444 6002")
    expect(page.locator(f"#call-queue li[data-id='{call['id']}']")).to_be_visible(timeout=5000)
    page.keyboard.press("a")
    page.keyboard.press("2")
    expect(page.locator("#agency-q")).to_be_focused()
    page.keyboard.type("lampu jalan")
    expect(page.locator("#agency-list li.active")).to_contain_text("Lampu jalan (PJU) mati")
    expect(page.locator("#agency-list li.active")).to_contain_text("Dinas Perhubungan")
    page.keyboard.press("Enter")
    expect(page.locator("#agency-chosen")).to_contain_text("Dinas Perhubungan Kota Padang")
    expect(page.locator("#agency-chosen")).to_contain_text("tenggat 48 jam")
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.locator("#map").click(position={"x": box["width"] * 0.45, "y": box["height"] * 0.55})
    expect(page.locator("#ref-place")).to_be_visible()
    page.locator("#ref-summary").fill("Lampu jalan mati tiga tiang di depan SD 05, gelap sejak kemarin")
    taker.shot("17-referral-topic-and-map-point")
    page.locator("#referral-form button[type=submit]").click()
    expect(page.locator("#intake-result")).to_contain_text("Dinas Perhubungan", timeout=5000)
    with server.api("supervisor") as api:
        [ref] = [r for r in api.get("/api/v1/referrals").json() if r["summary"].startswith("Lampu jalan mati tiga")]
    assert ref["topic"] == "lampu_jalan" and ref["lat"] is not None and ref["due_at"] is not None

    desk = open_console("opd", viewport=PHONE)
    phone = desk.login("/opd", ready="#open-list li")
    card = phone.locator("#open-list li", has_text="Lampu jalan mati tiga")
    expect(card).to_contain_text("Lampu jalan (PJU) mati")
    expect(card).to_contain_text("Tenggat")
    expect(card.locator("a.nav")).to_have_count(2)
    assert "4444" not in phone.locator("main").inner_text()  # the caller is never shown to the agency
    desk.shot("18-opd-desk-referral")
    card.locator("input.note").fill("PJU sudah diganti")
    card.locator("button.to-done").click()
    expect(phone.locator("#finished-list li", has_text="Lampu jalan mati tiga")).to_contain_text("Selesai")
    desk.shot("19-opd-desk-done")
    with server.api("supervisor") as api:
        assert api.get(f"/api/v1/referrals/{ref['id']}").json()["status"] == "done"

    with server.api("calltaker") as api:
        pupr = next(a["id"] for a in api.get("/api/v1/agencies").json() if a["code"] == "pupr")
        late = api.post(
            "/api/v1/referrals", json={"agency_id": pupr, "topic": "jalan_rusak", "summary": "Jalan berlubang dalam"}
        ).json()
    with server.ctx.sessions() as session:
        past = datetime.now(UTC) - timedelta(hours=3)
        session.execute(update(Referral).where(Referral.id == late["id"]).values(due_at=past))
        session.commit()
    boss = open_console("supervisor")
    dash = boss.login("/supervisor")
    row = dash.locator("#table-overdue tr.overdue", has_text="Jalan berlubang dalam")
    expect(row).to_be_visible(timeout=10000)
    row.scroll_into_view_if_needed()
    boss.shot("20-supervisor-overdue-referral")
    page.reload()
    page.locator("#conn.conn-live").wait_for(timeout=15000)
    page.keyboard.press("r")
    expect(page.locator("#referral-list li.overdue", has_text="Jalan berlubang dalam")).to_contain_text("Lewat tenggat")
    for console in (taker, desk, boss):
        no_errors(console)


def override(desk: Page, callsign: str, reason: str, more: str = "") -> None:
    """Assign from the unit board, over the recommendation: the console asks why."""
    desk.locator(f"#unit-board tr[data-unit='{callsign}'] button.assign").click()
    dialog = desk.locator("#override-dialog")
    dialog.locator("#override-dialog-reason").select_option(label=reason)
    if more:
        dialog.locator("#override-dialog-more").fill(more)
    dialog.locator("button[value='ok']").click()
    expect(dialog).to_have_count(0)


def _incident(server: Server, caller: str) -> int:
    call = offer(server, caller)
    with server.api("calltaker") as api:
        api.post(f"/api/v1/calls/{call['id']}/answer").raise_for_status()
        r = api.post(
            "/api/v1/incidents",
            json={
                "type_code": "fire_house",
                "call_id": call["id"],
                "lat": PADANG_BARAT[0],
                "lon": PADANG_BARAT[1],
                "location_source": "gazetteer",
                "address": "Jl. Pondok, depan masjid",
                "notes": "asap tebal",
            },
        )
        r.raise_for_status()
        api.post(f"/api/v1/calls/{call['id']}/end")
        return int(r.json()["id"])


def _turnouts(server: Server) -> int:
    with server.api("supervisor") as api:
        rows = api.get("/api/v1/reports/response-times").json()["rows"]
    return next((r["n"] for r in rows if r["group"] == "*" and r["interval"] == "turnout"), 0)


def test_dispatch_to_responder_to_supervisor(server: Server, open_console: OpenConsole) -> None:
    free(server, RESPONDER_UNIT)
    supervisor = open_console("supervisor", {"width": 1600, "height": 1300})
    board = supervisor.login("/supervisor")
    expect(board.locator("#kpis .card").first).to_be_visible(timeout=5000)
    station: Geolocation = {"latitude": -0.9500, "longitude": 100.3600, "accuracy": 12}
    responder = open_console("responder", PHONE, geolocation=station)
    phone = responder.login("/responder")
    expect(phone.locator("#current")).to_contain_text("Tidak ada penugasan aktif")
    expect(phone.locator("#gps-status")).to_contain_text("GPS ±12 m", timeout=5000)
    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    incident_id = _incident(server, "0813 5555 7001")

    row = desk.locator(f"#incident-list li[data-id='{incident_id}']")
    expect(row).to_be_visible(timeout=5000)
    row.click()
    expect(desk.locator("#incident-detail h3")).to_contain_text(f"#{incident_id}")
    recommended = desk.locator("#recs li.rec", has_text=RESPONDER_UNIT).locator("button.assign")
    if desk.locator("#recs-missing").count() == 0 and recommended.count():
        recommended.click()
    else:  # the recommendation engine is not part of this server yet: assign from the unit board
        override(desk, RESPONDER_UNIT, "Kru mengenal lokasi")
    assigned = desk.locator("#incident-detail table.assigned tr", has_text=RESPONDER_UNIT)
    expect(assigned).to_contain_text("Ditugaskan", timeout=5000)
    dispatcher.shot("05-dispatcher-assigned")

    # The phone announces the assignment (sound and vibration are counted in data-alerts).
    expect(phone.locator("#alert")).to_be_visible(timeout=5000)
    expect(phone.locator("body")).to_have_attribute("data-alerts", re.compile(r"[1-9]"))
    expect(phone.locator("#current")).to_contain_text("Jl. Pondok, depan masjid")
    expect(phone.locator("a.nav").first).to_have_attribute("href", re.compile(r"^geo:-0\.9262,100\.356"))
    responder.shot("06-responder-new-assignment")
    turnouts = _turnouts(server)
    phone.locator("button[data-step='acknowledged']").click()
    expect(assigned).to_contain_text("Diterima", timeout=5000)

    # Weak connection: the tap is kept, shown as unsent, and sent once when the network is back.
    responder.context.set_offline(True)
    expect(phone.locator("#offline-banner")).to_be_visible(timeout=5000)
    phone.locator("button[data-step='en_route']").click()
    expect(phone.locator("#outbox")).to_be_visible()
    expect(phone.locator("#outbox-count")).to_have_text("1")
    responder.shot("07-responder-offline-unsent")
    expect(assigned).to_contain_text("Diterima")  # not sent yet
    # Back online the phone sends the tap and reloads its assignments. Make the reload read the database
    # before the tap is written and answer after it: the stale snapshot must not undo the tap.
    race = _StaleReload(phone)
    responder.context.set_offline(False)
    race.answer()
    expect(phone.locator("#outbox")).to_be_hidden(timeout=10000)
    expect(assigned).to_contain_text("Menuju lokasi", timeout=5000)
    expect(phone.locator("button[data-step='on_scene']")).to_have_class(re.compile(r"\bnext\b"))
    responder.shot("08-responder-en-route")
    race.stop()
    # While on duty the phone reports where the unit is; a move of more than 30 m is sent at once.
    responder.context.set_geolocation({"latitude": -0.9400, "longitude": 100.3580, "accuracy": 9})
    unit_id = server.unit_id(RESPONDER_UNIT)

    def position() -> tuple[float, float]:
        with server.api("dispatcher") as api:
            unit = next(u for u in api.get("/api/v1/units").json() if u["id"] == unit_id)
        return unit["lat"], unit["lon"]

    expect(phone.locator("#gps-status")).to_contain_text("terkirim", timeout=5000)
    deadline = 50
    while position() != (-0.94, 100.358) and deadline:
        phone.wait_for_timeout(100)
        deadline -= 1
    assert position() == (-0.94, 100.358)
    with server.api("dispatcher") as api:
        events = api.get(f"/api/v1/incidents/{incident_id}/events").json()
    assert [e["data"]["assignment"]["status"] for e in events if e["type"] == "assignment.status"] == [
        "acknowledged",
        "en_route",
    ]  # nothing done twice

    # The dashboard picks the new turnout time up by itself.
    assert _turnouts(server) == turnouts + 1
    cell = board.locator("#table-times tr[data-interval='turnout'][data-group='*'] td.n")
    expect(cell).to_have_text(str(turnouts + 1), timeout=10000)
    expect(board.locator("#kpis [data-kpi='turnout'] .big")).not_to_have_text("–")
    assert not re.search(r"\d s\b", board.locator("#kpis").inner_text())  # "dtk" throughout, as in the hints
    # Each call-taker as the shift sees them, with the calls answered today.
    expect(board.locator("#table-takers thead")).to_contain_text("Dijawab hari ini")
    expect(board.locator("#table-takers tr[data-taker='calltaker']")).to_have_attribute(
        "data-state",
        re.compile(r"^(available|on_call|wrap_up|away)$"),  # logged in on this test's console
    )
    # Grouped by type, the everything-row holds only the calls without an incident: never "all calls" there.
    board.locator("#by").select_option("type")
    expect(board.locator("#table-times")).to_contain_text("Kebakaran rumah", timeout=10000)
    expect(board.locator("#table-times")).not_to_contain_text("Semua panggilan")
    board.locator("#by").select_option("all")
    supervisor.shot("09-supervisor-dashboard")
    history = desk.locator("#history")
    expect(history).to_contain_text("Menuju lokasi", timeout=5000)
    dispatcher.shot("10-dispatcher-history")
    no_errors(supervisor, responder, dispatcher)
    free(server, RESPONDER_UNIT)


def test_outlines_arriving_late_do_not_take_the_map_from_the_incident(
    server: Server, open_console: OpenConsole
) -> None:
    """On a slow link the city's outlines can arrive after the dispatcher has opened an incident. The map fits
    the city only while nobody has put it somewhere: it stays on the incident, with the kelurahan names there."""
    dispatcher = open_console("dispatcher")
    held: list[Route] = []
    dispatcher.page.route("**/api/v1/geo/boundaries/kecamatan", lambda route: held.append(route))
    desk = dispatcher.login("/console")
    incident_id = _incident(server, "0813 5555 7003")
    desk.locator(f"#incident-list li[data-id='{incident_id}']").click()
    expect(desk.locator("#recs li.rec").first).to_be_visible(timeout=15000)
    wait_on(desk, lambda: bool(held), "the outlines were never asked for")
    held.pop().continue_()
    expect(desk.locator("#map")).to_have_attribute("data-boundaries", re.compile(r"[1-9]"), timeout=5000)
    expect(desk.locator(".leaflet-tooltip.tip-kelurahan").first).to_be_visible(timeout=5000)


def test_recommended_unit_is_assigned_with_one_key(server: Server, open_console: OpenConsole) -> None:
    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    incident_id = _incident(server, "0813 5555 7002")
    desk.locator(f"#incident-list li[data-id='{incident_id}']").click()
    first = desk.locator("#recs li.rec:not(.busy)").first
    expect(first).to_be_visible(timeout=15000)
    shown = first.inner_text()  # one number format, the Indonesian comma, as in the server's reason
    # The map explains itself: a legend, the place names of this zoom, units at one post as one counted dot.
    expect(desk.locator("#map-legend")).to_contain_text("di pos (tanpa GPS)")
    expect(desk.locator(".leaflet-tooltip.tip-count").first).to_have_text(re.compile(r"^[2-9]$|^\d\d$"))
    expect(desk.locator(".leaflet-tooltip.tip-place").first).to_be_visible()
    assert re.search(r"\d km", shown) and not re.search(r"\d\.\d", shown), shown
    callsign = first.locator("strong").inner_text()
    desk.keyboard.press("1")  # assign the first recommended unit
    assigned = desk.locator("#incident-detail table.assigned tr", has_text=callsign)
    expect(assigned).to_contain_text("Ditugaskan", timeout=15000)
    with server.api("dispatcher") as api:
        row = api.get(f"/api/v1/incidents/{incident_id}").json()["assignments"][0]
    assert row["reason"]  # the recommendation's reason is kept in the assignment history
    dispatcher.shot("11-dispatcher-recommended")

    # Standing the unit down asks why; the crew's phone is told the reason.
    assigned.locator("button.cancel").click()
    dialog = desk.locator("#cancel-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("button[value='ok']").click()  # no reason yet: refused, the dialog stays
    expect(dialog.locator(".error")).to_be_visible()
    dialog.locator("#cancel-dialog-reason").select_option(label="Laporan palsu")
    dialog.locator("#cancel-dialog-more").fill("sudah dicek Polsek")
    dispatcher.shot("11b-dispatcher-cancel-reason")
    dialog.locator("button[value='ok']").click()
    expect(dialog).to_have_count(0)
    expect(assigned).to_contain_text("Dibatalkan", timeout=15000)
    with server.api("dispatcher") as api:
        row = api.get(f"/api/v1/incidents/{incident_id}").json()["assignments"][0]
    assert (row["status"], row["cancel_reason"]) == ("cancelled", "Laporan palsu — sudah dicek Polsek")
    # A refusal from the server is said in Bahasa, with the statuses' own names; its English words kept apart.
    refused = desk.evaluate(
        """async (id) => {
            const api = await import('/static/js/lib/api.js');
            try { await api.post(`/api/v1/assignments/${id}/status`, { status: 'en_route' }); }
            catch (err) { return [err.status, err.message, err.detail]; }
        }""",
        row["id"],
    )
    assert refused[:2] == [409, "Penugasan tidak bisa berpindah dari “Dibatalkan” ke “Menuju lokasi”."]
    assert refused[2].startswith("assignment cannot go from 'cancelled' to 'en_route'")
    no_errors(dispatcher)
    free(server, callsign)


def test_unacknowledged_assignment_escalates(server: Server, open_console: OpenConsole) -> None:
    callsign = "DAMKAR-05-PMK1"
    free(server, callsign)
    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    incident_id = _incident(server, "0813 5555 7003")
    desk.locator(f"#incident-list li[data-id='{incident_id}']").click()
    override(desk, callsign, "Unit rekomendasi tidak di posnya", "pos 1 sedang latihan")
    expect(desk.locator("#incident-detail table.assigned tr", has_text=callsign)).to_contain_text("Ditugaskan")
    with server.api("dispatcher") as api:
        [row] = api.get(f"/api/v1/incidents/{incident_id}").json()["assignments"]
    # Over the recommendation: the reason is asked for and kept (and the ETA, when the recommendation had one).
    assert row["reason"] == "Dipilih dispatcher: Unit rekomendasi tidak di posnya — pos 1 sedang latihan"
    # Nobody acknowledges within ack_timeout_s (10 s in these tests): highlighted, the next unit offered.
    expect(desk.locator("tr.escalation-row")).to_be_visible(timeout=15000)
    expect(desk.locator("tr.escalation-row")).to_contain_text(f"{callsign} belum mengonfirmasi dalam 10 dtk")
    expect(desk.locator(f"#incident-list li[data-id='{incident_id}']")).to_have_class(re.compile("escalated"))
    expect(desk.locator("button.escalate-next")).to_be_visible()  # Padang has free units of the same kind
    # The server decided it, once, in the log; the history says so and a reloaded console shows it at once.
    with server.api("dispatcher") as api:
        log = api.get(f"/api/v1/incidents/{incident_id}/events").json()
    assert [e["data"]["assignment"]["unit_id"] for e in log if e["type"] == "assignment.escalated"] == [
        e["data"]["assignment"]["unit_id"] for e in log if e["type"] == "assignment.created"
    ]
    expect(desk.locator("#history")).to_contain_text(f"{callsign} belum mengonfirmasi dalam 10 dtk")
    dispatcher.shot("14-dispatcher-escalation")
    desk.reload()
    desk.locator(f"#incident-list li[data-id='{incident_id}']").click()
    expect(desk.locator("tr.escalation-row")).to_contain_text(f"{callsign} belum mengonfirmasi", timeout=3000)
    no_errors(dispatcher)
    free(server, callsign)


def test_console_catches_up_after_losing_the_connection(server: Server, open_console: OpenConsole) -> None:
    dispatcher = open_console("dispatcher")
    desk = dispatcher.login("/console")
    expect(desk.locator("#conn")).to_have_class(re.compile("conn-live"))
    dispatcher.context.set_offline(True)
    expect(desk.locator("#offline-banner")).to_be_visible(timeout=5000)
    expect(desk.locator("#conn")).to_have_class(re.compile("conn-offline"))
    missed = [_incident(server, f"0813 6666 80{i:02d}") for i in range(3)]
    dispatcher.shot("12-dispatcher-offline")
    for incident_id in missed:
        expect(desk.locator(f"#incident-list li[data-id='{incident_id}']")).to_have_count(0)
    dispatcher.context.set_offline(False)
    expect(desk.locator("#conn")).to_have_class(re.compile("conn-live"), timeout=10000)
    expect(desk.locator("#offline-banner")).to_be_hidden()
    for incident_id in missed:
        expect(desk.locator(f"#incident-list li[data-id='{incident_id}']")).to_have_count(1, timeout=5000)
    with server.api("dispatcher") as api:
        open_ids = {i["id"] for i in api.get("/api/v1/incidents", params={"open": True}).json()}
    shown = {int(x) for x in desk.locator("#incident-list li").evaluate_all("els => els.map(e => e.dataset.id)")}
    assert shown == open_ids  # nothing missed, nothing twice
    no_errors(dispatcher)


def test_language_switch_is_remembered(server: Server, open_console: OpenConsole) -> None:
    taker = open_console("calltaker")
    page = taker.login("/console")
    expect(page.locator("#tab-intake")).to_contain_text("Penerimaan")
    page.locator("#lang").click()
    expect(page.locator("#tab-intake")).to_contain_text("Call intake")
    page.reload()
    expect(page.locator("#tab-intake")).to_contain_text("Call intake", timeout=5000)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    taker.shot("13-console-english")
    page.locator("#lang").click()
    expect(page.locator("#tab-intake")).to_contain_text("Penerimaan")
    no_errors(taker)


def test_responder_page_weight(server: Server, open_console: OpenConsole) -> None:
    """Everything the phone downloads to show the page (HTML, CSS, JS, texts, first API answers)."""
    responder = open_console("responder", PHONE)
    page: Page = responder.login("/responder")
    cdp = responder.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, int] = {}
    urls: dict[str, str] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])))
    page.reload()
    expect(page.locator("#conn")).to_have_class(re.compile("conn-live"), timeout=10000)
    page.wait_for_load_state("networkidle")
    total = sum(sizes.values())
    assets = sum(size for rid, size in sizes.items() if "/api/" not in urls.get(rid, ""))
    print(
        f"\nresponder page: {total / 1024:.1f} KB transferred ({assets / 1024:.1f} KB page and assets, "
        f"{len(sizes)} requests)"
    )
    assert not any("leaflet" in url or "chart" in url for url in urls.values())
    assert total <= 300 * 1024
    no_errors(responder)
