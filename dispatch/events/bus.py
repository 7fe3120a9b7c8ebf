"""Publish/subscribe for committed events.

Callers only see `EventBus`: `publish` a batch after a commit, `subscribe(handler) -> unsubscribe`. The first
implementation is in-process; a PostgreSQL LISTEN/NOTIFY or Redis one can fan out across server processes
behind the same two methods. A bus that can go deaf (Redis) also says how it is (`health`) and tells watchers
when it goes deaf, is live again, or lost so much that websocket clients must resync (`watch`).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """A committed event as subscribers see it."""

    seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, Any]
    incident_id: int | None = None
    call_id: int | None = None
    unit_id: int | None = None

    def wire(self) -> dict[str, Any]:
        """The shape sent to websocket clients: {"seq", "type", "at", "data"}."""
        return {"seq": self.seq, "type": self.type, "at": self.at.isoformat(), "data": self.data}


Handler = Callable[[Published], None]
Unsubscribe = Callable[[], None]
T = TypeVar("T")
Health = Literal["ok", "degraded", "down"]
News = Literal["live", "deaf", "resync"]  # what a watched bus tells its watchers
NewsHandler = Callable[[News], None]


class EventBus(Protocol):
    def publish(self, events: Sequence[Published]) -> None: ...

    def subscribe(self, handler: Handler) -> Unsubscribe: ...


@runtime_checkable
class WatchedBus(Protocol):
    """A bus that can lose its transport: "ok" live, "degraded" deaf but delivering from the event log,
    "down" delivering nothing."""

    def health(self) -> Health: ...

    def watch(self, handler: NewsHandler) -> Unsubscribe: ...


def health(bus: object) -> Health:
    """An in-process bus cannot go deaf: it is always "ok"."""
    return bus.health() if isinstance(bus, WatchedBus) else "ok"


def watch(bus: object, handler: NewsHandler) -> Unsubscribe:
    return bus.watch(handler) if isinstance(bus, WatchedBus) else (lambda: None)


class Listeners(Generic[T]):
    """Callbacks added and removed from any thread; `add` returns the function that removes the one added."""

    def __init__(self) -> None:
        self._items: dict[int, T] = {}
        self._keys = itertools.count()
        self._lock = threading.Lock()

    def add(self, item: T) -> Unsubscribe:
        with self._lock:
            key = next(self._keys)
            self._items[key] = item

        def remove() -> None:
            with self._lock:
                self._items.pop(key, None)

        return remove

    def all(self) -> list[T]:
        with self._lock:
            return list(self._items.values())


@dataclass
class InProcessBus:
    """Delivers to handlers in this process, synchronously and in sequence order.

    Handlers must be quick and must not raise (a websocket handler only enqueues); one that raises is logged
    and skipped so it cannot stop delivery to the others.
    """

    _handlers: Listeners[Handler] = field(default_factory=Listeners)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # one publish at a time: sequence order

    def publish(self, events: Sequence[Published]) -> None:
        with self._lock:
            handlers = self._handlers.all()
            for event in sorted(events, key=lambda e: e.seq):
                for handler in handlers:
                    try:
                        handler(event)
                    except Exception:
                        log.exception("event handler failed on seq %s", event.seq)

    def subscribe(self, handler: Handler) -> Unsubscribe:
        return self._handlers.add(handler)
