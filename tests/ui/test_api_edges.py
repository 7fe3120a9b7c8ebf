"""Bad input at the edge: 4xx with a message, nothing half-written, never a 500; idempotency; roles."""

from __future__ import annotations

from fastapi.testclient import TestClient

Headers = dict[str, dict[str, str]]
FIRE = {"type_code": "fire_house", "lat": -0.9262, "lon": 100.3560}


def count(client: TestClient, h: dict[str, str]) -> int:
    return len(client.get("/api/v1/incidents?open=false", headers=h).json())


def test_login_cookie_and_bearer(client: TestClient, ctx: object) -> None:
    from dispatch.users import service as users
    from tests.conftest import PASSWORD

    with ctx.sessions() as s:  # type: ignore[attr-defined]
        users.create(session=s, username="sari", password=PASSWORD, role="call_taker")
    assert client.post("/api/v1/auth/login", json={"username": "sari", "password": "nope"}).status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "sari", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/v1/auth/me").json()["role"] == "call_taker"
    client.post("/api/v1/auth/logout")
    assert client.get("/api/v1/auth/me").status_code == 401
    token = client.post("/api/v1/auth/token", json={"username": "sari", "password": PASSWORD}).json()["token"]
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_roles_are_enforced(client: TestClient, auth: Headers) -> None:
    assert client.get("/api/v1/incidents").status_code == 401
    r = client.post("/api/v1/incidents/1/assignments", json={"unit_id": 1}, headers=auth["call_taker"])
    assert r.status_code == 403 and "dispatcher" in r.json()["error"]
    assert client.post("/api/v1/calls", json={}, headers=auth["responder"]).status_code == 403


def test_bad_inputs_get_clear_4xx_and_write_nothing(client: TestClient, auth: Headers) -> None:
    h = auth["call_taker"]
    cases = [
        ({**FIRE, "type_code": "ufo"}, 422, "unknown incident type"),
        ({**FIRE, "lat": 91}, 422, "latitude"),
        ({**FIRE, "lat": 100.356, "lon": -0.9262}, 422, "swapped"),
        ({**FIRE, "lat": 3.59, "lon": 98.67}, 422, "outside"),
        ({**FIRE, "extra": 1}, 422, "extra"),
        ({**FIRE, "call_id": 999999}, 404, "call 999999 not found"),
        ({"lat": 1}, 422, "type_code"),
    ]
    for body, status, message in cases:
        r = client.post("/api/v1/incidents", json=body, headers=h)
        assert r.status_code == status, (body, r.text)
        assert message in r.json()["error"], r.text
    r = client.post(
        "/api/v1/incidents",
        content=b'{"type_code": "fire_house", "lat": NaN, "lon": 1}',
        headers={**h, "content-type": "application/json"},
    )
    assert r.status_code == 422
    r = client.post("/api/v1/incidents", content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]
    r = client.post("/api/v1/incidents", content=b"x" * 300_000, headers={**h, "content-type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    assert count(client, h) == 0


def test_illegal_transition_is_409_with_a_message(client: TestClient, auth: Headers) -> None:
    incident = client.post("/api/v1/incidents", json=FIRE, headers=auth["call_taker"]).json()
    unit = next(
        u["id"]
        for u in client.get("/api/v1/units", headers=auth["dispatcher"]).json()
        if u["callsign"] == "DAMKAR-03-PMK1"
    )
    a = client.post(
        f"/api/v1/incidents/{incident['id']}/assignments", json={"unit_id": unit}, headers=auth["dispatcher"]
    ).json()
    r = client.post(f"/api/v1/assignments/{a['id']}/status", json={"status": "at_hospital"}, headers=auth["responder"])
    assert r.status_code == 409 and "from 'dispatched' to 'at_hospital'" in r.json()["error"]
    r = client.post(f"/api/v1/assignments/{a['id']}/status", json={"status": "flying"}, headers=auth["responder"])
    assert r.status_code == 422


def test_same_idempotency_key_creates_one_record(client: TestClient, auth: Headers) -> None:
    h = {**auth["call_taker"], "Idempotency-Key": "intake-7f3a9c21"}
    first = client.post("/api/v1/incidents", json=FIRE, headers=h)
    again = client.post("/api/v1/incidents", json=FIRE, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and again.headers["idempotent-replay"] == "true"
    assert count(client, auth["call_taker"]) == 1
    other_path = client.post("/api/v1/calls", json={"caller": "0812"}, headers=h)
    assert other_path.status_code == 409


def test_responder_sees_only_its_unit_and_masked_numbers(client: TestClient, auth: Headers) -> None:
    taker, disp, resp = auth["call_taker"], auth["dispatcher"], auth["responder"]
    call = client.post("/api/v1/calls", json={"caller": "081234567890"}, headers=taker).json()
    client.post(f"/api/v1/calls/{call['id']}/answer", headers=taker)
    mine = client.post("/api/v1/incidents", json={**FIRE, "call_id": call["id"]}, headers=taker).json()
    other = client.post("/api/v1/incidents", json={**FIRE, "type_code": "medical"}, headers=taker).json()
    assert mine["caller"] == "+6281234567890"
    assert client.get(f"/api/v1/incidents/{mine['id']}", headers=disp).json()["caller"] == "+62812*****890"
    unit = next(u["id"] for u in client.get("/api/v1/units", headers=disp).json() if u["callsign"] == "DAMKAR-03-PMK1")
    client.post(f"/api/v1/incidents/{mine['id']}/assignments", json={"unit_id": unit}, headers=disp)
    assert client.get(f"/api/v1/incidents/{other['id']}", headers=resp).status_code == 403
    got = client.get("/api/v1/assignments/mine", headers=resp).json()
    assert [a["incident"]["id"] for a in got] == [mine["id"]]
    assert got[0]["incident"]["caller"] == "+62812*****890"


def test_healthz_and_openapi(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["bridge"] == {"active": None}  # no ARI bridge runs
    assert health["database"] == "ok" and health["bus"] == "ok"  # the in-process bus cannot go deaf
    assert "/api/v1/incidents" in client.get("/openapi.json").json()["paths"]


def test_an_extension_is_shown_apart_and_masked_with_the_number(client: TestClient, auth: Headers) -> None:
    taker, disp = auth["call_taker"], auth["dispatcher"]
    call = client.post("/api/v1/calls", json={"caller": "+62 812-3456-7890 ext. 5"}, headers=taker).json()
    assert (call["caller"], call["caller_ext"]) == ("+6281234567890", "5")
    seen = client.get(f"/api/v1/calls/{call['id']}", headers=disp).json()
    assert (seen["caller"], seen["caller_ext"]) == ("+62812*****890", "*")  # the extension is masked too


def test_an_answer_with_a_full_number_is_noted_in_the_access_audit(client: TestClient, auth: Headers) -> None:
    """`shown` hands what it answers unmasked to the audit (tests/ui/test_access_audit.py has the rest)."""
    from dispatch.audit import service as audit
    from ui.audit import buffer_of

    made = client.post("/api/v1/calls", json={"caller": "081234567890"}, headers=auth["call_taker"]).json()
    client.get(f"/api/v1/calls/{made['id']}", headers=auth["supervisor"]).raise_for_status()
    buffer_of(client.app).flush()
    with client.app.state.ctx.sessions() as session:  # type: ignore[attr-defined]
        seen = [(r.role, r.subject, r.call_ids) for r in audit.listing(session=session).rows]
    assert seen[0] == ("supervisor", f"GET /api/v1/calls/{made['id']}", f",{made['id']},")
