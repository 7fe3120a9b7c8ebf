"""The access audit (UU PDP): each access to personal data writes its row; admins read them, nobody else."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from dispatch.audit import service as audit
from tests.servers import until
from tests.streams import Inbox
from ui.audit import Buffer, buffer_of
from ui.context import Ctx

Headers = dict[str, dict[str, str]]
URL = "/api/v1/admin/access-audit"


def rows(client: TestClient, **filters: Any) -> list[dict[str, Any]]:
    """Every row so far, newest first, once the buffered ones are written."""
    buffer_of(client.app).flush()
    ctx: Ctx = client.app.state.ctx  # type: ignore[attr-defined]
    with ctx.sessions() as session:
        return [audit.data(r) for r in audit.listing(session=session, limit=500, **filters).rows]


def call(client: TestClient, auth: Headers, caller: str | None = "0812-3456-7890") -> int:
    body = client.post("/api/v1/calls", json={"caller": caller}, headers=auth["call_taker"]).json()
    return int(body["id"])


def test_full_numbers_in_an_answer_write_one_row_per_request_naming_its_calls(
    client: TestClient, auth: Headers
) -> None:
    a, b = call(client, auth), call(client, auth, "+62 811 2222 3333 ext 4")
    before = len(rows(client))  # the two POSTs' own rows (the taker was answered the number typed)
    assert client.get("/api/v1/calls", headers=auth["call_taker"]).status_code == 200
    client.get(f"/api/v1/calls/{a}", headers=auth["call_taker"]).raise_for_status()
    found = rows(client)
    new = found[: len(found) - before]
    assert [(r["action"], r["subject"], r["call_ids"]) for r in new] == [
        ("full_number_seen", f"GET /api/v1/calls/{a}", [a]),
        ("full_number_seen", "GET /api/v1/calls", [a, b]),
    ]
    assert {(r["role"], r["address"]) for r in new} == {("call_taker", "testclient")}
    assert new[0]["username"].startswith("call_taker-")


def test_masked_answers_and_withheld_numbers_write_nothing(client: TestClient, auth: Headers) -> None:
    hidden = call(client, auth, None)
    written = len(rows(client))  # the POST of a withheld number showed none: no row
    assert written == 0
    client.get(f"/api/v1/calls/{hidden}", headers=auth["call_taker"]).raise_for_status()
    shown = call(client, auth)
    written = len(rows(client))
    client.get(f"/api/v1/calls/{shown}", headers=auth["dispatcher"]).raise_for_status()  # masked for dispatchers
    client.get("/api/v1/calls", headers=auth["dispatcher"]).raise_for_status()
    assert len(rows(client)) == written


def test_a_number_looked_up_is_not_written_into_the_audit(client: TestClient, auth: Headers) -> None:
    made = call(client, auth)
    client.get("/api/v1/callers/081234567890", headers=auth["supervisor"]).raise_for_status()
    (row,) = rows(client, action="full_number_seen", username=None)[:1]
    assert (row["subject"], row["call_ids"], row["role"]) == ("GET /api/v1/callers/{number}", [made], "supervisor")
    assert all("3456" not in r["subject"] for r in rows(client))


def test_a_stream_of_full_numbers_writes_a_row_when_it_opens_and_when_it_closes(
    client: TestClient, auth: Headers
) -> None:
    with client.websocket_connect("/ws", headers=auth["call_taker"]) as ws:
        live = Inbox(ws).next()
        opened = rows(client)
        assert [(r["action"], r["subject"]) for r in opened] == [
            ("full_number_stream", f"WS /ws (events after seq {live['seq']})")
        ]
    until(lambda: len(rows(client)) >= 2, "the stream's end was not written")
    found = rows(client)
    assert [r["action"] for r in found] == ["full_number_stream_end", "full_number_stream"]
    with client.websocket_connect("/ws", headers=auth["dispatcher"]) as ws:  # masked: nothing to write
        Inbox(ws).next()
    # A marker: a second call-taker's stream, opened and closed after the dispatcher's. Once its two rows are
    # written, the dispatcher's would have been too (a stream's row is written before its first message).
    with client.websocket_connect("/ws", headers=auth["call_taker"]) as ws:
        Inbox(ws).next()
    until(lambda: len(rows(client)) >= 4, "the marker stream's rows were not written")
    found = rows(client)
    assert [(r["action"], r["role"]) for r in found] == [
        ("full_number_stream_end", "call_taker"),
        ("full_number_stream", "call_taker"),
    ] * 2


def test_a_csv_export_writes_its_row_at_once_and_a_json_report_a_view(client: TestClient, auth: Headers) -> None:
    dropped = call(client, auth)
    client.post(f"/api/v1/calls/{dropped}/end", headers=auth["call_taker"]).raise_for_status()
    before = len(rows(client))
    sup = auth["supervisor"]
    r = client.get("/api/v1/reports/callbacks", params={"format": "csv"}, headers=sup)
    assert r.status_code == 200 and "+6281234567890" in r.text
    client.get("/api/v1/reports/takers", params={"format": "csv"}, headers=sup).raise_for_status()
    client.get("/api/v1/reports/callbacks", headers=sup).raise_for_status()
    found = rows(client)
    new = found[: len(found) - before]
    assert [(r["action"], r["subject"], r["call_ids"]) for r in new] == [
        ("full_number_seen", "GET /api/v1/reports/callbacks", [dropped]),
        ("csv_exported", "CSV call-takers (no full numbers)", []),
        ("csv_exported", "CSV callbacks (full numbers)", [dropped]),  # not also a view
    ]


def test_a_csv_export_fails_closed_and_a_view_fails_open(
    client: TestClient, auth: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = call(client, auth)
    before = len(rows(client))

    def broken(**_kw: Any) -> None:
        raise OperationalError("INSERT INTO access_audit", {}, Exception("disk I/O error"))

    monkeypatch.setattr(audit, "record", broken)
    r = client.get("/api/v1/reports/callbacks", params={"format": "csv"}, headers=auth["supervisor"])
    assert r.status_code == 503 and "audit" in r.json()["error"] and not r.text.startswith("\ufeff")
    seen = client.get(f"/api/v1/calls/{made}", headers=auth["call_taker"])
    assert seen.status_code == 200 and seen.json()["caller"] == "+6281234567890"  # the number is not held back
    buffer = buffer_of(client.app)
    assert buffer.flush() == 0 and len(buffer) == 1  # kept for the next try
    monkeypatch.undo()
    found = rows(client)
    new = found[: len(found) - before]
    assert [(r["action"], r["subject"]) for r in new] == [("full_number_seen", f"GET /api/v1/calls/{made}")]


def test_a_buffer_the_database_never_takes_keeps_the_newest_rows(ctx: Ctx) -> None:
    def down() -> Any:
        raise OperationalError("connect", {}, Exception("database is down"))

    buffer = Buffer(down, limit=3)  # type: ignore[arg-type]
    for n in range(5):
        buffer.add(audit.Entry(audit.AccessAction.full_number_seen, n, f"u{n}", "call_taker", "GET /api/v1/calls"))
    assert buffer.flush() == 0
    assert len(buffer) == 3 and buffer.dropped == 2
    buffer.sessions = ctx.sessions
    assert buffer.flush() == 3
    with ctx.sessions() as session:
        assert [r.username for r in audit.listing(session=session).rows] == ["u4", "u3", "u2"]


def test_admins_read_the_audit_filtered_and_in_pages(client: TestClient, auth: Headers) -> None:
    a = call(client, auth)
    b = call(client, auth, "081399998888")  # another caller: not in the history shown with call a
    client.get(f"/api/v1/calls/{a}", headers=auth["supervisor"]).raise_for_status()
    rows(client)
    admin = auth["admin"]
    everything = client.get(URL, headers=admin).json()
    assert len(everything["rows"]) == 3 and everything["next_before"] is None
    supervisor = everything["rows"][0]["username"]
    assert supervisor.startswith("supervisor-")
    assert [r["call_ids"] for r in client.get(URL, params={"user": supervisor}, headers=admin).json()["rows"]] == [[a]]
    assert [r["call_ids"] for r in client.get(URL, params={"call_id": b}, headers=admin).json()["rows"]] == [[b]]
    assert client.get(URL, params={"action": "csv_exported"}, headers=admin).json()["rows"] == []
    page = client.get(URL, params={"limit": 2}, headers=admin).json()
    assert len(page["rows"]) == 2 and page["next_before"] == page["rows"][-1]["id"]
    rest = client.get(URL, params={"limit": 2, "before": page["next_before"]}, headers=admin).json()
    assert [r["call_ids"] for r in rest["rows"]] == [[a]] and rest["next_before"] is None
    assert client.get(URL, params={"from": "2099-01-01"}, headers=admin).json()["rows"] == []
    assert len(client.get(URL, params={"to": "2099-01-01"}, headers=admin).json()["rows"]) == 3
    assert client.get(URL, params={"to": "2001-01-01"}, headers=admin).json()["rows"] == []


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 501}, {"call_id": 0}, {"call_id": 2**31}, {"before": 0}, {"before": 2**63},
     {"action": "deleted"}, {"from": "1999-12-31"}, {"to": "kemarin"}, {"user": "x" * 65}],
)  # fmt: skip
def test_the_admin_view_refuses_what_is_out_of_bounds(
    client: TestClient, auth: Headers, params: dict[str, Any]
) -> None:
    assert client.get(URL, params=params, headers=auth["admin"]).status_code == 422


def test_only_admins_read_the_audit(client: TestClient, auth: Headers) -> None:
    for role in ("call_taker", "dispatcher", "supervisor", "responder", "telephony"):
        assert client.get(URL, headers=auth[role]).status_code == 403, role
    assert client.get(URL).status_code == 401
