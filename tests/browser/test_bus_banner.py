"""The console while the server's Redis bus is down: a banner says live updates are delayed, the console reads
the event log itself meanwhile (new calls still appear, once), and the banner goes when Redis is back.

The server here runs with TANGGAP_EVENT_BUS=redis on a `redis-server` of the test's own, killed with -9."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from dispatch.events.redis_bus import RedisBus
from tests.browser.conftest import DESKTOP, Console, Server, browser_ready, start
from tests.servers import RedisProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def redis_app(database_url: str, redis_server: RedisProcess) -> Iterator[Server]:
    """A server of its own, on a database of its own (the package's server keeps its users and calls)."""
    browser_ready()
    with start(database_url, event_bus="redis", redis_url=redis_server.url) as running:
        try:
            yield running
        finally:
            bus = running.ctx.bus
            assert isinstance(bus, RedisBus)
            bus.close()


def test_banner_while_the_bus_is_down_and_events_still_arrive(
    browser: Browser, redis_app: Server, redis_server: RedisProcess
) -> None:
    bus = redis_app.ctx.bus
    assert isinstance(bus, RedisBus) and bus.wait_live(20)
    taker = Console(browser, redis_app, "calltaker", DESKTOP)
    with contextlib.closing(taker):
        page = taker.login("/console")
        banner = page.locator("#bus-banner")
        expect(banner).to_be_hidden()

        # Told the bus is deaf, the console reads the event log itself at once (and every few seconds).
        with page.expect_request(lambda r: "/api/v1/events?since=" in r.url, timeout=15000):
            redis_server.kill()
        expect(banner).to_be_visible()
        expect(banner).to_have_text("Pembaruan langsung tertunda — data diperbarui dari log")
        expect(page.locator("#conn")).to_have_class("conn conn-live")  # the server is up; only Redis is not
        with redis_app.api("calltaker") as api:
            answer = api.post("/api/v1/calls", json={"caller": "0812 3456 7002", "provider": "simulator"})
        assert answer.status_code == 201  # nothing raised into the request
        item = page.locator(f"#call-queue li[data-id='{answer.json()['id']}']")
        expect(item).to_have_count(1, timeout=10000)
        taker.shot("30-console-bus-delayed")

        redis_server.start()
        expect(banner).to_be_hidden(timeout=20000)
        expect(item).to_have_count(1)  # from the log and from the bus: shown once
        assert taker.real_errors() == []
