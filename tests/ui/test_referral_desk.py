"""Complaints that reach the agency over the API (issue 23, finding 8): topics, a referral's place and deadline,
the agency's own desk (role opd) that never sees the caller, and overdue referrals for the supervisor."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from dispatch.clock import utcnow
from dispatch.referrals.models import Referral
from ui.context import Ctx

Headers = dict[str, dict[str, str]]
CALLER = "+6281255556666"


def _refer(client: TestClient, auth: Headers, topic: str, **extra: object) -> dict[str, object]:
    taker = auth["call_taker"]
    call = client.post("/api/v1/calls", json={"caller": "0812-5555-6666"}, headers=taker).json()["id"]
    client.post(f"/api/v1/calls/{call}/answer", headers=taker).raise_for_status()
    [found] = [t for t in client.get("/api/v1/referral-topics", headers=taker).json() if t["code"] == topic]
    body = {"agency_id": found["agency_id"], "call_id": call, "summary": f"{found['name']} di Jl. Sudirman", **extra}
    answer = client.post("/api/v1/referrals", json={**body, "topic": topic}, headers=taker)
    assert answer.status_code == 201, answer.text
    referral: dict[str, object] = answer.json()
    return referral


def test_topics_name_their_agency_and_hours(client: TestClient, auth: Headers) -> None:
    topics = {t["code"]: t for t in client.get("/api/v1/referral-topics", headers=auth["call_taker"]).json()}
    agencies = {a["code"]: a["id"] for a in client.get("/api/v1/agencies", headers=auth["call_taker"]).json()}
    lights = topics["lampu_jalan"]
    assert (lights["agency"], lights["agency_id"], lights["due_hours"]) == ("dishub", agencies["dishub"], 48)
    assert "pju" in lights["keywords"] and lights["name"].startswith("Lampu jalan")


def test_a_referral_carries_its_place_and_deadline_to_the_agency_desk(client: TestClient, auth: Headers) -> None:
    ref = _refer(client, auth, "lampu_jalan", lat=-0.9471, lon=100.3541, address="Jl. Sudirman")
    assert (ref["topic"], ref["lat"], ref["lon"], ref["caller"]) == ("lampu_jalan", -0.9471, 100.3541, CALLER)
    assert ref["due_at"] and ref["overdue"] is False
    _refer(client, auth, "sampah")  # DLH's: not on Dishub's desk

    desk = client.get("/api/v1/opd/referrals", headers=auth["opd"])
    assert desk.status_code == 200
    data = desk.json()
    assert data["agency"]["code"] == "dishub" and data["topics"]["lampu_jalan"]["name"].startswith("Lampu")
    [seen] = data["referrals"]
    assert seen["id"] == ref["id"] and (seen["lat"], seen["due_at"]) == (ref["lat"], ref["due_at"])
    assert "caller" not in seen and "call_id" not in seen and "5555" not in desk.text

    done = client.post(
        f"/api/v1/opd/referrals/{ref['id']}/status", json={"status": "done", "note": "PJU diganti"}, headers=auth["opd"]
    )
    assert done.status_code == 200 and done.json()["status"] == "done" and "caller" not in done.json()
    staff = client.get(f"/api/v1/referrals/{ref['id']}", headers=auth["supervisor"]).json()
    assert (staff["status"], staff["note"]) == ("done", "PJU diganti")


def test_a_desk_cannot_touch_another_agencys_referral(client: TestClient, auth: Headers) -> None:
    theirs = _refer(client, auth, "sampah")
    step = client.post(f"/api/v1/opd/referrals/{theirs['id']}/status", json={"status": "done"}, headers=auth["opd"])
    assert step.status_code == 404
    assert client.get(f"/api/v1/referrals/{theirs['id']}", headers=auth["opd"]).status_code == 403
    assert client.get("/api/v1/calls", headers=auth["opd"]).status_code == 403


def test_overdue_referrals_are_listed_and_counted_for_the_supervisor(
    client: TestClient, auth: Headers, ctx: Ctx
) -> None:
    late, fresh = _refer(client, auth, "jalan_rusak"), _refer(client, auth, "jalan_rusak")
    with ctx.sessions() as session:
        session.execute(update(Referral).where(Referral.id == late["id"]).values(due_at=utcnow() - timedelta(hours=2)))
        session.commit()
    sup = auth["supervisor"]
    overdue = client.get("/api/v1/referrals", params={"overdue": "true"}, headers=sup).json()
    assert [r["id"] for r in overdue] == [late["id"]] and overdue[0]["overdue"] is True
    listed = {r["id"]: r["overdue"] for r in client.get("/api/v1/referrals", headers=sup).json()}
    assert listed == {late["id"]: True, fresh["id"]: False}
    report = client.get("/api/v1/reports/follow-up", headers=sup).json()
    [pupr] = [row for row in report["rows"] if row["agency"] == "pupr"]
    assert (pupr["referred"], pupr["overdue"]) == (2, 1) and "overdue" in report["columns"]


def test_the_desk_lands_on_its_page_and_is_sent_back_from_the_others(client: TestClient, auth: Headers) -> None:
    assert client.get("/opd", headers=auth["opd"]).status_code == 200
    for page in ("/console", "/supervisor", "/responder"):
        answer = client.get(page, headers=auth["opd"], follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/opd")
    assert client.get("/opd", headers=auth["call_taker"], follow_redirects=False).headers["location"] == "/console"
