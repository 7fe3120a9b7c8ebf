"""Login throttling: failed logins counted per account and per client address, and a lock that doubles.

An attempt is refused before its password is checked while its account or its address is locked, so a locked
attacker costs one indexed read per try instead of an argon2 hash. Each failure counts against both; from the
policy's threshold on each failure locks for twice as long as the one before, up to a cap. A success clears
both counts. A count is forgotten after a quiet time (four times the longest lock: an hour by default), so
yesterday's typos do not shorten today's leash.

A failure is counted by an INSERT that does nothing when the row is there and an UPDATE of the row, atomic on
SQLite and PostgreSQL alike: several servers behind the proxy keep one count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from dispatch.clock import as_utc
from dispatch.errors import NotFound
from dispatch.users.models import LoginLock

ACCOUNT, ADDRESS = "account", "address"
_SUBJECT_LEN = 100  # LoginLock.subject


@dataclass(frozen=True)
class Policy:
    account_after: int = 5  # failures of one account in a row before it is locked
    address_after: int = 20  # from one address: consoles behind one NAT share it
    first_lock: timedelta = timedelta(seconds=30)
    longest_lock: timedelta = timedelta(minutes=15)

    @property
    def forget_after(self) -> timedelta:
        """Quiet time after the last failure (or the end of its lock) that clears a count."""
        return 4 * self.longest_lock

    def after(self, kind: str) -> int:
        return self.account_after if kind == ACCOUNT else self.address_after

    def lock_for(self, kind: str, failures: int) -> timedelta | None:
        """The lock the `failures`-th failure in a row brings: none below the threshold, then doubling."""
        beyond = failures - self.after(kind)
        if beyond < 0:
            return None
        return min(self.longest_lock, self.first_lock * (1 << min(beyond, 40)))


@dataclass(frozen=True)
class Attempt:
    """Who tries to log in: the username as typed (it need not exist) and the client's address, if known."""

    username: str
    address: str | None

    def subjects(self) -> list[tuple[str, str]]:
        found = [(ACCOUNT, self.username[:_SUBJECT_LEN])]
        if self.address:
            found.append((ADDRESS, self.address[:_SUBJECT_LEN]))
        return found


def _one(kind: str, subject: str) -> Any:
    return and_(LoginLock.kind == kind, LoginLock.subject == subject)


def wait(*, session: Session, attempt: Attempt, now: datetime) -> timedelta | None:
    """How long this attempt must wait (the longer lock of its account and its address), or None."""
    which = or_(*(_one(kind, subject) for kind, subject in attempt.subjects()))
    until: datetime | None = session.scalar(
        select(func.max(LoginLock.locked_until)).where(which, LoginLock.locked_until > now)
    )
    return as_utc(until) - now if until is not None else None


def _quiet(policy: Policy, now: datetime) -> Any:
    """Nothing since the last failure nor the end of its lock (the later of the two, when there is a lock) for
    `policy.forget_after`; written so that the index on last_failure_at finds the rows."""
    before = now - policy.forget_after
    return and_(
        LoginLock.last_failure_at < before, or_(LoginLock.locked_until.is_(None), LoginLock.locked_until < before)
    )


def failed(*, session: Session, attempt: Attempt, policy: Policy, now: datetime) -> timedelta | None:
    """Count a failed login against its account and its address; the longer lock that brought, if any. Commits."""
    quiet = _quiet(policy, now)
    # The account's row first, then the address's, in every transaction: two servers never wait on each other.
    locks = [_count(session, policy, kind, subject, quiet, now) for kind, subject in attempt.subjects()]
    session.commit()
    return max((lock for lock in locks if lock is not None), default=None)


def _count(session: Session, policy: Policy, kind: str, subject: str, quiet: Any, now: datetime) -> timedelta | None:
    """Add one failure (the first again after a quiet period) and lock if that reached the threshold."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginLock)
        .values(kind=kind, subject=subject, failures=0, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=["kind", "subject"])
    )
    failures = session.execute(
        update(LoginLock)
        .where(_one(kind, subject))
        .values(
            failures=case((quiet, 1), else_=LoginLock.failures + 1),
            locked_until=case((quiet, None), else_=LoginLock.locked_until),
            last_failure_at=now,
        )
        .returning(LoginLock.failures),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    lock = policy.lock_for(kind, failures)
    if lock is not None:
        session.execute(
            update(LoginLock).where(_one(kind, subject)).values(locked_until=now + lock),
            execution_options={"synchronize_session": False},
        )
    return lock


def forget(*, session: Session, policy: Policy, now: datetime) -> int:
    """Drop the counts nobody added to for a long time (a flood of made-up usernames leaves many); how many.
    Housekeeping, now and then: it gives way to another server's pass instead of failing a login. Commits."""
    try:
        result = session.execute(
            delete(LoginLock).where(_quiet(policy, now)), execution_options={"synchronize_session": False}
        )
        session.commit()
    except DBAPIError:  # a deadlock with another server's pass, say: the next pass tries again
        session.rollback()
        return 0
    return int(getattr(result, "rowcount", 0) or 0)


def succeeded(*, session: Session, attempt: Attempt) -> None:
    """A right password clears the counts of its account and its address. Commits."""
    which = or_(*(_one(kind, subject) for kind, subject in attempt.subjects()))
    session.execute(delete(LoginLock).where(which), execution_options={"synchronize_session": False})
    session.commit()


def locks(*, session: Session, now: datetime) -> Sequence[LoginLock]:
    """The accounts and addresses locked now, the longest lock first."""
    return session.scalars(
        select(LoginLock).where(LoginLock.locked_until > now).order_by(LoginLock.locked_until.desc(), LoginLock.id)
    ).all()


def lift(*, session: Session, lock_id: int) -> tuple[str, str]:
    """An admin lets an account or an address try again at once, its count cleared; its kind and subject.
    Commits."""
    row = session.get(LoginLock, lock_id)
    if row is None:
        raise NotFound(f"login lock {lock_id} not found")
    lifted = (row.kind, row.subject)
    session.delete(row)
    session.commit()
    return lifted
