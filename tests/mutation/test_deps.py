"""Role checks as an API client meets them: who is let in, and what a refusal says (the levels: ui/access.py)."""

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.conftest import ROLES  # noqa: F401  (the `auth` fixture's roles)

CALLBACKS = "/api/v1/reports/callbacks"  # supervisors only (and admin)
TRIAGE = "/api/v1/telephony/triage"  # the bridge only (require_detached)


def test_no_token_is_told_to_log_in(client: TestClient) -> None:
    answer = client.get(CALLBACKS)
    assert (answer.status_code, answer.json()["error"]) == (401, "login required")
    answer = client.get(TRIAGE)
    assert (answer.status_code, answer.json()["error"]) == (401, "login required")


def test_a_role_without_the_right_is_told_which_roles_have_it(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    answer = client.get(CALLBACKS, headers=auth["dispatcher"])
    refused = (answer.status_code, answer.json()["error"])
    assert refused == (403, "role dispatcher may not do this (needs supervisor, admin)")
    answer = client.get("/api/v1/calls", headers=auth["responder"])
    refused = (answer.status_code, answer.json()["error"])
    assert refused == (403, "role responder may not do this (needs call_taker, dispatcher, supervisor, admin)")


def test_admin_may_do_what_a_supervisor_may(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    assert client.get(CALLBACKS, headers=auth["admin"]).status_code == 200
    assert client.get(CALLBACKS, headers=auth["supervisor"]).status_code == 200


def test_the_bridge_token_reaches_the_bridge_api_and_nothing_a_person_does(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    """Finding 7: the telephony token could create calls, incidents and referrals and read /events and /calls."""
    bridge = auth["telephony"]
    assert client.get(TRIAGE, headers=bridge).status_code == 200
    for method, path in (("GET", "/api/v1/calls"), ("POST", "/api/v1/calls"), ("GET", "/api/v1/events"),
                         ("POST", "/api/v1/incidents"), ("GET", "/api/v1/auth/me")):  # fmt: skip
        answer = client.request(method, path, headers=bridge, json={})
        assert answer.status_code == 403, (method, path)
        assert answer.json()["error"].startswith("role telephony may not do this"), (method, path)
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws", headers=bridge):
        pass
    told = "role telephony may not do this (needs call_taker, dispatcher, responder, supervisor, admin)"
    assert (closed.value.code, closed.value.reason) == (4403, told)


def test_a_person_may_not_use_the_bridge_api_not_even_admin(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    for role in ("admin", "supervisor", "call_taker"):
        answer = client.get(TRIAGE, headers=auth[role])
        assert (answer.status_code, answer.json()["error"]) == (403, f"role {role} may not do this (needs telephony)")


def test_a_token_in_the_query_is_accepted(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    token = auth["supervisor"]["Authorization"].removeprefix("Bearer ")
    assert client.get(CALLBACKS, params={"token": token}).status_code == 200
    assert client.get(CALLBACKS, params={"token": "not-a-token"}).status_code == 401
