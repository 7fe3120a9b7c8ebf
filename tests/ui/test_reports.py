"""Supervisor reports and complaint referrals over the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import inspect, update

import dispatch.referrals.models  # noqa: F401  (registers the table before the fixtures create the schema)
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.incidents.models import Assignment, Incident
from dispatch.referrals.models import Referral
from dispatch.users import service as users
from ui.context import Ctx

Headers = dict[str, dict[str, str]]
T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 WIB
DAY = "2026-03-02"


def unit_id(client: TestClient, headers: dict[str, str], callsign_prefix: str) -> int:
    return next(
        u["id"]
        for u in client.get("/api/v1/units", headers=headers).json()
        if u["callsign"].startswith(callsign_prefix) and u["status"] == "available"
    )


def agency_id(client: TestClient, headers: dict[str, str], code: str) -> int:
    return next(a["id"] for a in client.get("/api/v1/agencies", headers=headers).json() if a["code"] == code)


def offer(client: TestClient, auth: Headers, caller: str = "081234567890", *, answer: bool = True) -> int:
    call = client.post("/api/v1/calls", json={"caller": caller}, headers=auth["call_taker"]).json()
    if answer:
        client.post(f"/api/v1/calls/{call['id']}/answer", headers=auth["call_taker"]).raise_for_status()
    return int(call["id"])


def set_call(ctx: Ctx, call_id: int, offered: datetime, answered: datetime | None) -> None:
    with ctx.sessions() as s:
        s.execute(update(Call).where(Call.id == call_id).values(offered_at=offered, answered_at=answered))
        s.commit()


def report(client: TestClient, auth: Headers, name: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/v1/reports/{name}", params=params, headers=auth["supervisor"])
    assert r.status_code == 200, r.text
    return r.json()


def rows_by(body: dict[str, Any], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(row[k] for k in keys): row for row in body["rows"]}


def test_answering_fractiles_against_nena(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    for i in range(1, 11):  # answered after 2, 4, ... 20 s
        set_call(ctx, offer(client, auth), T0, T0 + timedelta(seconds=2 * i))
    next_day = T0 + timedelta(days=1)
    set_call(ctx, offer(client, auth), next_day, next_day + timedelta(seconds=99))
    body = report(client, auth, "response-times", **{"from": DAY, "to": DAY})
    row = rows_by(body, "group", "interval")[("*", "answering")]
    assert (row["n"], row["p50_s"], row["p90_s"]) == (10, 10.0, 18.0)
    assert (row["target_s"], row["goal_pct"], row["within_target_pct"], row["met"]) == (15, 90, 70.0, False)
    second = (row["target2_s"], row["goal2_pct"], row["within_target2_pct"], row["met2"])
    assert second == (20, 95, 100.0, True)
    assert body["timezone"] == "Asia/Jakarta"
    assert body["from"] == DAY


def test_days_are_local_days(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    late = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 00:30 WIB on 2 March
    set_call(ctx, offer(client, auth), late, late + timedelta(seconds=5))
    on_day = report(client, auth, "response-times", **{"from": DAY, "to": DAY})
    day_before = report(client, auth, "response-times", **{"from": "2026-03-01", "to": "2026-03-01"})
    assert rows_by(on_day, "group", "interval")[("*", "answering")]["n"] == 1
    assert day_before["rows"] == []


def _incident_with_two_agencies(client: TestClient, auth: Headers, ctx: Ctx) -> int:
    call = offer(client, auth)
    incident = client.post(
        "/api/v1/incidents",
        headers=auth["call_taker"],
        json={
            "type_code": "fire_house",
            "call_id": call,
            "lat": -0.9262,
            "lon": 100.3560,
            "location_source": "gazetteer",
        },
    ).json()
    ids = []
    for prefix in ("DAMKAR", "PSC119"):
        a = client.post(
            f"/api/v1/incidents/{incident['id']}/assignments",
            headers=auth["dispatcher"],
            json={"unit_id": unit_id(client, auth["dispatcher"], prefix)},
        )
        assert a.status_code == 201, a.text
        ids.append(a.json()["id"])
    for a in ids:
        for status in ("en_route", "on_scene"):
            r = client.post(f"/api/v1/assignments/{a}/status", json={"status": status}, headers=auth["dispatcher"])
            assert r.status_code == 200, r.text
    # Rewrite the clock: answered +5 s, dispatched +50 (damkar) / +80 (psc119), en route 70 s later,
    # on scene 200 s after that.
    set_call(ctx, call, T0, T0 + timedelta(seconds=5))
    with ctx.sessions() as s:
        for a, dispatched in zip(ids, (50, 80), strict=True):
            d = T0 + timedelta(seconds=dispatched)
            s.execute(
                update(Assignment)
                .where(Assignment.id == a)
                .values(
                    dispatched_at=d,
                    acknowledged_at=d + timedelta(seconds=70),
                    en_route_at=d + timedelta(seconds=70),
                    on_scene_at=d + timedelta(seconds=270),
                )
            )
        first = T0 + timedelta(seconds=50)
        s.execute(
            update(Incident)
            .where(Incident.id == incident["id"])
            .values(
                created_at=T0 + timedelta(seconds=30),
                dispatched_at=first,
                en_route_at=first + timedelta(seconds=70),
                on_scene_at=first + timedelta(seconds=270),
            )
        )
        s.commit()
    return int(incident["id"])


def test_processing_turnout_travel_total(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    _incident_with_two_agencies(client, auth, ctx)
    rows = rows_by(report(client, auth, "response-times", **{"from": DAY, "to": DAY}), "group", "interval")
    assert rows[("*", "processing")]["p50_s"] == 45.0
    assert rows[("*", "processing")]["met"] is True
    turnout = rows[("*", "turnout")]
    assert turnout["n"] == 2
    assert turnout["target_s"] is None
    assert turnout["within_target_pct"] == 50.0  # 70 s: within 80 s for damkar, not within 60 s for PSC 119
    assert rows[("*", "travel")]["within_target_pct"] == 100.0
    total = rows[("*", "total")]
    assert total["p50_s"] == 320.0
    assert total["target_s"] is None
    assert total["met"] is None


def test_grouped_per_agency_type_and_kecamatan(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    _incident_with_two_agencies(client, auth, ctx)
    agency = rows_by(
        report(client, auth, "response-times", **{"from": DAY, "to": DAY, "by": "agency"}), "group", "interval"
    )
    assert agency[("damkar", "turnout")]["target_s"] == 80
    assert agency[("damkar", "turnout")]["met"] is True
    assert agency[("psc119", "turnout")]["target_s"] == 60
    assert agency[("psc119", "turnout")]["met"] is False
    assert agency[("damkar", "processing")]["p50_s"] == 45.0
    assert agency[("psc119", "processing")]["p50_s"] == 75.0  # to PSC 119's own first dispatch
    assert agency[("*", "answering")]["n"] == 1  # calls belong to no agency
    by_type = rows_by(
        report(client, auth, "response-times", **{"from": DAY, "to": DAY, "by": "type"}), "group", "interval"
    )
    assert by_type[("fire_house", "answering")]["n"] == 1
    assert by_type[("fire_house", "travel")]["group_label"] == "Kebakaran rumah / permukiman"
    by_kec = report(client, auth, "response-times", **{"from": DAY, "to": DAY, "by": "kecamatan"})
    assert {r["group_label"] for r in by_kec["rows"]} == {"Padang Barat"}


def test_csv_export(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    _incident_with_two_agencies(client, auth, ctx)
    r = client.get(
        "/api/v1/reports/response-times",
        headers=auth["supervisor"],
        params={"from": DAY, "to": DAY, "by": "agency", "format": "csv"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "tanggap112-response-times-agency-2026-03-02-2026-03-02.csv" in r.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    damkar = next(t for t in table if t["group"] == "damkar" and t["interval"] == "turnout")
    assert (damkar["target_s"], damkar["met"], damkar["target2_s"]) == ("80.0", "1", "")
    for name in ("call-mix", "call-mix/daily", "callbacks", "follow-up", "queue", "takers"):
        r = client.get(f"/api/v1/reports/{name}", params={"format": "csv"}, headers=auth["supervisor"])
        assert r.status_code == 200, name
        assert r.text.startswith("\ufeff"), name
        assert r.text.splitlines()[0].lstrip("\ufeff") == ",".join(
            client.get(f"/api/v1/reports/{name}", headers=auth["supervisor"]).json()["columns"]
        )


def test_only_supervisors_see_reports(client: TestClient, auth: Headers) -> None:
    for role, expected in (
        ("call_taker", 403),
        ("dispatcher", 403),
        ("responder", 403),
        ("supervisor", 200),
        ("admin", 200),
    ):
        assert client.get("/api/v1/reports/call-mix", headers=auth[role]).status_code == expected, role
    assert client.get("/api/v1/reports/call-mix").status_code == 401


def test_bad_periods_are_refused(client: TestClient, auth: Headers) -> None:
    sup = auth["supervisor"]
    r = client.get("/api/v1/reports/call-mix", params={"from": "2026-03-05", "to": "2026-03-01"}, headers=sup)
    assert r.status_code == 422
    assert "after it ends" in r.json()["error"]
    assert (
        client.get(
            "/api/v1/reports/call-mix", params={"from": "2020-01-01", "to": "2026-01-01"}, headers=sup
        ).status_code
        == 422
    )
    r = client.get("/api/v1/reports/response-times", params={"by": "planet"}, headers=sup)
    assert r.status_code == 422
    assert client.get("/api/v1/reports/call-mix", params={"from": "kemarin"}, headers=sup).status_code == 422


def test_call_mix_and_callbacks(client: TestClient, auth: Headers) -> None:
    taker = auth["call_taker"]
    for kind in ("emergency", "information", "prank", "prank", "ghost"):
        call = offer(client, auth, "0813 1111 2222")
        client.post(f"/api/v1/calls/{call}/classify", json={"classification": kind}, headers=taker)
    dropped = offer(client, auth, "0819-9999-0000", answer=False)
    client.post(f"/api/v1/calls/{dropped}/end", headers=taker).raise_for_status()
    offer(client, auth)  # still talking: unclassified
    mix = report(client, auth, "call-mix")
    counts = {r["classification"]: r["count"] for r in mix["rows"]}
    assert counts == {"emergency": 1, "information": 1, "prank": 2, "ghost": 1, "abandoned": 1, "unclassified": 1}
    assert mix["total"] == 7
    assert mix["abandon_rate_pct"] == 14.3
    assert mix["false_call_rate_pct"] == 42.9
    today = report(client, auth, "call-mix/daily")["rows"][-1]
    assert today["total"] == 7
    assert today["prank"] == 2
    callbacks = report(client, auth, "callbacks")
    assert [r["call_id"] for r in callbacks["rows"]] == [dropped]
    assert callbacks["rows"][0]["caller"] == "+6281999990000"  # a supervisor sees the number to call back
    r = client.get("/api/v1/reports/callbacks", params={"format": "csv"}, headers=auth["supervisor"])
    assert "+6281999990000" in r.text  # a phone number is not a spreadsheet formula; left readable
    client.post(f"/api/v1/calls/{dropped}/callback-done", headers=taker).raise_for_status()
    assert report(client, auth, "callbacks")["rows"] == []


def test_queue_and_call_takers(client: TestClient, auth: Headers) -> None:
    waiting = offer(client, auth, "0812 7777 8888", answer=False)
    talking = offer(client, auth)
    behind = offer(client, auth, "0812 7777 9999", answer=False)
    queue = report(client, auth, "queue")
    assert [(r["position"], r["call_id"]) for r in queue["rows"]] == [(1, waiting), (2, behind)]
    client.post(f"/api/v1/calls/{behind}/end", headers=auth["call_taker"]).raise_for_status()
    queue = report(client, auth, "queue")
    assert queue["waiting"] == 1
    takers = report(client, auth, "takers")
    assert [(r["state"], r["call_id"]) for r in takers["rows"]] == [("on_call", talking)]
    assert takers["on_call"] == 1


def test_recordings_newest_first_with_who_answered_and_how_long(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    first, unrecorded, second = offer(client, auth), offer(client, auth), offer(client, auth, "0813 5555 6666")
    with ctx.sessions() as s:
        for call_id in (first, second):
            calls.set_recording(session=s, call_id=call_id, ref=f"tanggap112-call-{call_id}-1", actor="asterisk")
    set_call(ctx, first, T0, T0 + timedelta(seconds=4))
    set_call(ctx, second, T0 + timedelta(minutes=5), T0 + timedelta(minutes=5, seconds=3))
    for call_id in (first, second, unrecorded):
        client.post(f"/api/v1/calls/{call_id}/end", headers=auth["call_taker"]).raise_for_status()
    with ctx.sessions() as s:
        s.execute(update(Call).where(Call.id == first).values(ended_at=T0 + timedelta(seconds=94)))
        s.commit()
    body = report(client, auth, "recordings", **{"from": DAY, "to": DAY})
    assert [r["call_id"] for r in body["rows"]] == [second, first] and body["shown"] == 2
    row = body["rows"][1]
    assert (row["talk_s"], row["caller"], row["offered_at"]) == (90.0, "+6281234567890", "2026-03-02T10:00:00+07:00")
    assert row["taker"].startswith("call_taker-")  # no display name: the username
    csv_text = client.get(
        "/api/v1/reports/recordings", params={"from": DAY, "to": DAY, "format": "csv"}, headers=auth["supervisor"]
    ).text
    assert "talk_s" in csv_text and str(second) in csv_text
    assert client.get("/api/v1/reports/recordings", headers=auth["call_taker"]).status_code == 403
    assert client.get("/api/v1/reports/recordings", params={"from": "x"}, headers=auth["supervisor"]).status_code == 422


def test_referral_follow_up(client: TestClient, auth: Headers, ctx: Ctx) -> None:
    taker, disp = auth["call_taker"], auth["dispatcher"]
    call = offer(client, auth, "0812-5555-6666")
    client.post(f"/api/v1/calls/{call}/classify", json={"classification": "information"}, headers=taker)
    body = {
        "agency_id": agency_id(client, taker, "dlh"),
        "call_id": call,
        "summary": "=sampah menumpuk di pasar",
        "address": "Pasar Raya",
    }
    key = {"Idempotency-Key": "referral-test-0001"}
    first = client.post("/api/v1/referrals", json=body, headers={**taker, **key})
    again = client.post("/api/v1/referrals", json=body, headers={**taker, **key})
    assert first.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    ref = first.json()
    assert (ref["status"], ref["caller"], ref["summary"]) == ("referred", "+6281255556666", body["summary"])
    assert client.get(f"/api/v1/referrals/{ref['id']}", headers=disp).json()["caller"] != "+6281255556666"
    other = client.post(
        "/api/v1/referrals",
        headers=taker,
        json={"agency_id": agency_id(client, taker, "pupr"), "summary": "jalan berlubang"},
    ).json()
    assert [r["id"] for r in client.get("/api/v1/referrals", headers=disp).json()] == [other["id"], ref["id"]]

    step = client.post(f"/api/v1/referrals/{ref['id']}/status", json={"status": "in_progress"}, headers=disp)
    assert step.status_code == 200
    assert step.json()["in_progress_at"]
    done = client.post(
        f"/api/v1/referrals/{ref['id']}/status", json={"status": "done", "note": "diangkut"}, headers=disp
    ).json()
    assert done["done_at"]
    assert done["note"] == "diangkut"
    back = client.post(f"/api/v1/referrals/{ref['id']}/status", json={"status": "in_progress"}, headers=disp)
    assert back.status_code == 409
    assert back.json()["kind"] == "InvalidTransition"
    client.post(
        f"/api/v1/referrals/{other['id']}/status", json={"status": "rejected", "note": "bukan kewenangan"}, headers=disp
    ).raise_for_status()
    assert client.get("/api/v1/referrals", headers=disp).json() == []
    assert len(client.get("/api/v1/referrals", params={"open": False}, headers=disp).json()) == 2

    rows = rows_by(report(client, auth, "follow-up"), "agency")
    dlh = rows[("dlh",)]
    assert (dlh["referred"], dlh["done"], dlh["follow_up_pct"]) == (1, 1, 100.0)
    assert (rows[("pupr",)]["rejected"], rows[("pupr",)]["follow_up_pct"]) == (1, 0.0)
    assert rows[("damkar",)]["referred"] == 0
    assert rows[("damkar",)]["follow_up_pct"] is None
    types = [e["type"] for e in client.get("/api/v1/events", headers=auth["supervisor"]).json()]
    assert types.count("referral.created") == 2
    assert types.count("referral.status") == 3


def test_referral_needs_a_known_agency_and_a_taker(client: TestClient, auth: Headers) -> None:
    r = client.post("/api/v1/referrals", json={"agency_id": 9999, "summary": "x"}, headers=auth["call_taker"])
    assert r.status_code == 422
    r = client.post("/api/v1/referrals", json={"agency_id": 1, "summary": "x"}, headers=auth["responder"])
    assert r.status_code == 403


def test_migration_matches_the_model(database_url: str) -> None:
    from alembic.config import Config

    from alembic import command
    from dispatch.db import make_engine
    from ui.cli import ALEMBIC_DIR

    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(cfg, "head")  # the referrals table as its migrations (0010, 0024) leave it
    engine = make_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        found = inspect(engine)
        assert {c["name"] for c in found.get_columns("referrals")} == set(Referral.__table__.columns.keys())
        indexes = {i.name for i in Referral.__table__.indexes}
        assert {i["name"] for i in found.get_indexes("referrals")} == indexes
        command.downgrade(cfg, "0001")
        assert "referrals" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_period_defaults_to_the_last_week() -> None:
    from zoneinfo import ZoneInfo

    from dispatch.reports.period import period

    p = period(None, None, ZoneInfo("Asia/Makassar"), today=date(2026, 3, 10))
    assert (p.first, p.last) == (date(2026, 3, 4), date(2026, 3, 10))
    assert p.start == datetime(2026, 3, 3, 16, 0, tzinfo=UTC)  # midnight WITA


def test_the_daily_call_mix_counts_each_call_on_its_local_day(ctx: Ctx) -> None:
    """Days are the region's, not UTC's: 15:59 UTC is 23:59 in Makassar (WITA), 16:01 UTC is 00:01 next day."""
    from zoneinfo import ZoneInfo

    from dispatch.calls import service as calls
    from dispatch.reports.calls import call_mix_daily
    from dispatch.reports.period import Period

    with ctx.sessions() as session:
        for minute, channel in ((59, "late"), (61, "early")):  # 15:59 and 16:01 UTC on 1 March
            at = datetime(2026, 3, 1, 15, tzinfo=UTC) + timedelta(minutes=minute)
            calls.offer(session=session, caller="081234567890", provider="manual", channel_id=channel, at=at)
        days = call_mix_daily(
            session=session, period=Period(date(2026, 2, 28), date(2026, 3, 2), ZoneInfo("Asia/Makassar"))
        )
    assert [(r["date"], r["total"]) for r in days.rows] == [("2026-02-28", 0), ("2026-03-01", 1), ("2026-03-02", 1)]


def test_call_takers_as_the_shift_sees_them(
    client: TestClient, auth: Headers, ctx: Ctx, make_user: Callable[..., str]
) -> None:
    """A call-taker who answers call after call from the console without pressing "Siap" was listed as "Tidak
    siap": now writing up the call just ended, and every call answered today is counted."""
    talking = offer(client, auth)
    client.post(f"/api/v1/calls/{talking}/end", headers=auth["call_taker"]).raise_for_status()
    make_user("call_taker", username="taker-home")  # never logged in: off shift
    on_shift = "taker-desk"
    make_user("call_taker", username=on_shift)
    with ctx.sessions() as s:
        user = users.find_active(session=s, username=on_shift)
        assert user is not None
        users.issue_token(session=s, user=user, kind="session", lifetime=timedelta(hours=1))
    rows = {r["username"]: r for r in report(client, auth, "takers")["rows"]}
    first = next(r for name, r in rows.items() if name.startswith("call_taker-"))
    assert (first["state"], first["calls_today"]) == ("wrap_up", 1)
    assert (rows["taker-home"]["state"], rows[on_shift]["state"]) == ("off", "away")
    # Two minutes after the call the write-up is over: not ready (logged in by token only: off shift).
    with ctx.sessions() as s:
        s.execute(update(Call).where(Call.id == talking).values(ended_at=datetime.now(UTC) - timedelta(minutes=3)))
        s.commit()
    first = next(r for r in report(client, auth, "takers")["rows"] if r["username"] == first["username"])
    assert (first["state"], first["calls_today"]) == ("off", 1)
