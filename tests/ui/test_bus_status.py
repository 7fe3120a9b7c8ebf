"""A server on the Redis bus while Redis fails: requests still answer, consoles are told their updates are
delayed and still get every event, /healthz shows the bus degraded then ok; and /healthz when the database is
down. Each test runs its own `redis-server` (tests.dispatch.test_redis_faults) and kills only that one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import ClientConnection, connect

from config.settings import Settings
from dispatch.events.redis_bus import EventLog, RedisBus
from dispatch.models import Base
from dispatch.regions import seed
from dispatch.users import service as users
from tests.conftest import PASSWORD
from tests.servers import DEADLINE_S, RedisProcess, serve, until
from ui.app import create_app
from ui.context import Ctx, build


@pytest.fixture
def redis_ctx(settings: Settings, redis_server: RedisProcess) -> Iterator[Ctx]:
    bus = RedisBus(redis_server.url, channel="tanggap-test-bus-status", backoff_s=(0.05, 0.4), poll_s=0.2)
    ctx = build(settings, bus=bus)
    Base.metadata.create_all(ctx.engine)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
    bus.use_log(EventLog(ctx.sessions))  # a server starts on a migrated database: read its end now
    try:
        yield ctx
    finally:
        bus.close()
        ctx.engine.dispose()


def _token(ctx: Ctx, role: str) -> str:
    from datetime import timedelta

    with ctx.sessions() as session:
        user = users.create(session=session, username=f"{role}-bus", password=PASSWORD, role=role)
        return users.issue_token(session=session, user=user, kind="api", lifetime=timedelta(hours=1))


class Messages:
    """The websocket's messages one by one, each wait with a deadline."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.pending = ws, list[dict[str, Any]]()

    def next(self) -> dict[str, Any]:
        while not self.pending:
            self.pending.extend(json.loads(self.ws.recv(timeout=DEADLINE_S)))
        return self.pending.pop(0)

    def until(self, test: Any) -> list[dict[str, Any]]:
        got = [self.next()]
        while not test(got[-1]):
            got.append(self.next())
        return got


def _bus_status(live: bool) -> Any:
    return lambda m: m["type"] == "bus.status" and m["data"] == {"live": live}


def test_redis_down_requests_answer_consoles_hear_and_healthz_says_so(
    redis_ctx: Ctx, redis_server: RedisProcess
) -> None:
    bus = redis_ctx.bus
    assert isinstance(bus, RedisBus) and bus.wait_live(DEADLINE_S)
    token = _token(redis_ctx, "call_taker")
    headers = {"Authorization": f"Bearer {token}"}
    with serve(create_app(ctx=redis_ctx)) as url, httpx.Client(base_url=url, headers=headers) as api:
        health = api.get("/healthz")
        assert health.status_code == 200
        assert health.json()["bus"] == "ok" and health.json()["database"] == "ok"
        with connect(f"{url.replace('http', 'ws')}/ws?token={token}") as ws:
            inbox = Messages(ws)
            assert inbox.next()["type"] == "live"
            redis_server.kill()
            down = inbox.until(_bus_status(False))
            assert down[-1]["seq"] is None  # not an event: must not move the console's `since`
            health = api.get("/healthz")
            assert health.status_code == 200  # the database is fine: degraded, not down
            assert health.json()["bus"] == "degraded" and health.json()["status"] == "degraded"
            answers = [api.post("/api/v1/calls", json={"caller": f"08110000{n:04d}"}) for n in range(5)]
            assert [r.status_code for r in answers] == [201] * 5  # written, and nothing raised into the request
            ids = [r.json()["id"] for r in answers]
            redis_server.start()
            seen = inbox.until(_bus_status(True))
            # The missed calls came from the log (while deaf, or after): each once, in order.
            offered = [m["data"]["id"] for m in seen if m["type"] == "call.offered"]
            seqs = [m["seq"] for m in seen if isinstance(m["seq"], int)]
            assert offered == ids and seqs == sorted(set(seqs))
            assert api.get("/healthz").json()["bus"] == "ok"
            late = api.post("/api/v1/calls", json={"caller": "081199998888"}).json()["id"]
            more = inbox.until(lambda m: m["type"] == "call.offered")
            assert more[-1]["data"]["id"] == late and all(m["seq"] is None or m["seq"] > seqs[-1] for m in more)
        assert bus.publish_failures >= 1


def test_a_console_connecting_while_the_bus_is_deaf_is_told_at_once(redis_ctx: Ctx, redis_server: RedisProcess) -> None:
    bus = redis_ctx.bus
    assert isinstance(bus, RedisBus) and bus.wait_live(DEADLINE_S)
    token = _token(redis_ctx, "dispatcher")
    redis_server.kill()
    until(lambda: bus.health() == "degraded", "the bus did not notice Redis died")
    with serve(create_app(ctx=redis_ctx)) as url, connect(f"{url.replace('http', 'ws')}/ws?token={token}") as ws:
        inbox = Messages(ws)
        assert inbox.next()["type"] == "live"
        assert _bus_status(False)(inbox.next())


def test_healthz_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'tanggap.db'}", region="padang")
    ctx = build(settings)
    try:
        with TestClient(create_app(ctx=ctx)) as client:
            answer = client.get("/healthz")
    finally:
        ctx.engine.dispose()
    assert answer.status_code == 503
    body = answer.json()
    assert body["database"] == "down" and body["status"] == "down" and body["bus"] == "ok"
    assert body["region"] == "padang"
