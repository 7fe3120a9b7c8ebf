"""Every route of the app against the one table of who reaches what (ui/access.py; issue 22, finding 7: the
telephony token had a call-taker's powers).

Each route has exactly one rule: the access level of its `require` dependency, of its page (`ui.pages.PAGES`) or
of its websocket, or an entry in `ui.access.PUBLIC`. A new route without one fails here, by name. Then every
role, and nobody, is sent to every route: refused (403, a page's redirect, a websocket's 4403) exactly where
the level does not let the role in, and told to log in (401, the login page, 4401) when nobody is logged in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect

from config.settings import Settings
from dispatch.users.models import Role
from tests.conftest import ROLES  # noqa: F401  (the `auth` fixture's roles)
from ui import access, pages, stream
from ui.access import REACH, Level
from ui.app import create_app
from ui.deps import require, require_detached
from ui.routes import offer_stream

Headers = dict[str, dict[str, str]]
Route = tuple[str, str]  # (method, path); "WS" for a websocket
PUBLIC = "public"
# Websockets check their level themselves (closing with 4401/4403), not with a dependency.
WEBSOCKETS: dict[str, Level] = {"/ws": stream.LEVEL, offer_stream.PATH: offer_stream.LEVEL}
EVERY_ROLE = tuple(role.value for role in Role)
DUMMY = "999999"  # an id nothing has: an allowed role gets 404 (or 422), never 403


@pytest.fixture
def settings(database_url: str) -> Settings:
    """With Twilio configured, so that an unsigned webhook is refused for its signature (403), not 503."""
    return Settings(database_url=database_url, region="padang", twilio_auth_token=SecretStr("twilio-token-for-tests"))


def _levels(dependant: Dependant) -> Iterator[Level]:
    for dep in dependant.dependencies:
        if isinstance(dep.call, (require, require_detached)):
            yield dep.call.level
        yield from _levels(dep)


def _rules(route: Any) -> list[str]:
    path = route.path
    dependant = getattr(route, "dependant", None)  # None for Starlette's own routes (/openapi.json)
    rules: list[str] = sorted(set(_levels(dependant))) if dependant else []
    if route.endpoint.__module__ == pages.__name__ and path[1:] in pages.PAGES:
        rules.append(pages.PAGES[path[1:]])
    if path in access.PUBLIC or path.startswith(access.SIGNED_BY_TWILIO):
        rules.append(PUBLIC)
    return rules


def route_rules(app: FastAPI) -> dict[Route, list[str]]:
    """Every (method, path) the app answers, the non-API ones (pages, websockets) too, with its rules."""
    found: dict[Route, list[str]] = {}
    for route in iter_route_contexts(app.routes):
        path = str(route.path)
        if route.methods is None:  # a websocket
            found["WS", path] = [WEBSOCKETS[path]] if path in WEBSOCKETS else []
            continue
        for method in route.methods - {"HEAD"}:
            found[method, path] = _rules(route)
    return found


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The app as built, for its routes alone: no database is reached."""
    return create_app(Settings(database_url="sqlite://", region="padang"))


def test_every_route_has_exactly_one_rule(app: FastAPI) -> None:
    table = route_rules(app)
    documented = {
        (m.upper(), p) for p, ops in TestClient(app).get("/openapi.json").json()["paths"].items() for m in ops
    }
    assert documented <= table.keys(), documented - table.keys()
    assert {("GET", "/console"), ("GET", "/docs"), ("WS", "/ws"), ("GET", "/openapi.json")} <= table.keys()
    assert ("DELETE", "/api/v1/admin/login-locks/{lock_id}") in table
    wrong = sorted(f"{m} {p}: {' and '.join(rules) or 'no rule'}" for (m, p), rules in table.items() if len(rules) != 1)
    assert not wrong, "every route needs exactly one rule (ui/access.py):\n" + "\n".join(wrong)
    paths = {path for _, path in table}
    assert set(access.PUBLIC) <= paths, set(access.PUBLIC) - paths  # no stale entry


def test_the_table_names_every_role_and_the_bridge_reaches_only_its_api(app: FastAPI) -> None:
    named = {role for roles in REACH.values() for role in roles}
    assert named == set(EVERY_ROLE)
    assert [level for level, roles in REACH.items() if "telephony" in roles] == ["telephony"]
    assert [level for level, roles in REACH.items() if "admin" not in roles] == ["responder", "telephony", "opd"]
    # An agency's desk reaches its page and its agency's referrals, nothing of the center's.
    assert [level for level, roles in REACH.items() if "opd" in roles] == ["opd"]
    desk = {route for route, rules in route_rules(app).items() if rules[0] == "opd"}
    assert desk == {
        ("GET", "/opd"),
        ("GET", "/api/v1/opd/referrals"),
        ("POST", "/api/v1/opd/referrals/{referral_id}/status"),
    }, desk
    reached = {route for route, rules in route_rules(app).items() if rules[0] == "telephony"}
    assert reached and all(path.startswith("/api/v1/telephony/") for _, path in reached), reached
    assert ("POST", "/api/v1/telephony/calls") in reached and ("WS", offer_stream.PATH) in reached
    assert ("GET", "/api/v1/telephony/queue") not in reached  # the supervisors'


def test_levels_are_checked_by_name() -> None:
    assert access.allows("supervisor", "admin") and not access.allows("supervisor", "dispatcher")
    assert not access.allows("telephony", "admin") and access.allows("telephony", "telephony")
    assert access.refusal("field", "call_taker") == (
        "role call_taker may not do this (needs responder, dispatcher, supervisor, admin)"
    )


@pytest.fixture
def ids(client: TestClient, auth: Headers) -> dict[str, str]:
    """Path parameters: an incident with an assignment of the responder's own unit (a responder may read only
    those), and ids that match nothing for the rest."""
    fire = {"type_code": "fire_house", "lat": -0.9262, "lon": 100.3560}
    incident = client.post("/api/v1/incidents", json=fire, headers=auth["call_taker"]).json()["id"]
    units = client.get("/api/v1/units", headers=auth["dispatcher"]).json()
    unit = next(u["id"] for u in units if u["callsign"] == "DAMKAR-03-PMK1")  # the `auth` responder's
    answer = client.post(
        f"/api/v1/incidents/{incident}/assignments", json={"unit_id": unit}, headers=auth["dispatcher"]
    )
    assert answer.status_code == 201, answer.text
    return {
        "incident_id": str(incident),
        "unit_id": str(unit),
        "assignment_id": str(answer.json()["id"]),
        "number": "081234567890",
        "level": "kecamatan",
    }


def _url(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: ids.get(m.group(1), DUMMY), path)


def _outcome(client: TestClient, method: str, url: str, headers: dict[str, str]) -> tuple[str, str]:
    """("in" | "refused" | "login", what the server said)."""
    if method == "WS":
        try:
            with client.websocket_connect(url, headers=headers):
                return "in", "accepted"
        except WebSocketDisconnect as closed:
            return {4401: "login", 4403: "refused"}.get(closed.code, "in"), f"{closed.code} {closed.reason}"
    answer = client.request(method, url, headers=headers, follow_redirects=False)
    if answer.status_code == 303:  # a page
        where = answer.headers["location"]
        return ("login" if where.startswith("/login?next=") else "refused"), f"303 {where}"
    said = answer.json()["error"] if answer.status_code in (401, 403) else ""
    return {401: "login", 403: "refused"}.get(answer.status_code, "in"), f"{answer.status_code} {said}"


def test_each_role_is_let_in_exactly_where_its_level_says(
    client: TestClient, auth: Headers, ids: dict[str, str]
) -> None:
    wrong: list[str] = []
    for (method, path), (rule,) in sorted(route_rules(client.app).items()):  # type: ignore[arg-type]
        if rule == PUBLIC:
            continue
        level: Level = rule  # type: ignore[assignment]
        url = _url(path, ids)
        for role in (None, *EVERY_ROLE):
            expected = "login" if role is None else "in" if access.allows(level, role) else "refused"
            got, said = _outcome(client, method, url, auth[role] if role else {})
            if got != expected:
                wrong.append(f"{method} {path} as {role or 'nobody'}: {said} (level {level}, expected {expected})")
            elif got == "refused" and role is not None:  # told why (the API, a websocket) or sent home (a page)
                told = access.refusal(level, role)
                if said not in (f"403 {told}", f"4403 {told}", f"303 {pages.HOME.get(role, '/login?role=none')}"):
                    wrong.append(f"{method} {path} as {role}: refused with {said!r}")
    assert not wrong, "\n".join(wrong)


def test_public_routes_need_no_login_and_twilio_webhooks_a_signature(client: TestClient) -> None:
    for (method, path), (rule,) in sorted(route_rules(client.app).items()):  # type: ignore[arg-type]
        if rule != PUBLIC or path == "/api/v1/auth/logout":
            continue
        got, said = _outcome(client, method, _url(path, {"path": "js/login.js", "name": "swagger-ui.css"}), {})
        assert got != "login", f"{method} {path}: {said}"
        if path.startswith(access.SIGNED_BY_TWILIO):
            assert said == "403 invalid Twilio signature", f"{method} {path}: {said}"
    assert client.post("/api/v1/auth/logout").json() == {"ok": True}
