"""Two server processes' buses over the real Redis: an event committed in one reaches the other."""

from __future__ import annotations

import os
import queue
import time
import uuid
from datetime import UTC, datetime

from dispatch.events.bus import Published
from dispatch.events.redis_bus import RedisBus

REDIS_URL = os.environ.get("TANGGAP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_events_cross_processes_in_order() -> None:
    channel = f"tanggap-test-{uuid.uuid4().hex}"
    a, b = RedisBus(REDIS_URL, channel=channel), RedisBus(REDIS_URL, channel=channel)
    got: queue.Queue[Published] = queue.Queue()
    unsubscribe = b.subscribe(got.put)
    try:
        _until_subscribed(a, got)
        sent = [Published(n, "call.offered", datetime.now(UTC), "ari", {"id": n}, None, n, None) for n in (1, 2, 3)]
        a.publish(list(reversed(sent)))
        received = [got.get(timeout=5) for _ in sent]
    finally:
        unsubscribe()
        a.close()
        b.close()
    assert received == sent


def _until_subscribed(publisher: RedisBus, got: queue.Queue[Published]) -> None:
    """Redis drops what is published before a subscription reaches it: probe until one probe arrives (a deadline,
    not a fixed sleep), then forget the probes."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        publisher.publish([Published(0, "probe", datetime.now(UTC), "test", {}, None, 0, None)])
        try:
            if got.get(timeout=0.05).type == "probe":
                break
        except queue.Empty:
            continue
    else:
        raise AssertionError("the subscription never reached Redis")
    while True:
        try:
            got.get(timeout=0.2)  # a probe still in flight
        except queue.Empty:
            return
