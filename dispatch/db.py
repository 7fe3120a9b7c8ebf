"""Database plumbing: declarative base, a UTC datetime type, engines for SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event, make_url
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from dispatch import jsontext
from dispatch.clock import as_utc

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 3  # PostgreSQL: connecting, and waiting for a free connection of the pool


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns aware UTC datetimes, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the console read while a call is being written; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


class WalCheckpointer:
    """Copies an SQLite write-ahead log into the database from a thread of its own.

    By default SQLite does this inside the commit that takes the log past 1000 pages, and that commit then
    also waits for the disk: under the call benchmark it held a new call back for 100-270 ms several times a
    minute (scripts/bench_calls.py). With this running, commits never checkpoint; a PASSIVE checkpoint every
    `interval` seconds blocks neither readers nor writers, and the log stays small.
    """

    def __init__(self, engine: Engine, interval: float = 1.0) -> None:
        self._engine, self.interval = weakref.ref(engine), interval  # the thread ends when the engine goes

    def start(self) -> None:
        threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True).start()

    def checkpoint(self) -> tuple[int, int, int] | None:
        """One PASSIVE checkpoint: (busy, pages in the log, pages copied), as SQLite reports it."""
        engine = self._engine()
        if engine is None:
            return None
        with engine.connect() as conn:
            row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return int(row[0]), int(row[1]), int(row[2])

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                if self.checkpoint() is None:
                    return  # the engine is gone
            except Exception:
                log.exception("SQLite checkpoint failed; trying again in %.0f s", self.interval)


def make_engine(url: str, *, background_checkpoint: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`. `background_checkpoint` (SQLite, long-running servers): commits leave the
    write-ahead log alone and a `WalCheckpointer` thread copies it into the database.

    JSON columns (every event's data) are written by `jsontext.dumps` (orjson), as /ws sends them. They are read
    by json.loads, which also reads what older versions wrote (json.dumps wrote a float NaN as `NaN`; orjson would
    refuse it)."""
    kwargs = {"json_serializer": jsontext.dumps, **kwargs}
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if background_checkpoint and ":memory:" not in url and url.rstrip("/") != "sqlite:":
            event.listen(engine, "connect", _no_autocheckpoint)
            WalCheckpointer(engine).start()
        return engine
    # A PostgreSQL that is down or unreachable must fail a request within seconds, not after the system's TCP
    # timeout (minutes): Twilio gives a webhook 15 s, and the webhook still has to retry once and journal the call
    # (ui/twilio_journal.py). libpq's connect_timeout is whole seconds; the URL's own value wins.
    connect_args: dict[str, Any] = kwargs.pop("connect_args", {})
    if "connect_timeout" not in make_url(url).query:
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_S, **connect_args}
    if "poolclass" not in kwargs:
        kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=CONNECT_TIMEOUT_S)
    return create_engine(url, connect_args=connect_args, **kwargs)


def make_sessionmaker(engine: Engine, bus: Any) -> sessionmaker[Session]:
    """Sessions carry the event bus so `events.record` can publish after the commit."""
    from dispatch.events.service import install_publisher

    factory = sessionmaker(engine, expire_on_commit=False, info={"bus": bus})
    install_publisher(factory)
    return factory
