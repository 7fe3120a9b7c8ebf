"""Users and their opaque login tokens (passwords are hashed and checked in `hashing`)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency, Unit
from dispatch.clock import utcnow
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.events.service import record
from dispatch.users.hashing import hash_password
from dispatch.users.models import Role, Token, User


def create(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    name: str | None = None,
    unit_callsign: str | None = None,
    sip_endpoint: str | None = None,
    agency_code: str | None = None,
) -> User:
    if role not in Role.__members__:
        raise Invalid(f"unknown role {role!r}; roles: {', '.join(Role.__members__)}")
    if len(password) < 8:
        raise Invalid("password must have at least 8 characters")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists")
    unit_id = None
    if role == Role.responder:
        if not unit_callsign:
            raise Invalid("a responder must be bound to a unit (give its callsign)")
        unit = session.scalar(select(Unit).where(Unit.callsign == unit_callsign))
        if unit is None:
            raise NotFound(f"no unit with callsign {unit_callsign!r}")
        unit_id = unit.id
    agency_id = _agency_of_desk(session, role, agency_code)
    user = User(
        username=username,
        name=name or username,
        role=role,
        password_hash=hash_password(password),
        unit_id=unit_id,
        agency_id=agency_id,
        sip_endpoint=sip_endpoint,
        created_at=utcnow(),
    )
    session.add(user)
    session.commit()
    return user


def _agency_of_desk(session: Session, role: str, agency_code: str | None) -> int | None:
    """An agency's desk (role opd) sees that agency's referrals and no other's; no other role is bound to one."""
    if role != Role.opd:
        if agency_code:
            raise Invalid("only an agency's desk (role opd) is bound to an agency")
        return None
    if not agency_code:
        raise Invalid("an agency's desk (role opd) must be bound to an agency (give its code)")
    agency = session.scalar(select(Agency).where(Agency.code == agency_code))
    if agency is None:
        raise NotFound(f"no agency with code {agency_code!r}")
    return agency.id


def set_password(*, session: Session, user: User, password: str) -> None:
    if len(password) < 8:
        raise Invalid("password must have at least 8 characters")
    user.password_hash = hash_password(password)
    session.commit()


def find_active(*, session: Session, username: str) -> User | None:
    """The user who may log in with this username; the password is checked apart (`hashing.HashPool`), off
    the request's database session."""
    return session.scalar(select(User).where(User.username == username, User.active.is_(True)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(*, session: Session, user: User, kind: str, lifetime: timedelta | None) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        Token(
            digest=_digest(token),
            user_id=user.id,
            kind=kind,
            created_at=now,
            expires_at=now + lifetime if lifetime else None,
        )
    )
    session.commit()
    return token


def resolve_token(*, session: Session, token: str) -> User | None:
    row = session.scalar(select(Token).where(Token.digest == _digest(token), Token.revoked.is_(False)))
    if row is None or (row.expires_at is not None and row.expires_at < utcnow()):
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def revoke_token(*, session: Session, token: str) -> None:
    row = session.scalar(select(Token).where(Token.digest == _digest(token)))
    if row is not None:
        row.revoked = True
        session.commit()


def set_available(*, session: Session, user: User, available: bool) -> User:
    """A call-taker says they are ready (or not) for the next call from the queue."""
    if user.role not in (Role.call_taker, Role.supervisor):
        raise Invalid("only call-takers take calls from the queue")
    if user.available != available:
        user.available = available
        user.available_at = utcnow()
        record(session, "taker.available", actor=user.username, data={"user_id": user.id, "available": available})
    session.commit()
    return user


def available_takers(*, session: Session) -> Sequence[User]:
    """Call-takers ready for a call, the one idle longest first."""
    return session.scalars(
        select(User)
        .where(User.available.is_(True), User.active.is_(True), User.role.in_([Role.call_taker, Role.supervisor]))
        .order_by(User.available_at)
    ).all()


def get(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user
