"""The Redis bus when Redis fails: publishing never raises, the listener comes back, and what was committed
meanwhile reaches every server's subscribers once and in order; on both databases.

Each test runs its own `redis-server` on a free port and kills that one (never the machine's shared Redis).
No fixed sleeps: every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from dispatch.db import make_engine, make_sessionmaker
from dispatch.events import service as events
from dispatch.events.bus import Handler, Published, Unsubscribe
from dispatch.events.redis_bus import EventLog, RedisBus
from dispatch.models import Base
from tests.servers import DEADLINE_S, RedisProcess, until


class Collector:
    """A subscriber that remembers every sequence number it was handed, thread-safely."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, event: Published) -> None:
        with self._lock:
            self.seqs.append(event.seq)

    def got(self) -> list[int]:
        with self._lock:
            return list(self.seqs)


class Server:
    """What one server process has of the bus: its own engine and sessions, its RedisBus, a subscriber."""

    def __init__(self, database_url: str, redis_url: str, channel: str, **options: object) -> None:
        self.engine = make_engine(Settings(database_url=database_url).sqlalchemy_url)
        self.bus = RedisBus(redis_url, channel=channel, backoff_s=(0.05, 0.4), sweep_s=0.2, **options)  # type: ignore[arg-type]
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine, self.bus)
        self.bus.use_log(EventLog(self.sessions))
        self.received = Collector()
        self.unsubscribe = self.bus.subscribe(self.received)

    def commit(self, n: int) -> list[int]:
        with self.sessions() as session:
            made = [events.record(session, "test.fault", actor="test", data={"n": i}) for i in range(n)]
            session.commit()
        return [e.seq for e in made]

    def close(self) -> None:
        self.unsubscribe()
        self.bus.close()
        self.engine.dispose()


@pytest.fixture
def servers(database_url: str, redis_server: RedisProcess) -> Iterator[Callable[..., Server]]:
    engine = make_engine(Settings(database_url=database_url).sqlalchemy_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    channel = f"tanggap-fault-{uuid.uuid4().hex}"
    made: list[Server] = []

    def make(**options: object) -> Server:
        server = Server(database_url, redis_server.url, channel, **options)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def _published(seq: int) -> Published:
    return Published(seq, "test.fault", datetime.now(UTC), "test", {"caller": "+6281100001111"})


def test_publishing_with_redis_down_does_not_raise_and_is_logged(
    servers: Callable[..., Server], redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    a = servers()
    assert a.bus.wait_live(DEADLINE_S)
    redis_server.kill()
    until(lambda: a.bus.health() != "ok", "the listener never noticed Redis died")
    caplog.set_level(logging.WARNING)
    a.bus.publish([_published(10_001)])  # straight to the bus: must not raise
    a.bus.publish([_published(10_002)])  # within the second after a failure: not even tried, still counted
    seqs = a.commit(3)  # and through a commit, as a request does: must not raise either
    assert a.bus.publish_failures == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "not published" in r.getMessage()]
    assert len(warnings) == 3 and f"{seqs[0]}..{seqs[-1]}" in warnings[-1].getMessage()
    assert not any("628110000" in r.getMessage() for r in caplog.records)  # no caller number in the log
    assert a.bus.health() == "degraded"


class _Raising:
    """A bus whose publish raises: the commit must not."""

    def publish(self, events_: object) -> None:
        raise ConnectionError("bus unreachable")

    def subscribe(self, handler: Handler) -> Unsubscribe:
        return lambda: None


def test_a_publish_that_raises_never_reaches_the_committer(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(Settings(database_url=database_url).sqlalchemy_url)
    Base.metadata.create_all(engine)
    sessions = make_sessionmaker(engine, _Raising())
    before = events.publish_failures
    try:
        with caplog.at_level(logging.WARNING), sessions() as session:
            made = events.record(session, "test.fault", actor="test", data={"caller": "+6281100001111"})
            session.commit()  # must not raise
        with sessions() as session:
            assert [e.seq for e in events.since(session, made.seq - 1)] == [made.seq]  # written all the same
    finally:
        engine.dispose()
    assert events.publish_failures == before + 1
    assert any("publishing events" in r.getMessage() for r in caplog.records)
    assert not any("628110000" in r.getMessage() for r in caplog.records)


def test_after_redis_comes_back_each_server_delivers_what_it_missed_once_in_order(
    servers: Callable[..., Server], redis_server: RedisProcess
) -> None:
    """Without reading the log while deaf (poll_s=None), only the catch-up after reconnecting can deliver what
    was committed during the outage."""
    a, b = servers(poll_s=None), servers(poll_s=None)
    assert a.bus.wait_live(DEADLINE_S) and b.bus.wait_live(DEADLINE_S)
    expected = a.commit(3)
    until(lambda: b.received.got() == expected, "live events did not cross")

    redis_server.kill()
    until(lambda: a.bus.health() != "ok" and b.bus.health() != "ok", "the listeners never noticed Redis died")
    during = a.commit(4) + b.commit(1)  # published nowhere: Redis is down
    expected += during
    redis_server.start()
    until(lambda: a.bus.health() == "ok" and b.bus.health() == "ok", "a listener never came back")
    after = b.commit(2)  # live again, through Redis
    expected += after
    for server in (a, b):
        until(lambda s=server: s.received.got()[-1:] == after[-1:], "missed events never arrived")  # type: ignore[misc]
    rounds = b.bus.catch_ups
    until(lambda: b.bus.catch_ups >= rounds + 3, "the log sweep stopped")  # a duplicate would show by now
    assert a.received.got() == expected
    assert b.received.got() == expected


def test_an_event_heard_twice_is_delivered_once(servers: Callable[..., Server]) -> None:
    """From the log and then from Redis, or republished: each server's subscribers get it once."""
    a, b = servers(), servers()
    assert a.bus.wait_live(DEADLINE_S) and b.bus.wait_live(DEADLINE_S)
    first = a.commit(1)
    until(lambda: b.received.got() == first, "live events did not cross")
    with a.sessions() as session:
        again = [_published(e.seq) for e in events.since(session, first[0] - 1)]
    a.bus.publish(again)  # the same sequence number once more
    last = a.commit(1)
    until(lambda: a.received.got()[-1:] == b.received.got()[-1:] == last, "live events did not cross")
    assert b.received.got() == first + last and a.received.got() == first + last


def test_while_redis_is_down_a_server_delivers_from_the_log(
    servers: Callable[..., Server], redis_server: RedisProcess
) -> None:
    a, b = servers(poll_s=0.1), servers(poll_s=0.1)
    assert a.bus.wait_live(DEADLINE_S) and b.bus.wait_live(DEADLINE_S)
    redis_server.kill()
    until(lambda: b.bus.health() == "degraded", "the bus did not say it is degraded")
    during = a.commit(3)
    until(lambda: b.received.got() == during, "a deaf server did not read the log")
    assert b.bus.health() == "degraded"  # still deaf to Redis: delivered from the log
    redis_server.start()
    until(lambda: b.bus.health() == "ok", "the listener never came back")
    after = a.commit(1)
    until(lambda: b.received.got() == during + after, "live events did not resume")


def test_a_gap_too_large_to_replay_tells_watchers_to_resync(
    servers: Callable[..., Server], redis_server: RedisProcess
) -> None:
    b = servers(poll_s=None, max_catch_up=3)
    news: list[str] = []
    b.bus.watch(news.append)
    assert b.bus.wait_live(DEADLINE_S)
    redis_server.kill()
    until(lambda: "deaf" in news, "watchers were not told the bus is deaf")
    b.commit(5)
    redis_server.start()
    until(lambda: news[-2:] == ["resync", "live"], f"watchers were told {news}")
    assert b.received.got() == []  # not replayed to subscribers: websocket clients read the log themselves
    after = b.commit(1)
    until(lambda: b.received.got() == after, "live events did not resume after the resync")


def test_the_listener_outlives_an_unreadable_log(servers: Callable[..., Server], redis_server: RedisProcess) -> None:
    """A failing log read (the database blinked) is logged and retried; the listener stays up."""
    b = servers(poll_s=0.05)
    assert b.bus.wait_live(DEADLINE_S)
    assert b.bus._log is not None
    reader, calls = b.bus._log, [0]
    real = reader.after

    def flaky(seq: int, limit: int) -> list[Published]:
        calls[0] += 1
        if calls[0] <= 3:
            raise OSError("database blinked")
        return real(seq, limit)

    with contextlib.ExitStack() as stack:
        stack.callback(setattr, reader, "after", real)
        reader.after = flaky  # type: ignore[method-assign]
        until(lambda: calls[0] > 3, "the sweep stopped after a failed read")
    assert b.bus._thread.is_alive()
    seqs = b.commit(2)
    until(lambda: b.received.got() == seqs, "events stopped after a failed log read")
