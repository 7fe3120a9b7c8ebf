"""An EventBus over Redis pub/sub, so several server processes see every committed event.

Each process publishes its committed events to one channel and delivers what it reads back to its local
handlers, its own events included, so all processes deliver in the order Redis saw them.

Redis may fail; the event log (the database) does not lose what was committed, so neither does the bus:
- publishing never raises into the committing request: a failure is logged, counted, and left to the log;
- the listener never dies: it reconnects forever with bounded, jittered backoff; while it is deaf it reads the
  log itself every `poll_s`, and once it is back it reads the log from where it was before live events go on;
- every delivery is deduplicated by `seq`, so an event read from the log and again from Redis is delivered once;
- a sweep of the log every `sweep_s` delivers an event whose publish was lost while the listener stayed up.
"""

from __future__ import annotations

import collections
import json
import logging
import random
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.orm import Session, sessionmaker

from dispatch.events import service as event_log
from dispatch.events.bus import Handler, Health, InProcessBus, Listeners, News, NewsHandler, Published, Unsubscribe

log = logging.getLogger(__name__)
CHANNEL = "tanggap112:events"
_READ = 500  # log rows per query when catching up
_SEEN = 50_000  # sequence numbers remembered for deduplication


def _encode(event: Published) -> str:
    return json.dumps({**event.__dict__, "at": event.at.isoformat()})


def _decode(raw: bytes | str) -> Published:
    body: dict[str, Any] = json.loads(raw)
    body["at"] = datetime.fromisoformat(body["at"])
    return Published(**body)


class EventLog:
    """What the bus reads from the database when Redis could not tell it everything."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def after(self, seq: int, limit: int) -> list[Published]:
        with self._sessions() as session:
            return [
                Published(r.seq, r.type, r.at, r.actor, r.data, r.incident_id, r.call_id, r.unit_id)
                for r in event_log.since(session, seq, limit=limit)
            ]

    def last(self) -> int:
        with self._sessions() as session:
            return event_log.last_seq(session)


def _client(url: str, *, timeout: float) -> redis.Redis:
    # No retries inside redis-py: its default (three, backing off up to 10 s) would hold a request that much,
    # and would reconnect a subscription silently, hiding the gap the listener must fill from the log.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=10,
    )


class RedisBus:
    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        log_reader: EventLog | None = None,
        backoff_s: tuple[float, float] = (0.2, 1.0),  # a Redis back from a restart is heard within 1 s
        poll_s: float | None = 1.0,
        sweep_s: float = 5.0,
        max_catch_up: int = 10_000,
        timeout_s: float = 1.0,
    ) -> None:
        self._url, self._channel, self._timeout = url, channel, timeout_s
        self._redis = _client(url, timeout=timeout_s)
        self._local = InProcessBus()
        self._backoff, self._poll, self._sweep, self._max = backoff_s, poll_s, sweep_s, max_catch_up
        self._log: EventLog | None = None
        self._log_started = False  # the log's end was read once: what is at or below it is not ours to deliver
        self._floor = -1  # nothing at or below is delivered (it was committed before this bus read the log)
        self._high = -1  # the highest sequence number delivered
        self._mark = -1  # catching up reads the log after this (behind `_high`, to find lost publishes)
        self._seen: set[int] = set()
        self._order: collections.deque[int] = collections.deque()
        self._deliver_lock = threading.Lock()
        self._watchers: Listeners[NewsHandler] = Listeners()
        self._connected = threading.Event()
        self._log_ok = False
        self._missed = threading.Event()  # a publish failed: read the log soon
        self._publish_blocked_until = 0.0
        self.publish_failures = 0
        self.catch_ups = 0  # rounds of reading the log that succeeded
        self._stop = threading.Event()
        if log_reader is not None:
            self.use_log(log_reader)
        self._thread = threading.Thread(target=self._run, name=f"redis-bus:{channel}", daemon=True)
        self._thread.start()

    # -- the two methods every bus has

    def publish(self, events: Sequence[Published]) -> None:
        """Never raises: what is not published is in the log, and every listener reads it from there."""
        if not events:
            return
        ordered = sorted(events, key=lambda e: e.seq)
        if not self._connected.is_set() and time.monotonic() < self._publish_blocked_until:
            self._failed(ordered, "Redis is unreachable")  # do not hold every request for a connect timeout
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for event in ordered:
                    pipe.publish(self._channel, _encode(event))
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            self._publish_blocked_until = time.monotonic() + 1.0
            self._failed(ordered, type(exc).__name__)

    def _failed(self, events: list[Published], why: str) -> None:
        self.publish_failures += 1
        self._missed.set()
        log.warning(
            "events %s..%s not published to Redis (%s); they are in the event log and are delivered from it",
            events[0].seq,
            events[-1].seq,
            why,
        )

    def subscribe(self, handler: Handler) -> Unsubscribe:
        return self._local.subscribe(handler)

    # -- health

    def use_log(self, reader: EventLog) -> None:
        """Read missed events from this log; what it holds now was committed before us and is not delivered."""
        self._log = reader
        self._start_from_log()

    def _start_from_log(self) -> bool:
        assert self._log is not None
        try:
            last = self._log.last()
        except Exception as exc:
            log.warning("the event bus cannot read the event log yet (%s)", type(exc).__name__)
            return False
        self._log_ok = self._log_started = True
        with self._deliver_lock:
            self._floor = max(self._floor, last)
            self._high = max(self._high, last)
            self._mark = max(self._mark, last)
        return True

    def health(self) -> Health:
        if self._connected.is_set():
            return "ok"
        if self._thread.is_alive() and self._log is not None and self._log_ok:
            return "degraded"
        return "down"

    def watch(self, handler: NewsHandler) -> Unsubscribe:
        return self._watchers.add(handler)

    def wait_live(self, timeout: float) -> bool:
        """True once the listener is subscribed and caught up (for start-up checks and tests)."""
        return self._connected.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._redis.close()

    # -- the listener thread

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            try:
                self._listen()  # returns only when the bus is closed
            except (redis.RedisError, OSError) as exc:
                log.warning("Redis event bus disconnected (%s); reconnecting", type(exc).__name__)
            except Exception:
                log.exception("Redis event bus listener failed; reconnecting")
            if self._stop.is_set():
                return
            if self._connected.is_set():
                delay = self._backoff[0]  # it was live: start backing off afresh
            self._set_live(False)
            # Jitter, so servers that lost Redis together do not all come back in the same instant.
            self._wait_reading_log(random.uniform(delay / 2, delay))
            delay = min(delay * 2, self._backoff[1])

    def _listen(self) -> None:
        client = _client(self._url, timeout=max(self._timeout, 5.0))
        pubsub = client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self._channel)
            while not self._stop.is_set():  # Redis confirms the subscription: from here on nothing is missed
                message = pubsub.get_message(timeout=0.2)
                if message is not None and message["type"] == "subscribe":
                    break
            self._catch_up()
            self._set_live(True)
            swept = time.monotonic()
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.2)
                if message is not None and message["type"] == "message":
                    self._deliver_raw(message["data"])
                if self._missed.is_set() or time.monotonic() >= swept + self._sweep:
                    swept = time.monotonic()
                    self._catch_up()
        finally:
            pubsub.close()
            client.close()

    def _wait_reading_log(self, seconds: float) -> None:
        """Wait before the next connection attempt; meanwhile deliver from the log what was committed."""
        until = time.monotonic() + seconds
        while not self._stop.is_set():
            if self._poll is not None:
                self._catch_up()
            left = until - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, self._poll or left))

    def _set_live(self, live: bool) -> None:
        if live == self._connected.is_set():
            return
        if live:
            self._connected.set()
            log.info("Redis event bus live on %s", self._channel)
        else:
            self._connected.clear()
        self._tell("live" if live else "deaf")

    def _tell(self, news: News) -> None:
        for handler in self._watchers.all():
            try:
                handler(news)
            except Exception:
                log.exception("bus watcher failed on %s", news)

    def _deliver_raw(self, raw: bytes | str) -> None:
        try:
            event = _decode(raw)
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring a malformed message on %s", self._channel)
            return
        self._deliver([event])

    def _deliver(self, events: list[Published]) -> None:
        """Deliver each event once (by `seq`), in the order given."""
        fresh = []
        with self._deliver_lock:
            for event in events:
                if event.seq <= self._floor or event.seq in self._seen:
                    continue
                self._seen.add(event.seq)
                self._order.append(event.seq)
                if len(self._order) > _SEEN:
                    self._floor = max(self._floor, self._order.popleft())
                    self._seen.discard(self._floor)
                self._high = max(self._high, event.seq)
                fresh.append(event)
        if fresh:
            self._local.publish(fresh)

    def _catch_up(self) -> None:
        """Deliver from the log what was committed after `_mark` and not delivered yet, oldest first.

        `_mark` trails `_high` by one round, so an event published out of order or not at all is found on the
        next round. More than `max_catch_up` missing events are not replayed here: the websocket clients are told
        to resync (they read the log themselves) and the bus goes on from the log's end."""
        if self._log is None or not (self._log_started or self._start_from_log()):
            return
        self._missed.clear()
        start, target = self._mark, self._high
        delivered = 0
        try:
            while True:
                rows = self._log.after(start, _READ)
                with self._deliver_lock:
                    fresh = [r for r in rows if r.seq > self._floor and r.seq not in self._seen]
                if delivered + len(fresh) > self._max:
                    self._skip_to(self._log.last(), delivered + len(fresh))
                    return
                self._deliver(fresh)
                delivered += len(fresh)
                if len(rows) < _READ:
                    break
                start = rows[-1].seq
            self._log_ok = True
            self.catch_ups += 1
        except Exception as exc:
            self._log_ok = False
            self._missed.set()
            log.warning("the event bus could not read the event log (%s); trying again", type(exc).__name__)
            return
        if delivered:
            log.info("event bus delivered %d events from the log", delivered)
        self._mark = max(self._mark, target)

    def _skip_to(self, last: int, missing: int) -> None:
        log.warning("event bus missed more than %d events (%d+); websocket clients resync from the log", self._max,
                    missing)  # fmt: skip
        with self._deliver_lock:
            self._floor = self._high = self._mark = max(self._high, last)
            self._seen.clear()
            self._order.clear()
        self._log_ok = True
        self._tell("resync")


__all__ = ["EventLog", "RedisBus"]
