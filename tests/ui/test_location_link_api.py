"""Location links on the web (ui/routes/location_link.py): the call-taker's API, the caller's page and its POST,
on SQLite and PostgreSQL. The page is public, small, shows nothing of the call; a refused report writes nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from dispatch.calls import links
from dispatch.calls.models import CallerLocation, CallMessage, LocationLink
from dispatch.clock import utcnow
from dispatch.events.models import Event
from ui.context import Ctx
from ui.routes.location_link import Limiter

Headers = dict[str, dict[str, str]]
CALLER = "081266331234"
FIX = {"lat": -0.9471, "lon": 100.4172, "accuracy_m": 35.0}
PAGE_BUDGET = 15 * 1024


def new_call(client: TestClient, auth: Headers, caller: str | None = CALLER) -> int:
    answer = client.post("/api/v1/calls", json={"caller": caller}, headers=auth["call_taker"])
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def new_link(client: TestClient, auth: Headers, call_id: int, **headers: str) -> dict[str, str]:
    answer = client.post(f"/api/v1/calls/{call_id}/location-link", headers={**auth["call_taker"], **headers})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def path_of(link: dict[str, str]) -> str:
    return "/l/" + link["url"].rsplit("/l/", 1)[1]


def written(ctx: Ctx) -> tuple[int, int, int, int]:
    with ctx.sessions() as s:
        count = lambda model: s.scalar(select(func.count()).select_from(model)) or 0  # noqa: E731
        used = s.scalar(select(func.coalesce(func.sum(LocationLink.positions + LocationLink.notes), 0))) or 0
        return count(CallerLocation), count(CallMessage), count(Event), used


def test_a_call_taker_gets_a_link_to_read_out_without_twilio(client: TestClient, auth: Headers) -> None:
    call_id = new_call(client, auth)
    link = new_link(client, auth, call_id)
    assert link["sent_by"] == "none" and link["sms_error"] is None
    assert re.fullmatch(r"http://testserver/l/[a-z2-7]{26}", link["url"]), link["url"]
    token = link["url"].rsplit("/", 1)[1]
    assert link["read_out"].replace("-", "") == link["url"] and link["read_out"].endswith(token[-2:])
    assert timedelta(minutes=29) < datetime.fromisoformat(link["expires_at"]) - utcnow() <= timedelta(minutes=30)
    assert client.post("/api/v1/calls/999999/location-link", headers=auth["call_taker"]).status_code == 404
    refused = client.post(f"/api/v1/calls/{call_id}/location-link", headers=auth["responder"])
    assert refused.status_code == 403


def test_with_sms_the_caller_gets_the_link_in_bahasa(client: TestClient, auth: Headers) -> None:
    sent: list[tuple[str, str]] = []
    client.app.state.sms_send = lambda to, body, callback: sent.append((to, body)) or "SM-1"  # type: ignore[attr-defined]
    link = new_link(client, auth, new_call(client, auth))
    assert link["sent_by"] == "sms"
    assert len(sent) == 1 and sent[0][0] == "+6281266331234"
    assert link["url"] in sent[0][1] and "lokasi" in sent[0][1] and len(sent[0][1]) <= 160
    # Asked twice with one Idempotency-Key (a retry after a lost answer): one link, one SMS.
    call_id = new_call(client, auth, "081266330000")
    first = new_link(client, auth, call_id, **{"Idempotency-Key": "link-key-0001"})
    again = new_link(client, auth, call_id, **{"Idempotency-Key": "link-key-0001"})
    assert first == again and len(sent) == 2


def test_a_refused_sms_or_no_number_leaves_the_link_to_read_out(client: TestClient, auth: Headers) -> None:
    def refuse(to: str, body: str, callback: str | None) -> str:
        raise ConnectionError("Twilio unreachable")

    client.app.state.sms_send = refuse  # type: ignore[attr-defined]
    link = new_link(client, auth, new_call(client, auth))
    assert link["sent_by"] == "none" and "ConnectionError" in str(link["sms_error"])
    sent: list[str] = []
    client.app.state.sms_send = lambda to, body, callback: sent.append(to) or "SM-2"  # type: ignore[attr-defined]
    assert new_link(client, auth, new_call(client, auth, None))["sent_by"] == "none"  # a withheld number
    assert sent == []


def test_a_simulated_callers_link_goes_to_the_simulator_never_twilio(
    client: TestClient, auth: Headers, ctx: Ctx
) -> None:
    sent: list[str] = []
    client.app.state.sms_send = lambda to, body, callback: sent.append(to) or "SM-3"  # type: ignore[attr-defined]
    answer = client.post("/api/v1/calls", json={"caller": CALLER, "provider": "simulator"}, headers=auth["call_taker"])
    assert new_link(client, auth, answer.json()["id"])["sent_by"] == "sms" and sent == []


def test_the_page_is_public_small_and_tells_nothing_of_the_call(client: TestClient, auth: Headers) -> None:
    call_id = new_call(client, auth)
    client.post(f"/api/v1/calls/{call_id}/classify", json={"classification": "emergency", "notes": "RAHASIA-X"},
                headers=auth["call_taker"])  # fmt: skip
    link = new_link(client, auth, call_id)
    page = client.get(path_of(link))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store" and "noindex" in page.headers["x-robots-tag"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    html = page.text
    assert "Lokasi" in html and "English" in html
    for secret in ("0812", "6633", "1234", "+62", "RAHASIA", "emergency", "darurat"):
        assert secret not in html, secret
    other = new_link(client, auth, new_call(client, auth, "081399998888"))
    assert client.get(path_of(other)).content == page.content  # the same page for every call: nothing of one
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html  # the CSP allows no inline
    # Everything the page loads, as a phone on 3G fetches it (uncompressed: the most it can cost).
    assets = [a for a in re.findall(r'(?:src|href)="([^"]+)"', html) if not a.startswith("data:")]
    assert sorted(assets) == ["/static/css/l.css", "/static/js/l.js"]
    total = len(page.content)
    for asset in assets:
        answer = client.get(asset, headers={"accept-encoding": "identity"})
        assert answer.status_code == 200, asset
        total += len(answer.content)
    print(f"location page: {total} bytes with everything it loads")  # the figure for the report (-s)
    assert total <= PAGE_BUDGET, total


def test_bad_or_expired_links_get_a_plain_page(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    link = new_link(client, auth, new_call(client, auth))
    for path in ("/l/" + "a" * 26, "/l/not-a-token", "/l/" + "a" * 300):
        answer = client.get(path)
        assert answer.status_code == 404 and "tidak dikenal" in answer.text and "not known" in answer.text
        assert "<script" not in answer.text
    with ctx.sessions() as s:
        s.execute(update(LocationLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    expired = client.get(path_of(link))
    assert expired.status_code == 410 and "kedaluwarsa" in expired.text and "expired" in expired.text


def test_a_posted_position_reaches_the_call_with_its_accuracy(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    call_id = new_call(client, auth)
    link = new_link(client, auth, call_id)
    answer = client.post(path_of(link), json=FIX)
    assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text
    assert answer.json()["expires_at"] == link["expires_at"]
    found = client.get(f"/api/v1/calls/{call_id}", headers=auth["call_taker"]).json()["locations"]
    assert [(x["source"], x["lat"], x["lon"], x["accuracy_m"]) for x in found] == [("link", -0.9471, 100.4172, 35.0)]
    events = client.get("/api/v1/events?since=0", headers=auth["supervisor"]).json()
    events = events["events"] if isinstance(events, dict) else events
    assert any(e["type"] == "call.location" and e["data"]["source"] == "link" for e in events)
    note = client.post(path_of(link), json={"note": "Lantai 2, pintu hijau"})
    assert note.status_code == 200
    messages = client.get(f"/api/v1/calls/{call_id}", headers=auth["call_taker"]).json()["messages"]
    assert [(m["direction"], m["body"]) for m in messages] == [("in", "Lantai 2, pintu hijau")]
    # No cookie, so no Origin check: a caller's browser that says where it came from is heard all the same.
    spoken = link["read_out"].rsplit("/l/", 1)[1].upper()
    moved = {**FIX, "lat": -0.948}
    with ctx.sessions() as s:  # past the one-position-per-5-s rule
        s.execute(update(LocationLink).values(last_used_at=utcnow() - timedelta(seconds=10)))
        s.commit()
    assert client.post(f"/l/{spoken}", json=moved, headers={"Origin": "https://elsewhere.example"}).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {**FIX, "accuracy_m": 0},
        {**FIX, "accuracy_m": -1},
        {**FIX, "accuracy_m": 1e9},
        {**FIX, "lat": 95},
        {"lat": -0.9471, "lon": 100.4172},  # no accuracy
        {**FIX, "caller": "+6281200000000"},  # nothing else is taken
        {**FIX, "note": "x" * 281},
        {},
        {"note": "   "},
    ],
)
def test_an_absurd_report_is_refused_and_writes_nothing(
    client: TestClient, auth: Headers, ctx: Ctx, body: dict[str, object]
) -> None:
    link = new_link(client, auth, new_call(client, auth))
    before = written(ctx)
    answer = client.post(path_of(link), json=body)
    assert answer.status_code == 422, answer.text
    assert written(ctx) == before


def test_no_token_a_bad_one_or_an_expired_one_writes_nothing(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    link = new_link(client, auth, new_call(client, auth))
    before = written(ctx)
    assert client.post("/l/", json=FIX).status_code in (404, 405)
    assert client.post("/l", json=FIX).status_code in (404, 405)
    assert client.post("/l/" + "a" * 26, json=FIX).status_code == 404
    with ctx.sessions() as s:
        s.execute(update(LocationLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    for _ in range(2):
        answer = client.post(path_of(link), json={**FIX, "note": "tolong"})
        assert answer.status_code == 410 and "kedaluwarsa" in answer.json()["error"]
    assert written(ctx) == before
    content = client.post(path_of(link), content=b"{not json", headers={"content-type": "application/json"})
    assert content.status_code == 422


def test_a_flood_from_one_address_or_on_one_token_is_answered_429(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    link = new_link(client, auth, new_call(client, auth))
    path = path_of(link)
    assert client.post(path, json=FIX).status_code == 200
    assert client.post(path, json={**FIX, "lat": -0.95}).status_code == 429  # a second position within 5 s
    statuses = [client.get(path).status_code for _ in range(40)]
    assert statuses.count(429) > 0 and statuses[0] == 200  # 30 a minute per token
    refused = client.get(path)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    # A guesser: unknown tokens from one address are refused after a few, before the database is asked.
    misses = [client.get(f"/l/{links.new_token()}").status_code for _ in range(25)]
    assert misses[:20] == [404] * 20 and set(misses[20:]) == {429}


def test_the_limiter_forgets_old_hits_and_keys() -> None:
    now = [0.0]
    limiter = Limiter(2, 10, keys=3, clock=lambda: now[0])
    assert [limiter.wait("a"), limiter.wait("a")] == [0, 0]
    assert limiter.wait("a") == 10
    now[0] = 10.5
    assert limiter.wait("a") == 0  # the first two hits are out of the window
    for key in "bcd":
        limiter.wait(key)
    assert limiter.wait("a") == 0 and limiter.wait("a") == 0  # "a" was forgotten: the oldest of four keys


def test_the_create_api_is_in_openapi_and_the_page_is_not(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/calls/{call_id}/location-link"]
    assert set(paths["/l/{token}"]) == {"post"}
