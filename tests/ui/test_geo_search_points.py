"""The location field's search (GET /api/v1/geo/search) answering typed coordinates, Plus Codes and map links
as one point, placed like a gazetteer place; and refusing what is neither a name nor a usable point."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from openlocationcode import openlocationcode as olc

Headers = dict[str, dict[str, str]]
HOUSE = (-0.9471, 100.4172)  # kelurahan Piai Tangah, kecamatan Pauh


def search(client: TestClient, auth: Headers, q: str) -> Any:
    return client.get("/api/v1/geo/search", params={"q": q}, headers=auth["call_taker"])


@pytest.mark.parametrize(
    ("q", "accuracy_m"),
    [
        ("-0,9471 100,4172", 11.1),
        ("100.4172, -0.9471", 11.1),
        ("0°56'49.6\"S 100°25'01.9\"E", 3.1),
        ("0°56'49.6\" LS 100°25'01.9\" BT", 3.1),
        ("https://maps.google.com/maps?q=-0.9471%2C100.4172&z=17&hl=en", 11.1),  # WhatsApp
        ("https://www.openstreetmap.org/?mlat=-0.9471&mlon=100.4172#map=17/-0.9471/100.4172", 11.1),
        ("https://maps.apple.com/?ll=-0.9471,100.4172&q=Dropped%20Pin", 11.1),
        (f"{olc.encode(*HOUSE)[4:]} Padang", 13.9),  # short Plus Code: "Padang" from the region's gazetteer
    ],
)
def test_a_pasted_coordinate_is_one_place_with_its_kelurahan(
    client: TestClient, auth: Headers, q: str, accuracy_m: float
) -> None:
    r = search(client, auth, q)
    assert r.status_code == 200, r.text
    [got] = r.json()
    assert got["kind"] == "koordinat" and got["name"].startswith("-0,947")
    assert got["lat"] == pytest.approx(HOUSE[0], abs=2e-4) and got["lon"] == pytest.approx(HOUSE[1], abs=2e-4)
    assert got["accuracy_m"] == pytest.approx(accuracy_m, abs=0.1)
    assert (got["kecamatan"], got["kelurahan"], got["inside_region"]) == ("Pauh", "Piai Tangah", True)
    assert got["distance_m"] is None


def test_shape_is_that_of_a_gazetteer_place(client: TestClient, auth: Headers) -> None:
    place = search(client, auth, "Lubeg").json()[0]
    point = search(client, auth, "-0.9471 100.4172").json()[0]
    assert set(place) <= set(point)
    assert point["name"] == "-0,94710, 100,41720"


def test_a_point_just_outside_is_answered_with_its_distance(client: TestClient, auth: Headers) -> None:
    [got] = search(client, auth, "-0.8000, 100.6000").json()
    assert got["inside_region"] is False and got["kecamatan"] is None
    assert got["nearest_kecamatan"] == "Pauh" and 5_000 < got["distance_m"] < 7_500


@pytest.mark.parametrize(
    ("q", "words"),
    [
        ("-6.2000, 106.8166", ["km outside", "cannot take it"]),  # Jakarta: as /geo/locate answers
        ("lat 100.4172 lon -0.9471", ["swapped"]),
        ("https://maps.google.com/?q=NaN,NaN", ["finite"]),
        ("-0.9471, 200.4172", ["out of range"]),
        ("https://maps.app.goo.gl/Xk3pY7fQ2abCdE9u8", ["internet", "koordinat"]),
        ("-0.9, 100.4", ["terlalu kasar"]),
        ("%%%$$", ["Lokasi tidak dikenali", "Location not recognised", "LS", "BT"]),
        ("12,5", ["satu angka"]),
        ("3C38+5V Jakarta", ["tidak ditemukan"]),
    ],
)
def test_a_failed_coordinate_is_refused_with_a_reason(
    client: TestClient, auth: Headers, q: str, words: list[str]
) -> None:
    r = search(client, auth, q)
    assert r.status_code == 422, r.text
    assert r.json()["kind"] == "Invalid"
    assert all(w in r.json()["error"] for w in words), r.json()["error"]


def test_names_still_search_and_a_name_without_match_is_an_empty_list(client: TestClient, auth: Headers) -> None:
    assert search(client, auth, "Kuranji").json()[0]["name"] == "Kuranji"
    assert search(client, auth, "SD Negeri 12").status_code == 200
    nothing = search(client, auth, "Qwxzv")
    assert nothing.status_code == 200 and nothing.json() == []  # type-ahead: the console says "tidak dikenali"
