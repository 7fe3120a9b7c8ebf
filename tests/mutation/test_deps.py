"""Role checks as an API client meets them: who is let in, and what a refusal says."""

from fastapi.testclient import TestClient

from tests.conftest import ROLES  # noqa: F401  (the `auth` fixture's roles)

CALLBACKS = "/api/v1/reports/callbacks"  # supervisors only (and admin)


def test_no_token_is_told_to_log_in(client: TestClient) -> None:
    answer = client.get(CALLBACKS)
    assert (answer.status_code, answer.json()["error"]) == (401, "login required")


def test_a_role_without_the_right_is_told_which_roles_have_it(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    answer = client.get(CALLBACKS, headers=auth["dispatcher"])
    refused = (answer.status_code, answer.json()["error"])
    assert refused == (403, "role dispatcher may not do this (needs supervisor)")
    answer = client.get("/api/v1/calls", headers=auth["responder"])
    refused = (answer.status_code, answer.json()["error"])
    assert refused == (403, "role responder may not do this (needs call_taker, dispatcher, supervisor, telephony)")


def test_admin_may_do_what_a_supervisor_may(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    assert client.get(CALLBACKS, headers=auth["admin"]).status_code == 200
    assert client.get(CALLBACKS, headers=auth["supervisor"]).status_code == 200


def test_a_token_in_the_query_is_accepted(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    token = auth["supervisor"]["Authorization"].removeprefix("Bearer ")
    assert client.get(CALLBACKS, params={"token": token}).status_code == 200
    assert client.get(CALLBACKS, params={"token": "not-a-token"}).status_code == 401
