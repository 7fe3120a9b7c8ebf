"""The outside test's findings 5 and 6 (out-of-range numbers and dates answered 500; a call dated 9999 breaking
the queue report), each as it was found, on SQLite and PostgreSQL: every integer is bounded to what the database
holds, every date to a sane range, client and bridge times to the present (plus a small skew), and reports
survive an odd row put straight into the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from dispatch.bounds import INT32_MAX, INT64_MAX
from dispatch.calls.models import Call
from dispatch.incidents.models import Assignment, Incident
from dispatch.users.models import User
from ui.context import Ctx

Headers = dict[str, dict[str, str]]
FIRE = {"type_code": "fire_house", "lat": -0.9262, "lon": 100.3560}
Y9999 = "9999-12-31T23:59:59-12:00"  # in UTC, a moment of the year 10000: Python's datetime cannot hold it


def refused(answer: Any, *words: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["kind"] in ("ValidationError", "Invalid"), body
    for word in words:
        assert word in body["error"], body


def rows(ctx: Ctx, table: Any) -> int:
    with ctx.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


# -- finding 5: integers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2**63, 2**31, 0, -1])
def test_an_id_out_of_the_databases_range_is_a_422_not_a_500(client: TestClient, auth: Headers, value: int) -> None:
    admin = auth["admin"]
    refused(client.get(f"/api/v1/calls/{value}", headers=admin), "call_id")
    refused(client.post(f"/api/v1/incidents/1/calls/{value}", headers=admin), "call_id")
    refused(client.get(f"/api/v1/referrals?agency_id={value}", headers=admin), "agency_id")
    refused(client.delete(f"/api/v1/admin/login-locks/{value}", headers=admin), "lock_id")
    refused(client.post(f"/api/v1/units/{value}/position", json={"lat": -0.9, "lon": 100.3}, headers=admin))


def test_the_largest_id_the_database_holds_is_simply_not_found(client: TestClient, auth: Headers) -> None:
    for path in (f"/api/v1/calls/{INT32_MAX}", f"/api/v1/incidents/{INT32_MAX}", f"/api/v1/referrals/{INT32_MAX}"):
        answer = client.get(path, headers=auth["admin"])
        assert answer.status_code == 404, answer.text


def test_events_since_is_bounded_by_the_logs_sequence_numbers(client: TestClient, auth: Headers) -> None:
    refused(client.get(f"/api/v1/events?since={2**63}", headers=auth["admin"]), "since")
    assert client.get(f"/api/v1/events?since={INT64_MAX}", headers=auth["admin"]).json() == []


def test_an_incident_for_a_call_out_of_range_writes_nothing(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    for call_id in (2**63, 2**31):
        refused(client.post("/api/v1/incidents", json={**FIRE, "call_id": call_id}, headers=auth["admin"]), "call_id")
    body = {"agency_id": 2**63, "summary": "lampu jalan mati", "call_id": 2**31}
    refused(client.post("/api/v1/referrals", json=body, headers=auth["admin"]), "agency_id", "call_id")
    assert rows(ctx, Incident) == 0


def test_an_eta_that_is_not_a_number_of_seconds_is_refused(client: TestClient, auth: Headers) -> None:
    incident = client.post("/api/v1/incidents", json=FIRE, headers=auth["call_taker"]).json()
    unit = client.get("/api/v1/units", headers=auth["dispatcher"]).json()[0]["id"]
    path = f"/api/v1/incidents/{incident['id']}/assignments"
    for eta in (b"Infinity", b"1e300"):
        body = b'{"unit_id": %d, "eta_s": %s}' % (unit, eta)
        answer = client.post(path, content=body, headers={**auth["dispatcher"], "content-type": "application/json"})
        refused(answer, "eta_s")


# -- finding 5: dates and times -------------------------------------------------------------------------------


def test_a_unit_position_dated_9999_is_a_422(client: TestClient, auth: Headers) -> None:
    unit = client.get("/api/v1/units", headers=auth["dispatcher"]).json()[0]["id"]
    path = f"/api/v1/units/{unit}/position"
    refused(client.post(path, json={"lat": -0.9, "lon": 100.3, "at": Y9999}, headers=auth["admin"]), "at")
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    refused(client.post(path, json={"lat": -0.9, "lon": 100.3, "at": soon}, headers=auth["admin"]), "future")
    now = datetime.now(UTC).isoformat()
    assert client.post(path, json={"lat": -0.9, "lon": 100.3, "at": now}, headers=auth["admin"]).status_code == 200


@pytest.mark.parametrize("name", ["response-times", "call-mix", "call-mix/daily", "recordings", "follow-up"])
def test_a_report_period_out_of_range_is_a_422(client: TestClient, auth: Headers, name: str) -> None:
    path = f"/api/v1/reports/{name}"
    refused(client.get(f"{path}?from=9999-12-31&to=9999-12-31", headers=auth["supervisor"]), "from", "to")
    refused(client.get(f"{path}?from=0001-01-01", headers=auth["supervisor"]), "from")
    assert client.get(f"{path}?from=2100-12-01&to=2100-12-31", headers=auth["supervisor"]).status_code == 200


def test_the_bridge_may_not_offer_a_call_dated_in_the_future(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    bridge = auth["telephony"]
    refused(client.post("/api/v1/telephony/calls", json={"channel_id": "c-1", "at": Y9999}, headers=bridge), "at")
    soon = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    refused(client.post("/api/v1/telephony/calls", json={"channel_id": "c-2", "at": soon}, headers=bridge), "future")
    batch = {"calls": [{"channel_id": "c-3"}, {"channel_id": "c-4", "at": soon}]}
    refused(client.post("/api/v1/telephony/calls/batch", json=batch, headers=bridge), "future")
    assert rows(ctx, Call) == 0  # the good call of the batch too: a bad batch writes nothing
    skewed = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()  # a PBX clock a little ahead: fine
    assert client.post("/api/v1/telephony/calls", json={"channel_id": "c-5", "at": skewed}, headers=bridge).is_success


def test_the_bridge_may_not_answer_or_end_a_call_in_the_future(client: TestClient, auth: Headers) -> None:
    bridge = auth["telephony"]
    call = client.post("/api/v1/telephony/calls", json={"channel_id": "c-1"}, headers=bridge).json()
    taker = client.get("/api/v1/auth/me", headers=auth["call_taker"]).json()["id"]
    soon = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    path = f"/api/v1/telephony/calls/{call['id']}"
    refused(client.post(f"{path}/answered", json={"taker_id": taker, "at": soon}, headers=bridge), "future")
    refused(client.post(f"{path}/answered", json={"taker_id": taker, "at": Y9999}, headers=bridge), "at")
    refused(client.post(f"{path}/finish", json={"at": soon}, headers=bridge), "future")
    steps = {"calls": [{"call_id": call["id"], "at": soon}]}
    answer = client.post("/api/v1/telephony/calls/finish/batch", json=steps, headers=bridge)
    assert answer.json()[0]["error"]["status"] == 422, answer.text
    trace = {"channel_id": "f-1", "started_at": soon}
    refused(client.post("/api/v1/telephony/calls/fallback", json=trace, headers=bridge), "future")
    trace = {"channel_id": "f-2", "started_at": datetime.now(UTC).isoformat(), "ended_at": soon}
    refused(client.post("/api/v1/telephony/calls/fallback", json=trace, headers=bridge), "future")
    live = client.get(f"/api/v1/calls/{call['id']}", headers=auth["admin"]).json()
    assert live["status"] == "offered" and live["answered_at"] is None and live["ended_at"] is None
    assert client.get("/api/v1/calls?active=false", headers=auth["admin"]).json()[0]["channel_id"] == "c-1"


def test_the_skew_allowed_is_the_settings(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    ctx.region.policy = replace(ctx.region.policy, clock_skew=timedelta(0))  # TANGGAP_CLOCK_SKEW_S=0
    ahead = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    call = {"channel_id": "c-1", "at": ahead}
    refused(client.post("/api/v1/telephony/calls", json=call, headers=auth["telephony"]), "future")
    unit = client.get("/api/v1/units", headers=auth["dispatcher"]).json()[0]["id"]
    fix = {"lat": -0.9, "lon": 100.3, "at": ahead}
    refused(client.post(f"/api/v1/units/{unit}/position", json=fix, headers=auth["admin"]), "future")


# -- finding 6 and odd rows: reports ---------------------------------------------------------------------------

FAR = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)


def test_a_call_dated_9999_leaves_the_queue_report_working(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    """As found: a call the bridge dated 9999 (stored before the bounds) made every supervisor page load 500."""
    call = client.post("/api/v1/telephony/calls", json={"channel_id": "c-1"}, headers=auth["telephony"]).json()
    with ctx.sessions() as s:
        s.execute(update(Call).where(Call.id == call["id"]).values(offered_at=FAR))
        s.commit()
    for name in ("queue", "callbacks", "takers"):
        for fmt in ("json", "csv"):
            answer = client.get(f"/api/v1/reports/{name}?format={fmt}", headers=auth["supervisor"])
            assert answer.status_code == 200, (name, answer.text)
    body = client.get("/api/v1/reports/queue", headers=auth["supervisor"]).json()
    (row,) = body["rows"]
    assert row["call_id"] == call["id"] and row["waiting_s"] == 0 and row["offered_at"].startswith("9999-12-31")
    assert client.get("/api/v1/telephony/queue", headers=auth["supervisor"]).status_code == 200


def test_odd_rows_leave_every_report_working(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    """Odd rows put straight into the database: a call dated 9999, one answered before it rang, one answered
    in the year 9999, an assignment that arrived before it left, NULLs wherever the schema allows them, and a
    call-taker available since the year 1 and 9999."""
    supervisor = auth["supervisor"]
    incident = client.post("/api/v1/incidents", json=FIRE, headers=auth["call_taker"]).json()
    unit = client.get("/api/v1/units", headers=auth["dispatcher"]).json()[0]["id"]
    client.post(f"/api/v1/incidents/{incident['id']}/assignments", json={"unit_id": unit}, headers=auth["dispatcher"])
    now = datetime.now(UTC)
    with ctx.sessions() as s:
        base = {"provider": "manual", "status": "ended", "flagged": False, "is_text": False, "version": 1}
        s.execute(
            insert(Call),
            [
                {**base, "channel_id": "far", "offered_at": FAR, "classification": "abandoned",
                 "caller": "+6281234567890"},
                {**base, "channel_id": "back", "offered_at": now, "answered_at": now - timedelta(hours=1),
                 "ended_at": now - timedelta(hours=2), "recording_ref": "r-1", "incident_id": incident["id"]},
                {**base, "channel_id": "late", "offered_at": now, "answered_at": FAR, "ended_at": FAR,
                 "recording_ref": "r-2", "classification": "bogus", "incident_id": incident["id"]},
                {**base, "channel_id": "ancient", "offered_at": datetime(1, 1, 1, tzinfo=UTC),
                 "classification": "abandoned", "caller": "+6281234567891", "ended_at": FAR},
            ],
        )  # fmt: skip
        s.execute(
            update(Assignment)
            .where(Assignment.incident_id == incident["id"])
            .values(en_route_at=now - timedelta(days=1), on_scene_at=FAR, status="on_scene")
        )
        s.execute(update(Incident).values(dispatched_at=now - timedelta(days=3), on_scene_at=FAR))
        s.execute(update(User).where(User.role == "call_taker").values(available_at=FAR, available=True))
        s.commit()
    for name in ("response-times", "response-times?by=agency", "response-times?by=type", "call-mix",
                 "call-mix/daily", "callbacks", "recordings", "follow-up", "queue", "takers"):  # fmt: skip
        for fmt in ("json", "csv"):
            sep = "&" if "?" in name else "?"
            answer = client.get(f"/api/v1/reports/{name}{sep}format={fmt}", headers=supervisor)
            assert answer.status_code == 200, (name, fmt, answer.text)
    callbacks = client.get("/api/v1/reports/callbacks", headers=supervisor).json()["rows"]
    assert [(r["waiting_min"], r["rang_s"]) for r in callbacks][-1] == (0, None)  # the call dated 9999
    assert client.get("/api/v1/reports/queue", headers=supervisor).json()["rows"] == []  # none is waiting
