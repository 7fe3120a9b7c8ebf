"""An EventBus over Redis pub/sub, so several server processes see every committed event.

Each process publishes its committed events to one channel and delivers what it reads back to its local
handlers, its own events included, so all processes deliver in the order Redis saw them. A missed message
(Redis restart, network blip) is not lost: websocket clients fill gaps from the event log by sequence.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis

from dispatch.events.bus import Handler, InProcessBus, Published, Unsubscribe

log = logging.getLogger(__name__)
CHANNEL = "tanggap112:events"


def _encode(event: Published) -> str:
    return json.dumps({**event.__dict__, "at": event.at.isoformat()})


def _decode(raw: bytes | str) -> Published:
    body: dict[str, Any] = json.loads(raw)
    body["at"] = datetime.fromisoformat(body["at"])
    return Published(**body)


class RedisBus:
    def __init__(self, url: str, *, channel: str = CHANNEL) -> None:
        self._redis = redis.Redis.from_url(url)
        self._channel = channel
        self._local = InProcessBus()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(**{channel: self._deliver})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.2, daemon=True)

    def _deliver(self, message: dict[str, Any]) -> None:
        try:
            self._local.publish([_decode(message["data"])])
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring a malformed message on %s", self._channel)

    def publish(self, events: Sequence[Published]) -> None:
        with self._redis.pipeline(transaction=False) as pipe:
            for event in sorted(events, key=lambda e: e.seq):
                pipe.publish(self._channel, _encode(event))
            pipe.execute()

    def subscribe(self, handler: Handler) -> Unsubscribe:
        return self._local.subscribe(handler)

    def close(self) -> None:
        self._thread.stop()
        self._thread.join(timeout=5)  # it may be mid-read; closing under it would raise in that thread
        self._pubsub.close()
        self._redis.close()


__all__ = ["RedisBus"]
