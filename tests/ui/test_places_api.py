"""Learned places over the API: closing incidents teaches the search; a supervisor lists, corrects, removes."""

from __future__ import annotations

from fastapi.testclient import TestClient

Headers = dict[str, dict[str, str]]
WARUNG = (-0.9301, 100.3547)


def close_at(client: TestClient, auth: Headers, address: str) -> None:
    body = {"type_code": "fire_house", "lat": WARUNG[0], "lon": WARUNG[1], "address": address}
    incident = client.post("/api/v1/incidents", json=body, headers=auth["call_taker"]).json()
    done = client.post(
        f"/api/v1/incidents/{incident['id']}/close", json={"closure": "selesai"}, headers=auth["dispatcher"]
    )
    assert done.status_code == 200, done.text


def search(client: TestClient, auth: Headers, q: str) -> list[dict[str, object]]:
    got = client.get("/api/v1/geo/search", params={"q": q}, headers=auth["call_taker"])
    assert got.status_code == 200, got.text
    return list(got.json())


def test_typed_twice_found_the_third_time_then_corrected_and_removed(client: TestClient, auth: Headers) -> None:
    close_at(client, auth, "Simpang Warung Pak Udin")
    assert not [p for p in search(client, auth, "warung pak udin") if p["source"] == "history"]
    close_at(client, auth, "Simpang Warung Pak Udin, No. 4")
    learned = [p for p in search(client, auth, "warung pak udin") if p["source"] == "history"]
    assert [(p["name"], p["kind"], p["kecamatan"]) for p in learned] == [
        ("Simpang Warung Pak Udin", "riwayat", "Padang Barat")
    ]

    sup = auth["supervisor"]
    listed = client.get("/api/v1/places/learned", headers=sup).json()
    assert listed["min_uses"] == 2
    entry = next(p for p in listed["places"] if p["name"] == "Simpang Warung Pak Udin")
    assert (entry["uses"], entry["searchable"]) == (2, True)

    fixed = client.patch(f"/api/v1/places/learned/{entry['id']}", json={"name": "Warung Pak Udin"}, headers=sup)
    assert fixed.status_code == 200 and fixed.json()["corrected"]
    assert search(client, auth, "warung pak udin")[0]["name"] == "Warung Pak Udin"

    far = client.patch(f"/api/v1/places/learned/{entry['id']}", json={"lat": 3.59, "lon": 98.67}, headers=sup)
    assert far.status_code == 422 and "outside Kota Padang" in far.text

    assert client.delete(f"/api/v1/places/learned/{entry['id']}", headers=sup).json()["hidden"]
    assert not [p for p in search(client, auth, "warung pak udin") if p["source"] == "history"]
    hidden = client.get("/api/v1/places/learned", params={"hidden": True}, headers=sup).json()["places"]
    assert [p["id"] for p in hidden] == [entry["id"]]


def test_only_supervisors_and_bad_input(client: TestClient, auth: Headers) -> None:
    for role in ("call_taker", "dispatcher", "responder"):
        assert client.get("/api/v1/places/learned", headers=auth[role]).status_code == 403
    sup = auth["supervisor"]
    assert client.patch("/api/v1/places/learned/999", json={"name": "X Y"}, headers=sup).status_code == 404
    assert client.delete("/api/v1/places/learned/999", headers=sup).status_code == 404
    assert client.patch("/api/v1/places/learned/1", json={"colour": "red"}, headers=sup).status_code == 422
    assert client.patch("/api/v1/places/learned/1", json={"lat": "NaN", "lon": 1}, headers=sup).status_code == 422
    assert client.get("/api/v1/places/learned", params={"limit": 0}, headers=sup).status_code == 422


def test_search_answers_a_street_near_the_incident(client: TestClient, auth: Headers) -> None:
    got = client.get(
        "/api/v1/geo/search",
        params={"q": "pasar raya", "near_lat": -0.95, "near_lon": 100.36},
        headers=auth["call_taker"],
    )
    assert got.status_code == 200 and got.json()[0]["name"] == "Pasar Raya Padang"
    bad = client.get(
        "/api/v1/geo/search", params={"q": "pasar", "near_lat": 95, "near_lon": 1}, headers=auth["call_taker"]
    )
    assert bad.status_code == 422
