"""The access audit from the web side (UU PDP No. 27/2022; the table and its rules: `dispatch.audit`).

- Full numbers in an API answer: `ui.deps.shown` notes them (`saw`) when the role sees them whole, and the
  middleware adds one row per request once it is answered, naming every call whose number was in it. Rows of
  views wait in a `Buffer` written once a second in one INSERT: the calls list is read often, and a write per
  read would queue behind call intake for SQLite's single writer (and cost PostgreSQL a commit per read). A view
  fails open: a row that cannot be written stays in the buffer and is tried again, with a warning in the log;
  a call-taker is never kept from a number by the audit. At worst a crash loses the last second of view rows.
- A recording played or a CSV exported writes its row at once, before the sound or the file leaves
  (`record_now`), and fails closed (503, nothing sent): both are deliberate acts that no live call waits for,
  a recording is the whole conversation, and a CSV is a bulk copy of personal data leaving the system.
- The event stream: a row when a connection that receives full numbers opens and one when it closes
  (`ui.stream`); which calls it carried in between is in the event log, by time.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Collection
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocket
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from dispatch.audit import service as audit
from dispatch.audit.models import AccessAction
from dispatch.clock import utcnow
from dispatch.users.models import User
from ui.present import PERSONAL

log = logging.getLogger(__name__)
FLUSH_S = 1.0
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


@dataclass(frozen=True)
class Who:
    user_id: int | None
    username: str
    role: str

    @classmethod
    def of(cls, user: User) -> Who:
        return cls(user.id, user.username, user.role)


@dataclass(eq=False)
class Seen:
    """What one request showed of callers' numbers: made by the middleware, filled by `saw` (the route runs in a
    worker thread with a copy of the request's context, which holds this same object)."""

    scope: Scope
    at: datetime = field(default_factory=utcnow)
    who: Who | None = None
    call_ids: set[int] = field(default_factory=set)

    def subject(self) -> str:
        return subject_of(self.scope)

    def address(self) -> str | None:
        client = self.scope.get("client")
        return str(client[0]) if client else None


_current: ContextVar[Seen | None] = ContextVar("access_seen", default=None)


def subject_of(scope: Scope) -> str:
    """`GET /api/v1/calls/17`: the route with its ids, never the path as sent (`/callers/{number}` holds one)."""
    route = scope.get("route")
    params = scope.get("path_params") or {}
    if route is None or not hasattr(route, "path"):
        return f"{scope.get('method', '')} (no route)"

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        return str(params[name]) if name.endswith("_id") and name in params else m.group(0)

    return f"{scope.get('method', 'WS')} {_PARAM.sub(fill, route.path)}"


def _full_numbers(value: Any, calls: set[int]) -> bool:
    """Whether `value` (a JSON-like answer) holds a caller's number or another personal number; the ids of the
    calls they belong to go into `calls` (a row of a report names its `call_id`, a call its `id`)."""
    found = False
    if isinstance(value, dict):
        if any(isinstance(value.get(k), str) and value.get(k) for k in PERSONAL):
            found = True
            call = value.get("call_id") if "call_id" in value else value.get("id") if "channel_id" in value else None
            if isinstance(call, int):
                calls.add(call)
        for v in value.values():
            if isinstance(v, dict | list):
                found = _full_numbers(v, calls) or found
    elif isinstance(value, list):
        for v in value:
            found = _full_numbers(v, calls) or found
    return found


def saw(user: User, value: Any) -> None:
    """`user` is being answered `value` unmasked: note it for this request's row, if it holds a full number."""
    seen = _current.get()
    if seen is not None and _full_numbers(value, seen.call_ids):
        seen.who = Who.of(user)


class Buffer:
    """Rows of views waiting to be written together. Thread-safe: routes add from worker threads. Bounded: while
    the database is down the oldest rows go first (counted in `dropped`, and logged)."""

    def __init__(self, sessions: sessionmaker[Session], *, limit: int = 20_000) -> None:
        self.sessions, self.limit = sessions, limit
        self.dropped = 0
        self._rows: list[audit.Entry] = []
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one flush at a time: a flush returns once what it found is written

    def add(self, entry: audit.Entry) -> None:
        with self._lock:
            self._rows.append(entry)
            self._bound()

    def _bound(self) -> None:
        over = len(self._rows) - self.limit
        if over > 0:
            del self._rows[:over]
            self.dropped += over
            log.error("access audit: %d view rows dropped, the database took none for too long", over)

    def __len__(self) -> int:
        return len(self._rows)

    def flush(self) -> int:
        """Write what is waiting; the number of rows written (0 when it failed: they are kept for the next try)."""
        with self._writing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                with self.sessions() as session:
                    audit.record(session=session, entries=rows)
            except Exception as exc:
                log.warning("access audit: %d rows not written yet (%s); trying again", len(rows), type(exc).__name__)
                with self._lock:
                    self._rows[:0] = rows
                    self._bound()
                return 0
            return len(rows)


def buffer_of(app: FastAPI | Any) -> Buffer:
    found: Buffer = app.state.access_audit
    return found


async def flush_forever(buffer: Buffer, stop: asyncio.Event, every: float = FLUSH_S) -> None:
    """Write the buffer every `every` seconds until `stop`, then once more."""
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        await asyncio.to_thread(buffer.flush)


class AuditMiddleware:
    """Gives each HTTP request its `Seen`, and adds its row to the buffer once it is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = Seen(scope)
        token = _current.set(seen)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
            if seen.who is not None:
                buffer_of(scope["app"]).add(entry(seen.who, AccessAction.full_number_seen, seen.subject(),
                                                  seen.call_ids, seen.address(), at=seen.at))  # fmt: skip


def entry(
    who: Who,
    action: AccessAction,
    subject: str,
    call_ids: Collection[int] = (),
    address: str | None = None,
    *,
    at: datetime | None = None,
) -> audit.Entry:
    return audit.Entry(action, who.user_id, who.username, who.role, subject, call_ids, address, at or utcnow())


def streaming(ws: WebSocket, user: User, since: int) -> Callable[[], None]:
    """A /ws connection that receives full numbers opens: one row now, not one per event (a console gets thousands
    a shift; the event log says which were sent while it was open). Returns what adds the row of its end."""
    who, address, buffer = Who.of(user), ws.client.host if ws.client else None, buffer_of(ws.app)
    buffer.add(entry(who, AccessAction.full_number_stream, f"WS /ws (events after seq {since})", (), address))

    def closed() -> None:
        buffer.add(entry(who, AccessAction.full_number_stream_end, "WS /ws", (), address))

    return closed


def record_now(sessions: sessionmaker[Session], user: User, action: AccessAction, subject: str,
               call_ids: Collection[int] = ()) -> None:  # fmt: skip
    """Write one row now, or refuse the request (503): for what fails closed. A view this request noted is
    left out, the row written here says more."""
    seen = _current.get()
    row = entry(Who.of(user), action, subject, call_ids, seen.address() if seen else None)
    try:
        with sessions() as session:
            audit.record(session=session, entries=[row])
    except Exception as exc:
        log.warning("access audit: %s by %s refused, its row could not be written (%s)", action, user.username,
                    type(exc).__name__)  # fmt: skip
        raise HTTPException(
            503,
            "Akses tidak dapat dicatat di audit akses; coba lagi. / The access audit could not record this; try again.",
        ) from None
    if seen is not None:
        seen.who = None


def exported(sessions: sessionmaker[Session], user: User, subject: str, rows: Any) -> None:
    """A CSV with `rows` is about to be sent: its row, now (fails closed)."""
    calls: set[int] = set()
    full = _full_numbers(rows, calls)
    numbers = "full numbers" if full else "no full numbers"
    record_now(sessions, user, AccessAction.csv_exported, f"{subject} ({numbers})", calls)
