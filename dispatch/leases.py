"""Named leases: which of several processes may act, until when (one active ARI bridge, the others waiting).

A lease is one row: its holder and when it runs out. Taking it is one compare-and-set UPDATE (holder is me,
or it ran out) and, for a name never leased, an INSERT that the primary key lets only one process win; both
are atomic on SQLite and PostgreSQL alike, so no advisory lock or clock of the database is needed. The holder
renews it well within its time to live; a holder that dies simply stops renewing, and a waiting process takes
over once the lease has run out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, String, and_, case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.clock import as_utc, utcnow
from dispatch.db import Base, UTCDateTime


class BridgeLease(Base):
    __tablename__ = "bridge_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # active while held; how it was given up otherwise ("released": a clean stop, "replaced": Asterisk gave the
    # app to another connection), so /healthz can say why no bridge acts
    state: Mapped[str] = mapped_column(String(16), default="active")


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str  # the last holder, "" if never taken
    granted: bool  # the asker holds it now
    live: bool  # someone holds it now
    state: str
    expires_at: datetime
    acquired_at: datetime


def acquire(*, session: Session, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> Lease:
    """Take or renew the lease for `ttl` if it is free, ours, or ran out. Commits."""
    now = now or utcnow()
    until = now + ttl
    mine = and_(BridgeLease.holder == holder, BridgeLease.state == "active")
    taken_at = case((mine, BridgeLease.acquired_at), else_=now)  # renewing keeps when it was first taken
    result = session.execute(
        update(BridgeLease)
        .where(BridgeLease.name == name, or_(mine, BridgeLease.expires_at < now))
        .values(holder=holder, expires_at=until, state="active", acquired_at=taken_at)
        .execution_options(synchronize_session=False)
    )
    if not cast("CursorResult[Any]", result).rowcount:
        if session.get(BridgeLease, name) is None:
            session.add(BridgeLease(name=name, holder=holder, acquired_at=now, expires_at=until, state="active"))
            try:
                session.commit()
            except IntegrityError:  # another process made it first
                session.rollback()
        else:
            session.rollback()
    else:
        session.commit()
    return current(session=session, name=name, holder=holder, now=now)


def current(*, session: Session, name: str, holder: str = "", now: datetime | None = None) -> Lease:
    session.expire_all()
    row = session.scalar(select(BridgeLease).where(BridgeLease.name == name))
    now = now or utcnow()
    if row is None:
        return Lease(name, "", False, False, "free", now, now)
    live = row.state == "active" and as_utc(row.expires_at) >= now
    return Lease(
        row.name, row.holder, live and row.holder == holder, live, row.state, as_utc(row.expires_at),
        as_utc(row.acquired_at),
    )  # fmt: skip


def release(*, session: Session, name: str, holder: str, why: str = "released") -> bool:
    """Give the lease up at once (a clean stop, or Asterisk gave the app to another connection): it runs out now,
    and says why. Commits."""
    result = session.execute(
        update(BridgeLease)
        .where(BridgeLease.name == name, BridgeLease.holder == holder, BridgeLease.state == "active")
        .values(expires_at=utcnow() - timedelta(microseconds=1), state=why)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(cast("CursorResult[Any]", result).rowcount)
