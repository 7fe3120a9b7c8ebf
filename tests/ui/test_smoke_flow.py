"""The whole path of issue 2 over the API: call -> incident -> assign -> lifecycle, watched on /ws."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.streams import Inbox


def unit_id(client: TestClient, headers: dict[str, str], callsign: str) -> int:
    return next(u["id"] for u in client.get("/api/v1/units", headers=headers).json() if u["callsign"] == callsign)


def test_call_to_closed_incident_streams_every_step(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    taker, disp, resp = auth["call_taker"], auth["dispatcher"], auth["responder"]
    with client.websocket_connect("/ws?since=0", headers=disp) as ws:
        inbox = Inbox(ws)
        assert inbox.next()["type"] == "live"
        call = client.post("/api/v1/calls", json={"caller": "0812-3456-7890"}, headers=taker).json()
        assert call["caller"] == "+6281234567890"
        client.post(f"/api/v1/calls/{call['id']}/answer", headers=taker).raise_for_status()
        incident = client.post(
            "/api/v1/incidents",
            headers=taker,
            json={
                "type_code": "fire_house",
                "call_id": call["id"],
                "lat": -0.9262,
                "lon": 100.3560,
                "location_source": "gazetteer",
                "notes": "rumah terbakar dekat masjid",
            },
        ).json()
        assert incident["kecamatan"] == "Padang Barat"
        unit = unit_id(client, disp, "DAMKAR-03-PMK1")
        a = client.post(f"/api/v1/incidents/{incident['id']}/assignments", json={"unit_id": unit}, headers=disp).json()
        for status in ("acknowledged", "en_route", "on_scene", "cleared"):
            r = client.post(f"/api/v1/assignments/{a['id']}/status", json={"status": status}, headers=resp)
            assert r.status_code == 200, r.text
        closed = client.post(
            f"/api/v1/incidents/{incident['id']}/close", json={"closure": "padam"}, headers=disp
        ).json()
        assert closed["status"] == "closed"
        seen = []
        while not seen or seen[-1] != "incident.closed":
            seen.append(inbox.next()["type"])
    assert seen[0] == "call.offered" and "assignment.created" in seen
    assert seen.count("assignment.status") == 4


def test_a_linked_duplicate_keeps_what_its_caller_said(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    """F8 once dropped the second caller's notes: they go with the call into the incident's timeline."""
    taker = auth["call_taker"]

    def answered(caller: str) -> int:
        call = client.post("/api/v1/calls", json={"caller": caller}, headers=taker).json()
        client.post(f"/api/v1/calls/{call['id']}/answer", headers=taker).raise_for_status()
        return int(call["id"])

    first = answered("0812-3456-7000")
    incident = client.post(
        "/api/v1/incidents",
        headers=taker,
        json={"type_code": "fire_house", "call_id": first, "lat": -0.9262, "lon": 100.3560, "notes": "asap"},
    ).json()
    second, third = answered("0812-3456-7001"), answered("0812-3456-7002")
    linked = client.post(
        f"/api/v1/incidents/{incident['id']}/calls/{second}", json={"notes": "api dari rumah kayu"}, headers=taker
    )
    assert linked.status_code == 200, linked.text
    assert client.post(f"/api/v1/incidents/{incident['id']}/calls/{third}", headers=taker).status_code == 200
    too_long = client.post(
        f"/api/v1/incidents/{incident['id']}/calls/{first}", json={"notes": "x" * 4001}, headers=taker
    )
    assert too_long.status_code == 422

    calls = {c["id"]: c for c in client.get(f"/api/v1/incidents/{incident['id']}", headers=taker).json()["calls"]}
    assert (calls[second]["notes"], calls[third]["notes"]) == ("api dari rumah kayu", None)
    timeline = client.get(f"/api/v1/incidents/{incident['id']}/events", headers=taker).json()
    reports = [(e["data"]["id"], e["data"]["notes"]) for e in timeline if e["type"] == "call.linked"]
    assert reports == [(first, None), (second, "api dari rumah kayu"), (third, None)]
