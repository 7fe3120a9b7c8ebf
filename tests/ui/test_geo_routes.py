"""Geo over the API: locate, search, boundaries, recommendations with reasons, coverage."""

from __future__ import annotations

from fastapi.testclient import TestClient

Headers = dict[str, dict[str, str]]


def test_locate_and_bad_points(client: TestClient, auth: Headers) -> None:
    h = auth["call_taker"]
    got = client.get("/api/v1/geo/locate", params={"lat": -0.9262, "lon": 100.356}, headers=h).json()
    assert got["kecamatan_name"] == "Padang Barat" and got["inside_region"]
    for params, word in [
        ({"lat": 100.356, "lon": -0.9262}, "swapped"),
        ({"lat": "nan", "lon": 100.3}, "finite"),
        ({"lat": -0.9, "lon": 200}, "longitude"),
    ]:
        r = client.get("/api/v1/geo/locate", params=params, headers=h)
        assert r.status_code == 422 and word in r.json()["error"].lower(), r.text


def test_search_typeahead_and_limits(client: TestClient, auth: Headers) -> None:
    h = auth["call_taker"]
    top = client.get("/api/v1/geo/search", params={"q": "Lubeg"}, headers=h).json()[0]
    assert top["name"] == "Lubuk Begalung" and top["accuracy_m"] > 0
    assert client.get("/api/v1/geo/search", params={"q": "   "}, headers=h).status_code == 422
    r = client.get("/api/v1/geo/search", params={"q": "a" * 500}, headers=h)
    assert r.status_code == 422 and "long" in r.json()["error"]


def test_boundaries_are_served_locally(client: TestClient, auth: Headers) -> None:
    doc = client.get("/api/v1/geo/boundaries/kecamatan", headers=auth["dispatcher"]).json()
    assert len(doc["features"]) == 11
    assert client.get("/api/v1/geo/boundaries/../../etc", headers=auth["dispatcher"]).status_code == 404


def test_recommendations_fill_the_plan_with_reasons(client: TestClient, auth: Headers) -> None:
    taker, disp = auth["call_taker"], auth["dispatcher"]
    incident = client.post(
        "/api/v1/incidents", json={"type_code": "fire_house", "lat": -0.9262, "lon": 100.356}, headers=taker
    ).json()
    units = {u["callsign"]: u["id"] for u in client.get("/api/v1/units", headers=disp).json()}
    client.post(
        f"/api/v1/units/{units['DAMKAR-04-PMK1']}/position", json={"lat": -0.92621, "lon": 100.35601}, headers=disp
    )
    got = client.get(f"/api/v1/incidents/{incident['id']}/recommendations", headers=disp).json()
    slots = {s["kind"]: s for s in got["slots"]}
    assert set(slots) == {"damkar", "psc119", "polisi"} and slots["damkar"]["count"] == 2
    first = slots["damkar"]["suggestions"][0]
    assert first["callsign"] == "DAMKAR-04-PMK1" and first["position_source"] == "gps"
    assert "posisi GPS" in first["reason"] and "km" in first["reason"]
    second = slots["damkar"]["suggestions"][1]
    assert second["position_source"] == "station" and "Pos Damkar" in second["reason"]
    assert second["eta_s"] >= first["eta_s"]
    client.post(f"/api/v1/incidents/{incident['id']}/assignments", json={"unit_id": first["unit_id"]}, headers=disp)
    again = client.get(f"/api/v1/incidents/{incident['id']}/recommendations", headers=disp).json()
    damkar = next(s for s in again["slots"] if s["kind"] == "damkar")
    assert damkar["assigned"] == 1 and first["unit_id"] not in [s["unit_id"] for s in damkar["suggestions"]]


def test_recommendations_need_a_location(client: TestClient, auth: Headers) -> None:
    incident = client.post("/api/v1/incidents", json={"type_code": "medical"}, headers=auth["call_taker"]).json()
    r = client.get(f"/api/v1/incidents/{incident['id']}/recommendations", headers=auth["dispatcher"])
    assert r.status_code == 422 and "location" in r.json()["error"]


def test_coverage_per_kelurahan(client: TestClient, auth: Headers) -> None:
    got = client.get("/api/v1/geo/coverage", headers=auth["supervisor"]).json()
    assert len(got["areas"]) == 104 and got["available_units"] > 0
    assert all(a["eta_s"]["damkar"] is not None for a in got["areas"][:5])


def test_island_incident_needs_a_boat(client: TestClient, auth: Headers) -> None:
    """A boat accident off Pulau Sikuai: land units cannot drive there, the SAR boat can."""
    incident = client.post(
        "/api/v1/incidents",
        json={"type_code": "sea_accident", "lat": -1.1276, "lon": 100.3528},
        headers=auth["call_taker"],
    ).json()
    assert incident["kecamatan"] == "Bungus Teluk Kabung"  # the island is part of this kecamatan
    got = client.get(f"/api/v1/incidents/{incident['id']}/recommendations", headers=auth["dispatcher"]).json()
    basarnas = next(s for s in got["slots"] if s["kind"] == "basarnas")["suggestions"]
    boat, land = basarnas[0], basarnas[1]
    assert boat["callsign"].endswith("KPL1") and boat["reachable"]
    assert not land["reachable"] and land["eta_s"] is None and "pulau lain" in land["reason"]


def test_reason_line_in_bahasa() -> None:
    from dispatch.recommend.service import reason_line

    line = reason_line("Pos Damkar Padang Barat", 3200, 370, True, "gps", 40)
    assert line == "Pos Damkar Padang Barat, 3,2 km, ±6 menit, posisi GPS 40 detik lalu"
