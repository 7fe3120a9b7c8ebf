"""The alerts API: CAP in by a supervisor's POST (4xx with the reason, nothing written), live alerts for the
consoles, confirmation of an alert without an area, and an incident as CAP out (no caller's data)."""

from __future__ import annotations

import xmlschema
from fastapi.testclient import TestClient

from tests.cap_samples import XSD, fresh, raw

Headers = dict[str, dict[str, str]]
XML = {"content-type": "application/xml"}


def post_cap(client: TestClient, h: dict[str, str], document: bytes, **headers: str) -> object:
    return client.post("/api/v1/alerts/cap", content=document, headers={**h, **XML, **headers})


def test_a_supervisor_posts_cap_and_the_consoles_list_it(client: TestClient, auth: Headers) -> None:
    r = post_cap(client, auth["supervisor"], fresh("bmkg_gempa_padang.xml"))
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["action"] == "created" and body["relevant_to_region"] is True
    assert body["alert"]["banner"] is True and body["alert"]["source"] == "api"
    again = post_cap(client, auth["admin"], fresh("bmkg_gempa_padang.xml"), **{"content-type": "text/xml"})
    assert again.json()["action"] == "unchanged"  # type: ignore[attr-defined]
    for role in ("call_taker", "dispatcher"):
        listed = client.get("/api/v1/alerts", headers=auth[role]).json()
        assert [a["identifier"] for a in listed] == ["20240415143022"]
        assert listed[0]["headline"].startswith("Gempa Mag:6.2")
    one = client.get(f"/api/v1/alerts/{listed[0]['id']}", headers=auth["call_taker"])
    assert one.status_code == 200 and one.json()["area"]["circles"] == [[-1.1, 99.95, 150]]


def test_only_supervisors_and_admins_post_or_confirm(client: TestClient, auth: Headers) -> None:
    for role in ("call_taker", "dispatcher", "responder", "telephony"):
        r = post_cap(client, auth[role], fresh("bmkg_gempa_padang.xml"))
        assert r.status_code == 403, role  # type: ignore[attr-defined]
        assert client.post("/api/v1/alerts/1/confirm", headers=auth[role]).status_code == 403
    assert client.get("/api/v1/alerts", headers=auth["responder"]).status_code == 403
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts", headers=auth["supervisor"]).json() == []


def test_bad_documents_get_4xx_with_the_reason_and_write_nothing(client: TestClient, auth: Headers) -> None:
    h = auth["supervisor"]
    hostile = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    cases = [
        (hostile, XML, 422, "DTD, entitas dan rujukan luar tidak diizinkan"),
        (b"<alert>", XML, 422, "not well-formed XML"),
        (raw("bmkg_cuaca_padang.xml").replace(b"cap:1.2", b"cap:1.1"), XML, 422, "not a CAP 1.2 <alert>"),
        (fresh("bmkg_cuaca_padang_cancel.xml"), XML, 404, "never received"),
        (fresh("bmkg_gempa_padang.xml"), {"content-type": "application/json"}, 415, "application/xml"),
        (b"<alert>" + b"x" * 300_000 + b"</alert>", XML, 413, "too large"),
    ]
    for document, headers, status, reason in cases:
        r = client.post("/api/v1/alerts/cap", content=document, headers={**h, **headers})
        assert r.status_code == status, (reason, r.text)
        assert reason in r.json()["error"], r.text
    assert client.get("/api/v1/alerts?all=true", headers=h).json() == []


def test_update_and_cancel_end_the_alert_and_outside_alerts_raise_nothing(client: TestClient, auth: Headers) -> None:
    h = auth["supervisor"]
    for name in ("bmkg_cuaca_padang.xml", "bmkg_cuaca_padang_update.xml", "bmkg_cuaca_jatim.xml"):
        assert post_cap(client, h, fresh(name)).status_code == 200  # type: ignore[attr-defined]
    live = {a["identifier"]: a for a in client.get("/api/v1/alerts", headers=h).json()}
    assert live["CSB20240415003"]["banner"] is True and live["CSB20240415003"]["version"] == 2
    assert live["CJI20240415007"]["banner"] is False and live["CJI20240415007"]["relevance"] == "outside"
    r = post_cap(client, h, fresh("bmkg_cuaca_padang_cancel.xml"))
    assert r.json()["action"] == "cancelled"  # type: ignore[attr-defined]
    assert [a["identifier"] for a in client.get("/api/v1/alerts", headers=h).json()] == ["CJI20240415007"]
    assert len(client.get("/api/v1/alerts?all=true", headers=h).json()) == 2


def test_a_supervisor_confirms_an_alert_without_an_area(client: TestClient, auth: Headers) -> None:
    body = post_cap(client, auth["supervisor"], fresh("inatews_latihan_tsunami.xml")).json()  # type: ignore[attr-defined]
    alert = body["alert"]
    assert body["relevant_to_region"] is None and alert["awaiting_confirmation"] and alert["exercise"]
    assert not alert["banner"]
    r = client.post(f"/api/v1/alerts/{alert['id']}/confirm", headers=auth["supervisor"])
    assert r.status_code == 200 and r.json()["alert"]["banner"] is True
    outside = post_cap(client, auth["supervisor"], fresh("bmkg_cuaca_jatim.xml")).json()  # type: ignore[attr-defined]
    r = client.post(f"/api/v1/alerts/{outside['alert']['id']}/confirm", headers=auth["supervisor"])
    assert r.status_code == 409 and "Hanya peringatan tanpa wilayah" in r.json()["error"]
    assert client.post("/api/v1/alerts/999999/confirm", headers=auth["supervisor"]).status_code == 404
    assert client.post("/api/v1/alerts/0/confirm", headers=auth["supervisor"]).status_code == 422


def test_alert_events_reach_the_stream(client: TestClient, auth: Headers) -> None:
    post_cap(client, auth["supervisor"], fresh("bmkg_gempa_padang.xml"))
    events = client.get("/api/v1/events?since=0", headers=auth["dispatcher"]).json()
    alert_events = [e for e in events if e["type"].startswith("alert.")]
    assert [e["type"] for e in alert_events] == ["alert.received"]
    assert alert_events[0]["data"]["alert"]["banner"] is True


def test_an_incident_exports_as_cap_without_the_caller(client: TestClient, auth: Headers) -> None:
    call = client.post("/api/v1/calls", json={"caller": "081266331234"}, headers=auth["call_taker"]).json()
    incident = client.post(
        "/api/v1/incidents",
        json={"type_code": "fire_house", "lat": -0.9262, "lon": 100.3560, "call_id": call["id"],
              "address": "Jl. Melati No. 7", "notes": "Pelapor Budi Santoso, 0812-6633-1234"},
        headers=auth["call_taker"],
    ).json()  # fmt: skip
    r = client.get(f"/api/v1/incidents/{incident['id']}/cap", headers=auth["dispatcher"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    xmlschema.XMLSchema(str(XSD)).validate(r.text)
    for secret in ("+6281266331234", "081266331234", "0812-6633-1234", "Budi", "Melati"):
        assert secret not in r.text, secret
    assert client.get(f"/api/v1/incidents/{incident['id']}/cap", headers=auth["responder"]).status_code == 403
    assert client.get("/api/v1/incidents/999999/cap", headers=auth["dispatcher"]).status_code == 404
