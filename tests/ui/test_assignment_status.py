"""A crew's status taps through the API: the tap time, the steps its kind of unit has, a dispatcher's reason for
standing it down, and refusals with a `kind` the phone turns into Bahasa."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dispatch.clock import utcnow

Headers = dict[str, dict[str, str]]
FIRE = {"type_code": "fire_house", "lat": -0.9262, "lon": 100.3560}


def assign(client: TestClient, auth: Headers, callsign: str) -> dict[str, Any]:
    incident = client.post("/api/v1/incidents", json=FIRE, headers=auth["call_taker"]).json()
    units = client.get("/api/v1/units", headers=auth["dispatcher"]).json()
    unit = next(u["id"] for u in units if u["callsign"] == callsign)
    r = client.post(
        f"/api/v1/incidents/{incident['id']}/assignments", json={"unit_id": unit}, headers=auth["dispatcher"]
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def status(client: TestClient, a: dict[str, Any], headers: dict[str, str], **body: Any) -> Any:
    return client.post(f"/api/v1/assignments/{a['id']}/status", json=body, headers=headers)


def test_the_tap_time_is_the_steps_time(client: TestClient, auth: Headers) -> None:
    a = assign(client, auth, "DAMKAR-03-PMK1")
    tapped = datetime.fromisoformat(a["dispatched_at"]) + timedelta(milliseconds=1)
    r = status(client, a, auth["responder"], status="acknowledged", at=tapped.isoformat())
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["acknowledged_at"]) == tapped
    ahead = utcnow() + timedelta(hours=2)  # a wrong clock: received, dated on arrival
    r = status(client, a, auth["responder"], status="en_route", at=ahead.isoformat())
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["en_route_at"]) < ahead - timedelta(hours=1)
    # The latest moment the edge lets through, a year later in UTC: no overflow, just not believed.
    r = status(client, a, auth["responder"], status="on_scene", at="2100-12-31T23:59:59-12:00")
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["on_scene_at"]) < ahead


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59Z", "kemarin", "1999-01-01T00:00:00Z"])
def test_a_tap_time_that_is_no_time_is_422(client: TestClient, auth: Headers, at: str) -> None:
    a = assign(client, auth, "DAMKAR-03-PMK1")
    r = status(client, a, auth["responder"], status="acknowledged", at=at)
    assert r.status_code == 422 and r.json()["kind"] == "ValidationError" and "at" in r.json()["error"]


def test_a_step_the_unit_does_not_have_is_422(client: TestClient, auth: Headers, make_user: Callable[..., str]) -> None:
    """A fire engine is never offered 'transporting'; sent anyway (an old page, a script), it is refused with
    a kind the phone shows in Bahasa. An ambulance has the step."""
    a = assign(client, auth, "DAMKAR-03-PMK1")
    for step in ("en_route", "on_scene"):
        assert status(client, a, auth["responder"], status=step).status_code == 200
    r = status(client, a, auth["responder"], status="transporting")
    assert r.status_code == 422, r.text
    assert r.json() == {
        "error": "unit DAMKAR-03-PMK1 (pumper) carries no patients: it has no step 'transporting'",
        "kind": "Invalid",
    }
    crew = {"Authorization": f"Bearer {make_user('responder', unit='PSC119-03-AMB1')}"}
    amb = assign(client, auth, "PSC119-03-AMB1")
    for step in ("en_route", "on_scene", "transporting", "at_hospital", "cleared"):
        assert status(client, amb, crew, status=step).status_code == 200, step
    units = {u["callsign"]: u for u in client.get("/api/v1/units", headers=crew).json()}
    assert units["PSC119-03-AMB1"]["carries_patients"] and not units["DAMKAR-03-PMK1"]["carries_patients"]


def test_a_cancellation_carries_the_dispatchers_reason_to_the_crew(client: TestClient, auth: Headers) -> None:
    a = assign(client, auth, "DAMKAR-03-PMK1")
    r = status(client, a, auth["dispatcher"], status="cancelled", reason="  penelepon membatalkan  ")
    assert r.status_code == 200 and r.json()["cancel_reason"] == "penelepon membatalkan"
    mine = client.get("/api/v1/assignments/mine", headers=auth["responder"]).json()
    assert next(m for m in mine if m["id"] == a["id"])["cancel_reason"] == "penelepon membatalkan"
    b = assign(client, auth, "DAMKAR-03-PMK1")
    r = status(client, b, auth["dispatcher"], status="cancelled", reason="   ")
    assert r.status_code == 200 and r.json()["cancel_reason"] is None  # blank: no reason given


def test_a_reason_with_another_status_or_too_long_is_422(client: TestClient, auth: Headers) -> None:
    a = assign(client, auth, "DAMKAR-03-PMK1")
    r = status(client, a, auth["responder"], status="en_route", reason="macet")
    assert r.status_code == 422 and "a reason goes with status 'cancelled' only" in r.json()["error"]
    r = status(client, a, auth["dispatcher"], status="cancelled", reason="x" * 301)
    assert r.status_code == 422 and r.json()["kind"] == "ValidationError"
    r = status(client, a, auth["dispatcher"], status="cancelled", reason="salah\x00alamat")
    assert r.status_code in (200, 422), r.text  # SQLite stores a NUL, PostgreSQL cannot (422); never a 500
    assert status(client, a, auth["dispatcher"], status="cancelled", reason="x" * 300).status_code == 200


def test_a_step_refused_by_the_lifecycle_is_409_invalid_transition(client: TestClient, auth: Headers) -> None:
    """The walkthrough's raw English refusal: the phone maps the kind, not the text."""
    a = assign(client, auth, "DAMKAR-03-PMK1")
    assert status(client, a, auth["dispatcher"], status="cancelled").status_code == 200
    r = status(client, a, auth["responder"], status="en_route")
    assert r.status_code == 409 and r.json()["kind"] == "InvalidTransition"
