"""The outside test's findings (issue 22: 1-4 and 9), each reproduced as it was found, and the good paths beside
them: login throttling and the password pool, cross-origin requests and websockets on a cookie session, the
redirect after login, and the hardening of /docs, caching and the session cookie."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator

from config.settings import Settings
from dispatch.users import hashing
from dispatch.users.models import LoginLock
from tests.conftest import PASSWORD
from tests.servers import until
from tests.streams import Inbox
from ui.app import create_app
from ui.context import Ctx, build
from ui.middleware import SecurityHeaders
from ui.origin import origin_of
from ui.pages import safe_next
from ui.routes.auth import checking_of

ROOT = Path(__file__).resolve().parents[2]
Headers = dict[str, dict[str, str]]
MakeUser = Callable[..., str]
TWILIO_TOKEN = "twilio-auth-token-for-tests"
EVIL = "http://127.0.0.1:9391"  # the outside test's page: another port of the same host
OWN = "http://testserver"  # where TestClient's requests go: the server's own origin


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, region="padang", twilio_auth_token=SecretStr(TWILIO_TOKEN))


class Clock:
    """The time the login throttle reads (app.state.clock): moved by the test, never slept on."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(client: TestClient) -> Clock:
    clock = Clock()
    client.app.state.clock = clock  # type: ignore[attr-defined]
    return clock


def log_in(client: TestClient, username: str, password: str = PASSWORD, **headers: str) -> Any:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password}, headers=headers)


def lock_retry(answer: Any) -> int:
    assert answer.status_code == 429, answer.text
    assert answer.json()["kind"] == "LoginLocked" and "coba lagi" in answer.json()["error"]
    assert int(answer.headers["retry-after"]) == answer.json()["retry_after_s"]
    return int(answer.headers["retry-after"])


# -- 1. login throttling -------------------------------------------------------------------------------------


def test_fifty_wrong_passwords_then_the_right_one_waits_for_the_lock(
    client: TestClient, make_user: MakeUser, clock: Clock
) -> None:
    make_user("dispatcher", username="dewi")
    answers = [log_in(client, "dewi", "tebakan-salah").status_code for _ in range(50)]
    assert answers == [401] * 5 + [429] * 45  # from the 6th on, refused before any password is checked
    assert lock_retry(log_in(client, "dewi")) == 30  # the right password waits too
    clock.advance(29)
    assert lock_retry(log_in(client, "dewi")) == 1
    clock.advance(1)
    assert log_in(client, "dewi").status_code == 200
    assert client.get("/api/v1/auth/me").json()["username"] == "dewi"


def test_each_failure_after_a_lock_doubles_it_up_to_the_cap(ctx: Ctx, make_user: MakeUser) -> None:
    ctx.settings = ctx.settings.model_copy(update={"login_lock_after": 2, "login_lock_max_s": 100})
    make_user("call_taker", username="budi")
    clock = Clock()
    with TestClient(create_app(ctx=ctx)) as client:
        client.app.state.clock = clock  # type: ignore[attr-defined]
        locks = []
        for _ in range(5):
            while (answer := log_in(client, "budi", "salah-lagi")).status_code == 401:
                pass
            locks.append(lock_retry(answer))
            clock.advance(locks[-1])
        assert locks == [30, 60, 100, 100, 100]


def test_a_right_password_clears_the_count(client: TestClient, make_user: MakeUser, clock: Clock) -> None:
    make_user("call_taker", username="sari")
    for _ in range(4):
        assert log_in(client, "sari", "salah").status_code == 401
    assert log_in(client, "sari").status_code == 200
    for _ in range(4):
        assert log_in(client, "sari", "salah").status_code == 401  # four more, not one: the count began again
    assert log_in(client, "sari").status_code == 200


def test_usernames_that_do_not_exist_are_locked_alike(client: TestClient, clock: Clock) -> None:
    """Or the lock would tell which usernames exist."""
    answers = [log_in(client, "tidak-ada", "apa-saja").status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]


def test_an_address_that_tries_many_accounts_is_locked_for_all(ctx: Ctx, make_user: MakeUser) -> None:
    ctx.settings = ctx.settings.model_copy(update={"login_lock_after_address": 4})
    make_user("dispatcher", username="rina")
    app = create_app(ctx=ctx)
    clock = Clock()
    app.state.clock = clock
    with TestClient(app, client=("10.9.0.66", 4000)) as attacker, TestClient(app, client=("10.9.0.7", 4000)) as desk:
        answers = [log_in(attacker, f"user{n}", "tebakan").status_code for n in range(5)]
        assert answers == [401] * 4 + [429]
        assert lock_retry(log_in(attacker, "rina")) == 30  # every account, from that address
        assert log_in(desk, "rina").status_code == 200  # the same account from another console


def test_the_count_is_shared_by_every_server_of_the_database(ctx: Ctx, make_user: MakeUser) -> None:
    """Behind nginx each attempt may reach another server: the count and the lock live in the database."""
    make_user("dispatcher", username="joko")
    other = build(ctx.settings)  # a second server: its own engine and app, the same database
    try:
        with TestClient(create_app(ctx=ctx)) as first, TestClient(create_app(ctx=other)) as second:
            for client in (first, second, first, second, first):
                assert log_in(client, "joko", "salah").status_code == 401
            lock_retry(log_in(second, "joko"))
            lock_retry(log_in(first, "joko"))
    finally:
        other.engine.dispose()


def test_counts_are_forgotten_after_a_quiet_hour(client: TestClient, make_user: MakeUser, clock: Clock) -> None:
    make_user("dispatcher", username="tono")
    for _ in range(4):
        assert log_in(client, "tono", "salah").status_code == 401
    clock.advance(4 * 900 + 1)  # four times the longest lock
    for _ in range(4):
        assert log_in(client, "tono", "salah").status_code == 401
    assert log_in(client, "tono").status_code == 200


def test_old_counts_are_dropped_now_and_then(client: TestClient, ctx: Ctx, clock: Clock) -> None:
    """A flood of made-up usernames leaves a row each; an hour's quiet later they go."""
    for n in range(3):
        assert log_in(client, f"orang{n}", "salah").status_code == 401
    clock.advance(4 * 900 + 61)
    assert log_in(client, "baru", "salah").status_code == 401
    with ctx.sessions() as session:
        assert set(session.scalars(select(LoginLock.subject))) == {"baru", "testclient"}


def test_an_admin_sees_the_locks_and_lifts_one(
    client: TestClient, make_user: MakeUser, auth: Headers, clock: Clock
) -> None:
    make_user("call_taker", username="wati")
    for _ in range(5):
        log_in(client, "wati", "salah")
    lock_retry(log_in(client, "wati"))
    assert client.get("/api/v1/admin/login-locks", headers=auth["supervisor"]).status_code == 403
    locks = client.get("/api/v1/admin/login-locks", headers=auth["admin"]).json()
    assert [(lock["kind"], lock["subject"], lock["failures"], lock["retry_after_s"]) for lock in locks] == [
        ("account", "wati", 5, 30)
    ]
    lifted = client.delete(f"/api/v1/admin/login-locks/{locks[0]['id']}", headers=auth["admin"])
    assert lifted.status_code == 200 and lifted.json()["subject"] == "wati"
    assert client.get("/api/v1/admin/login-locks", headers=auth["admin"]).json() == []
    assert log_in(client, "wati").status_code == 200
    gone = client.delete(f"/api/v1/admin/login-locks/{locks[0]['id']}", headers=auth["admin"])
    assert gone.status_code == 404


def test_api_tokens_are_throttled_too(client: TestClient, make_user: MakeUser, clock: Clock) -> None:
    make_user("telephony", username="bridge-x")
    body = {"username": "bridge-x", "password": "salah"}
    answers = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]


def test_a_full_password_pool_answers_503_at_once(client: TestClient, make_user: MakeUser) -> None:
    make_user("dispatcher", username="eka")
    pool = hashing.HashPool(1, 0)
    client.app.state.hash_pool = pool  # type: ignore[attr-defined]
    pool.inside = pool.room  # as if a check were running
    answer = log_in(client, "eka")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "2"
    assert answer.json()["kind"] == "Busy" and "coba lagi" in answer.json()["error"]
    pool.inside = 0
    assert log_in(client, "eka").status_code == 200


def test_one_password_check_per_account_at_a_time(client: TestClient, make_user: MakeUser) -> None:
    """A flood at one account would fill the pool with guesses that all pass the lock before the first fails."""
    make_user("dispatcher", username="fajar")
    checking_of(client.app).add("fajar")  # type: ignore[arg-type]  # a check of fajar's password is running
    answer = log_in(client, "fajar")
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1" and answer.json()["kind"] == "Busy"
    checking_of(client.app).discard("fajar")  # type: ignore[arg-type]
    assert log_in(client, "fajar").status_code == 200
    assert checking_of(client.app) == set()  # type: ignore[arg-type]


async def test_the_pool_checks_so_many_queues_so_many_and_refuses_the_rest() -> None:
    pool = hashing.HashPool(1, 1)
    stored = hashing.hash_password("kata-sandi-benar")
    running = asyncio.ensure_future(pool.check(stored, "kata-sandi-benar"))
    queued = asyncio.ensure_future(pool.check(stored, "salah"))
    await asyncio.sleep(0)
    assert pool.full
    with pytest.raises(hashing.Busy):
        await pool.check(stored, "kata-sandi-benar")
    assert list(await asyncio.gather(running, queued)) == [True, False]
    for _ in range(500):  # the done callbacks hop back onto the loop: wait for them, 5 s at most
        if pool.inside == 0:
            break
        await asyncio.sleep(0.01)
    assert pool.inside == 0 and not pool.full
    # In a worker process at the lowest priority: below everything else on the machine, the server included.
    assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in pool.workers.pids()] == [19]


async def test_a_worker_that_dies_is_replaced() -> None:
    pool = hashing.HashPool(1, 0)
    stored = hashing.hash_password("kata-sandi-benar")
    assert await pool.check(stored, "kata-sandi-benar")
    [pid] = pool.workers.pids()
    os.kill(pid, 9)  # as the kernel does to a process that takes too much memory
    with contextlib.suppress(hashing.Busy):  # the check that finds it dead may be refused
        await pool.check(stored, "kata-sandi-benar")
    assert await pool.check(stored, "kata-sandi-benar")
    assert pool.workers.pids() != [pid]


def test_a_forked_child_checks_passwords_with_a_pool_of_its_own() -> None:
    """A child forked after a check (mutmut forks one per mutant) has none of the parent's pool threads: a check
    handed to them waited for ever. Nor may it stop the parent's workers, which still check the parent's logins."""
    pool = hashing.HashPool(1, 0)
    stored = hashing.hash_password("kata-sandi-benar")
    assert asyncio.run(pool.check(stored, "kata-sandi-benar"))  # the parent's thread and worker now run
    [parents] = pool.workers.pids()
    inherited = pool.workers
    child = os.fork()
    if child == 0:  # the child answers by its exit code only, and leaves pytest's state alone
        code = 1
        try:
            checked = asyncio.run(asyncio.wait_for(pool.check(stored, "kata-sandi-benar"), 10))
            own = pool.workers.pids()
            inherited.stop()  # as its exit would: the parent's workers are not its children, and stay
            code = 0 if checked and own and parents not in own else 2
        finally:
            os._exit(code)
    status: list[int] = []

    def exited() -> bool:
        pid, code = os.waitpid(child, os.WNOHANG)
        status.extend([code] if pid else [])
        return bool(pid)

    try:
        until(exited, "the forked child neither finished its check nor gave up on it", deadline_s=30)
    finally:
        if not status:
            os.kill(child, 9)
            os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status[0])
    assert code == 0, f"{code}: 1, the child's check never finished; 2, it used the parent's pool"
    assert pool.workers.pids() == [parents]
    assert not asyncio.run(pool.check(stored, "salah"))  # the parent's pool still answers


def test_a_server_hashes_passwords_at_argon2ids_full_cost() -> None:
    """The tests' own users get cheap hashes (tests/conftest.py); a server, in a process of its own, does not."""
    code = "from dispatch.users.hashing import hash_password, _stand_in; print(hash_password('x')); print(_stand_in())"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    hashed, stand_in = run.stdout.split()
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and stand_in.startswith("$argon2id$v=19$m=65536,t=3,")


def test_a_password_check_without_a_user_does_the_same_work() -> None:
    stored = hashing.hash_password("kata-sandi-benar")
    assert hashing.matches(stored, "kata-sandi-benar")
    assert not hashing.matches(stored, "salah")
    assert not hashing.matches(None, "not anybody's password")  # the stand-in's own password lets nobody in
    assert not hashing.matches("not-a-hash", "x")


# -- 2. cross-origin state changes on a cookie session ------------------------------------------------------


def live_call(client: TestClient, auth: Headers) -> int:
    answer = client.post("/api/v1/calls", json={"caller": "081234567890"}, headers=auth["call_taker"])
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def status_of(client: TestClient, auth: Headers, call_id: int) -> str:
    return str(client.get(f"/api/v1/calls/{call_id}", headers=auth["supervisor"]).json()["status"])


def test_another_port_of_the_host_cannot_end_a_call_with_the_cookie(
    client: TestClient, make_user: MakeUser, auth: Headers
) -> None:
    """The outside test's page at 127.0.0.1:9391: fetch(..., {method: 'POST', mode: 'no-cors', credentials:
    'include'}) while a dispatcher was logged in ended the live call."""
    call_id = live_call(client, auth)
    make_user("dispatcher", username="dispatcher-1")
    assert log_in(client, "dispatcher-1").status_code == 200
    forged = client.post(f"/api/v1/calls/{call_id}/end", headers={"Origin": EVIL})
    assert forged.status_code == 403
    assert "situs lain ditolak" in forged.json()["error"] and EVIL in forged.json()["error"]
    assert status_of(client, auth, call_id) != "ended"
    own = client.post(f"/api/v1/calls/{call_id}/end", headers={"Origin": OWN})  # the console itself
    assert own.status_code == 200 and status_of(client, auth, call_id) == "ended"


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Origin": "null"}, False),  # a sandboxed frame or a data: page
        ({"Origin": "http://testserver.evil.example"}, False),
        ({"Origin": "https://testserver"}, False),  # another scheme is another origin
        ({"Origin": "http://testserver:8080"}, False),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),  # another port or subdomain of this site
        ({"Sec-Fetch-Site": "same-origin"}, True),
        ({}, True),  # curl and old clients say nothing
        ({"Origin": "HTTP://TESTSERVER:80"}, True),
        ({"Origin": "http://127.0.0.1:8112"}, True),  # the bind address (TANGGAP_HOST, TANGGAP_PORT)
    ],
)
def test_what_counts_as_this_servers_own_page(
    client: TestClient, make_user: MakeUser, headers: dict[str, str], allowed: bool
) -> None:
    make_user("call_taker", username="ani")
    assert log_in(client, "ani").status_code == 200
    answer = client.post("/api/v1/me/availability", json={"available": True}, headers=headers)
    assert answer.status_code == (200 if allowed else 403), answer.text


def test_the_public_url_is_an_own_origin(ctx: Ctx, make_user: MakeUser) -> None:
    """Behind nginx the browser's Origin is the public https address, whatever Host the server saw."""
    ctx.settings = ctx.settings.model_copy(update={"public_url": "https://112.padang.go.id/"})
    make_user("call_taker", username="ida")
    with TestClient(create_app(ctx=ctx), base_url="https://testserver") as client:  # the cookie is Secure
        assert log_in(client, "ida").status_code == 200
        ok = client.post(
            "/api/v1/me/availability", json={"available": True}, headers={"Origin": "https://112.padang.go.id"}
        )
        assert ok.status_code == 200
        bad = client.post(
            "/api/v1/me/availability", json={"available": True}, headers={"Origin": "http://112.padang.go.id"}
        )
        assert bad.status_code == 403


def test_bearer_clients_are_not_asked_where_they_come_from(client: TestClient, auth: Headers) -> None:
    call_id = live_call(client, auth)
    answer = client.post(f"/api/v1/calls/{call_id}/end", headers={**auth["dispatcher"], "Origin": EVIL})
    assert answer.status_code == 200


def test_signed_twilio_webhooks_are_not_asked_either(client: TestClient, make_user: MakeUser) -> None:
    make_user("dispatcher", username="dispatcher-2")
    assert log_in(client, "dispatcher-2").status_code == 200  # a cookie in the jar changes nothing
    form = {"CallSid": "CA-security-1", "From": "+6281234567890", "To": "+6275112", "CallStatus": "ringing"}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{OWN}/telephony/twilio/voice", form)
    answer = client.post("/telephony/twilio/voice", data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200 and "<Enqueue" in answer.text


def test_another_site_cannot_log_out_or_log_in_this_browser(client: TestClient, make_user: MakeUser) -> None:
    make_user("dispatcher", username="dispatcher-3")
    assert log_in(client, "dispatcher-3", Origin=EVIL).status_code == 403
    assert log_in(client, "dispatcher-3").status_code == 200
    assert client.post("/api/v1/auth/logout", headers={"Origin": EVIL}).status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200  # still logged in
    assert client.post("/api/v1/auth/logout", headers={"Origin": OWN}).status_code == 200


def test_origins_are_compared_as_browsers_write_them() -> None:
    assert origin_of("HTTPS://112.Padang.go.id:443/cad/") == "https://112.padang.go.id"
    assert origin_of("ws://127.0.0.1:8112") == "http://127.0.0.1:8112"
    assert origin_of("http://[::1]:8112") == "http://[::1]:8112"
    assert origin_of("null") is None
    assert origin_of("http://host:port") is None
    assert origin_of("file:///etc/passwd") is None


# -- 3. the websocket -------------------------------------------------------------------------------------------


def test_another_site_cannot_open_the_event_stream_with_the_cookie(client: TestClient, make_user: MakeUser) -> None:
    make_user("supervisor", username="sup-1")
    assert log_in(client, "sup-1").status_code == 200
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/ws?since=0", headers={"Origin": EVIL}),
    ):
        pass
    assert refused.value.code == 4403
    with client.websocket_connect("/ws?since=0", headers={"Origin": OWN}) as ws:
        assert Inbox(ws).until("live")[-1]["type"] == "live"


def test_a_websocket_with_a_token_in_the_query_is_not_a_cookie_session(client: TestClient, auth: Headers) -> None:
    token = auth["supervisor"]["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(f"/ws?token={token}", headers={"Origin": EVIL}) as ws:
        assert Inbox(ws).until("live")[-1]["type"] == "live"


# -- 4. the redirect after login ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "/%09/evil.example/",  # the outside test's: a browser drops the tab and goes to //evil.example/
        "/%0a/evil.example/",
        "/%0d/evil.example/",
        "//evil.example/",
        "/%2F/evil.example/",
        "/%5Cevil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/%2509/evil.example/",  # encoded twice
        "/console%00",
    ],
)
def test_next_that_leaves_the_server_is_dropped(client: TestClient, raw: str) -> None:
    answer = client.get(f"/login?next={raw}&role=none", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?role=none")
    assert safe_next(unquote(raw)) == "/"  # as the page's script reads it from its address


@pytest.mark.parametrize("raw", ["/console", "/supervisor?from=2026-12-01", "/console?q=a%20b", "/"])
def test_next_on_this_server_is_kept(client: TestClient, raw: str) -> None:
    answer = client.get(f"/login?next={quote(raw, safe='')}", follow_redirects=False)
    assert answer.status_code == 200 and "login.js" in answer.text
    assert safe_next(raw) == raw


def test_the_login_page_script_applies_the_same_rules() -> None:
    from ui.pages import STATIC

    script = (STATIC / "js" / "login.js").read_text(encoding="utf-8")
    assert "\\u0000-\\u001f\\u007f\\\\" in script and "decodeURIComponent" in script
    assert "location.assign(safeNext(" in script


# -- 9. hardening --------------------------------------------------------------------------------------------


def test_docs_need_a_staff_login_and_load_nothing_from_elsewhere(
    client: TestClient, make_user: MakeUser, auth: Headers
) -> None:
    assert (client.get("/docs", follow_redirects=False).headers["location"]) == "/login?next=/docs"
    assert client.get("/redoc").status_code == 404
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert client.get("/docs/assets/core.py").status_code == 404
    make_user("responder", username="resp-1", unit="DAMKAR-01-PMK1")
    assert log_in(client, "resp-1").status_code == 200
    assert client.get("/docs", follow_redirects=False).headers["location"] == "/responder"
    make_user("supervisor", username="sup-2")
    assert log_in(client, "sup-2").status_code == 200
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert '<script src="/docs/assets/swagger-ui-bundle.js">' in page.text
    assert "cdn" not in page.text and "http" not in page.text.split("<body>")[0]
    # /openapi.json stays public: it names routes, no data, and every route it lists needs a login.
    assert client.get("/openapi.json").status_code == 200


def test_api_answers_are_not_stored_by_browsers_or_proxies(client: TestClient, auth: Headers) -> None:
    call_id = live_call(client, auth)
    for answer in (
        client.get(f"/api/v1/calls/{call_id}", headers=auth["call_taker"]),
        client.get("/api/v1/calls", headers=auth["call_taker"]),
        client.get("/api/v1/calls"),  # 401
        client.post("/api/v1/auth/login", json={"username": "x", "password": "y"}),
    ):
        assert answer.headers["cache-control"] == "no-store", answer.request.url
    boundaries = client.get("/api/v1/geo/boundaries/kecamatan", headers=auth["call_taker"])
    assert boundaries.headers["cache-control"] == "max-age=3600"  # the same for everyone: set by the route
    assert client.get("/static/js/lib/api.js").headers["cache-control"] == "no-cache"


async def test_the_websocket_handshake_is_not_stored_either() -> None:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept", "headers": [(b"x-a", b"1")]})

    async def send(message: Any) -> None:
        sent.append(message)

    await SecurityHeaders(app, None)({"type": "websocket", "path": "/ws"}, None, send)  # type: ignore[arg-type]
    assert sent[0]["headers"] == [(b"x-a", b"1"), (b"cache-control", b"no-store")]


@pytest.mark.parametrize(
    ("public_url", "cookie_secure", "secure"),
    [
        ("https://112.padang.go.id", None, True),
        ("http://10.0.0.5:8112", None, False),
        (None, None, False),
        ("https://112.padang.go.id", False, False),  # an operator's explicit word wins
        (None, True, True),
    ],
)
def test_the_session_cookie_is_secure_when_the_public_url_is_https(
    database_url: str, public_url: str | None, cookie_secure: bool | None, secure: bool
) -> None:
    settings = Settings(database_url=database_url, public_url=public_url, cookie_secure=cookie_secure)
    assert settings.secure_cookie is secure


def test_the_login_sets_a_secure_cookie_behind_https(ctx: Ctx, make_user: MakeUser) -> None:
    ctx.settings = ctx.settings.model_copy(update={"public_url": "https://112.padang.go.id"})
    make_user("dispatcher", username="dispatcher-4")
    with TestClient(create_app(ctx=ctx), base_url="https://testserver") as client:
        answer = log_in(client, "dispatcher-4")
        cookie = answer.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_the_environment_sets_secure_cookies_from_the_public_url(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("TANGGAP_PUBLIC_URL", "https://112.padang.go.id")
    assert Settings(database_url=database_url).secure_cookie
    monkeypatch.setenv("TANGGAP_COOKIE_SECURE", "false")
    assert not Settings(database_url=database_url).secure_cookie
