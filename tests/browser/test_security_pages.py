"""Issue 22 in a real Chromium: a page on another port of the host against a logged-in console, the redirect
after login, and /docs under the console's CSP."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Route

from tests.browser.conftest import PASSWORD, Console, Server, submit_login

pytestmark = pytest.mark.browser

OpenConsole = Callable[..., Console]

ATTACK = """<!doctype html>
<title>hadiah</title>
<script>
window.results = {};
fetch("%(target)s/api/v1/calls/%(call)d/end", {method: "POST", mode: "no-cors", credentials: "include"})
  .then(() => { window.results.fetch = "sent"; }, (e) => { window.results.fetch = "failed"; });
const ws = new WebSocket("%(ws)s/ws?since=0");
ws.onmessage = () => { window.results.wsMessage = true; };
ws.onclose = (e) => { window.results.wsClosed = e.code; };
</script>
"""


@contextlib.contextmanager
def attacker(page: str) -> Iterator[str]:
    """Another site on another port of the same host (127.0.0.1): the outside test's 127.0.0.1:9391."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def new_call(server: Server) -> int:
    with server.api("calltaker") as api:
        answer = api.post("/api/v1/calls", json={"caller": "081234500099"})
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])


def call_status(server: Server, call_id: int) -> str:
    with server.api("supervisor") as api:
        return str(api.get(f"/api/v1/calls/{call_id}").json()["status"])


def test_a_page_on_another_port_can_neither_end_a_call_nor_read_the_stream(
    server: Server, open_console: OpenConsole
) -> None:
    call_id = new_call(server)
    console = open_console("dispatcher")
    page = console.login()
    target = server.url
    with attacker(ATTACK % {"target": target, "call": call_id, "ws": target.replace("http", "ws", 1)}) as evil:
        page.goto(evil)
        page.wait_for_function("() => window.results.fetch && window.results.wsClosed", timeout=15000)
        results = page.evaluate("() => window.results")
    assert results.get("wsMessage") is None and results["wsClosed"] != 1000
    assert call_status(server, call_id) != "ended"
    # The console itself, from its own origin, still may.
    page.goto(f"{target}/console")
    ended = page.evaluate(f"async () => (await fetch('/api/v1/calls/{call_id}/end', {{method: 'POST'}})).status")
    assert ended == 200 and call_status(server, call_id) == "ended"


@pytest.mark.parametrize("raw", ["/%09/evil.example/", "/%0a/evil.example/", "/%5Cevil.example/"])
def test_after_login_the_page_stays_on_this_server(server: Server, open_console: OpenConsole, raw: str) -> None:
    """The server drops such a `next` (303 to /login); here the login page is served with it anyway, so that
    its script's own check is what is tested."""
    console = open_console("calltaker")
    login_html = httpx.get(f"{server.url}/login").text

    def as_is(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=login_html)

    page = console.page
    page.route("**/login?next=*", as_is)
    page.goto(f"{server.url}/login?next={raw}")
    submit_login(page, "calltaker")
    page.wait_for_url(f"{server.url}/console", timeout=15000)


def test_an_enter_before_the_script_runs_sends_nothing(server: Server, open_console: OpenConsole) -> None:
    """Before login.js has run (here: never), the form cannot be sent natively: no reload that loses the
    typing, no password in an address."""
    console = open_console("calltaker")
    page = console.page
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.resource_type == "document" else None)
    page.route("**/static/js/login.js", lambda route: route.abort())
    page.goto(f"{server.url}/login")
    page.fill("#username", "calltaker")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.click("#login button[type=submit]", force=True)
    # A request sent by the Enter or the click would reach the server before this one comes back.
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert sent == [f"{server.url}/login"]
    assert PASSWORD not in page.url


def test_docs_render_from_local_files_under_the_csp(server: Server, open_console: OpenConsole) -> None:
    console = open_console("supervisor")
    page = console.page
    page.goto(f"{server.url}/docs")
    page.wait_for_url("**/login?next=/docs")
    submit_login(page, "supervisor")
    page.wait_for_url(f"{server.url}/docs")
    page.locator(".swagger-ui .info .title", has_text="Tanggap 112").wait_for(timeout=15000)
    page.locator(".opblock-summary-path", has_text="/api/v1/calls").first.wait_for(timeout=15000)
    assert [e for e in console.errors if "Content Security Policy" in e or "Refused" in e] == []
