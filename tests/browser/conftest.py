"""A real server (uvicorn on a free loopback port; the browser tests run once on SQLite and once on PostgreSQL)
and a real headless Chromium.

Browser tests are marked `browser`; they skip when /usr/bin/chromium or the vendored console assets
(scripts/build_console.sh) are missing. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Geolocation, Page, ViewportSize, sync_playwright

from config.settings import Settings
from dispatch.regions import seed
from dispatch.users import service as users
from tests.conftest import database
from tests.servers import serve
from ui.app import create_app
from ui.cli import upgrade
from ui.context import Ctx, build

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
PASSWORD = "rahasia-demo-112"
RESPONDER_UNIT = "DAMKAR-03-PMK1"  # Padang Barat
USERS = {
    "calltaker": ("call_taker", None),
    "dispatcher": ("dispatcher", None),
    "supervisor": ("supervisor", None),
    "responder": ("responder", RESPONDER_UNIT),
    "opd": ("opd", None),  # the desk of Dishub (DESK_AGENCY)
}
DESK_AGENCY = "dishub"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1600, "height": 950}


@dataclass
class Server:
    url: str
    ctx: Ctx
    tokens: dict[str, str] = field(default_factory=dict)
    app: Any = None  # the FastAPI app, for what a test puts at the network edge (an SMS sender)

    def api(self, username: str) -> httpx.Client:
        """An API client logged in as one of the test users (bearer token)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[username]}"}, timeout=10)

    def unit_id(self, callsign: str) -> int:
        with self.api("dispatcher") as api:
            return int(next(u["id"] for u in api.get("/api/v1/units").json() if u["callsign"] == callsign))


@contextlib.contextmanager
def start(database_url: str, **overrides: Any) -> Iterator[Server]:
    """Migrate, seed Padang, create one user per role, and serve the app in a background thread."""
    settings = Settings(database_url=database_url, region="padang", **overrides)
    upgrade(settings)
    ctx = build(settings)
    server = Server("", ctx)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
        for username, (role, unit) in USERS.items():
            user = users.create(
                session=session,
                username=username,
                password=PASSWORD,
                role=role,
                name=username.capitalize(),
                unit_callsign=unit,
                agency_code=DESK_AGENCY if role == "opd" else None,
            )
            server.tokens[username] = users.issue_token(
                session=session, user=user, kind="api", lifetime=timedelta(hours=2)
            )
    server.app = create_app(ctx=ctx)
    with serve(server.app) as url:
        server.url = url
        yield server
    ctx.engine.dispose()


def browser_ready() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    if not (ROOT / "ui" / "static" / "vendor" / "leaflet" / "leaflet.js").exists():
        pytest.skip("console assets not built: run scripts/build_console.sh")


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def browser_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with database(request.param, tmp_path_factory.mktemp("browser")) as url:
        yield url


@pytest.fixture(scope="package")  # package, not session: sync Playwright holds a running loop in the main thread
def server(browser_database: str) -> Iterator[Server]:
    browser_ready()
    with start(browser_database, ack_timeout_s=10) as running:
        yield running


@pytest.fixture(scope="package")  # package, not session: sync Playwright holds a running loop in the main thread
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def submit_login(page: Page, username: str) -> None:
    """Type and send the login form once its script is ready: the button stays disabled until then."""
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.locator("#login button[type=submit]:enabled").wait_for(timeout=15000)
    page.press("#password", "Enter")


class Console:
    """One logged-in browser context, with every console error and CSP violation collected."""

    def __init__(
        self,
        browser: Browser,
        server: Server,
        username: str,
        viewport: ViewportSize,
        geolocation: Geolocation | None = None,
    ) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport=viewport,
            locale="id-ID",
            timezone_id="Asia/Jakarta",
            geolocation=geolocation,
            permissions=["geolocation"] if geolocation else [],
        )
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.server = server
        self.username = username

    def login(self, path: str | None = None, ready: str = "#conn.conn-live") -> Page:
        """Log in and wait for `ready`: the event stream live, or on a page without one (/opd) its content."""
        page = self.page
        page.goto(f"{self.server.url}/login" + (f"?next={path}" if path else ""))
        submit_login(page, self.username)
        page.wait_for_load_state("domcontentloaded")
        page.locator(ready).first.wait_for(timeout=15000)
        return page

    def shot(self, name: str) -> None:
        """A screenshot once the map has stopped zooming: mid-animation Leaflet scales its canvas, and the
        picture shows pixelated giant markers that nobody sees on screen."""
        self.page.locator(".leaflet-zoom-anim").wait_for(state="detached", timeout=5000)
        self.page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.context.close()

    def real_errors(self) -> list[str]:
        """Console errors except the expected ones (network refused while the test takes us offline)."""
        expected = ("ERR_INTERNET_DISCONNECTED", "WebSocket connection", "Failed to load resource")
        return [e for e in self.errors if not any(x in e for x in expected)]


@pytest.fixture
def open_console(browser: Browser, server: Server) -> Iterator[Callable[..., Console]]:
    opened: list[Console] = []

    def make(username: str, viewport: ViewportSize | None = None, geolocation: Geolocation | None = None) -> Console:
        console = Console(browser, server, username, viewport or DESKTOP, geolocation)
        opened.append(console)
        return console

    yield make
    for console in opened:
        console.close()
