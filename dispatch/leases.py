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

from sqlalchemy import CursorResult, String, case, delete, or_, select, update
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


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    granted: bool  # the asker holds it now
    expires_at: datetime
    acquired_at: datetime


def acquire(*, session: Session, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> Lease:
    """Take or renew the lease for `ttl` if it is free, ours, or ran out. Commits."""
    now = now or utcnow()
    until = now + ttl
    mine = BridgeLease.holder == holder
    result = session.execute(
        update(BridgeLease)
        .where(BridgeLease.name == name, or_(mine, BridgeLease.expires_at < now))
        .values(holder=holder, expires_at=until, acquired_at=case((mine, BridgeLease.acquired_at), else_=now))
        .execution_options(synchronize_session=False)
    )
    if not cast("CursorResult[Any]", result).rowcount:
        row = session.get(BridgeLease, name)
        if row is None:
            session.add(BridgeLease(name=name, holder=holder, acquired_at=now, expires_at=until))
            try:
                session.commit()
            except IntegrityError:  # another process made it first
                session.rollback()
                return current(session=session, name=name, holder=holder)
            return Lease(name, holder, True, until, now)
        session.rollback()
        return current(session=session, name=name, holder=holder)
    session.commit()
    return current(session=session, name=name, holder=holder)


def _lease(row: BridgeLease, holder: str) -> Lease:
    return Lease(row.name, row.holder, row.holder == holder, as_utc(row.expires_at), as_utc(row.acquired_at))


def current(*, session: Session, name: str, holder: str = "") -> Lease:
    session.expire_all()
    row = session.scalar(select(BridgeLease).where(BridgeLease.name == name))
    if row is None:
        now = utcnow()
        return Lease(name, "", False, now, now)
    return _lease(row, holder)


def release(*, session: Session, name: str, holder: str) -> bool:
    """Give the lease up at once (a clean stop, or Asterisk gave the app to another connection). Commits."""
    result = session.execute(delete(BridgeLease).where(BridgeLease.name == name, BridgeLease.holder == holder))
    session.commit()
    return bool(cast("CursorResult[Any]", result).rowcount)
