"""Users and their tokens (console sessions and API bearer tokens)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, UTCDateTime


class Role(StrEnum):
    call_taker = "call_taker"
    dispatcher = "dispatcher"
    responder = "responder"  # bound to one unit
    supervisor = "supervisor"
    admin = "admin"
    telephony = "telephony"  # the PBX bridge when it runs as its own process
    opd = "opd"  # an agency's desk (OPD) following its referred complaints; bound to one agency


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Call-takers: ready for the next call from the queue, and the SIP endpoint the PBX rings.
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sip_endpoint: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8), default="id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Token(Base):
    """An opaque login token; only its SHA-256 is stored."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "session" or "api"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginLock(Base):
    """Failed logins of one account or one client address in a row, and until when it may not try again.

    In the database, not in a server's memory: behind nginx the next attempt may reach another server, and a
    restart must not hand an attacker a fresh count (dispatch/users/throttle.py).
    """

    __tablename__ = "login_locks"
    __table_args__ = (UniqueConstraint("kind", "subject", name="uq_login_locks_kind_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "account" or "address"
    subject: Mapped[str] = mapped_column(String(100))  # the username as typed, or the client's address
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
