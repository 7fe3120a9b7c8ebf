"""Writing and reading the access audit: rows are only ever added, and read by admins."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dispatch.audit.models import Access, AccessAction
from dispatch.clock import utcnow

MAX_PAGE = 500


@dataclass(frozen=True)
class Entry:
    """One access to write: who (as they were at the time), what, and from where."""

    action: AccessAction
    user_id: int | None
    username: str
    role: str
    subject: str
    call_ids: Collection[int] = ()
    address: str | None = None
    at: datetime = field(default_factory=utcnow)


def _values(entry: Entry) -> dict[str, object]:
    ids = ",".join(str(i) for i in sorted(set(entry.call_ids)))
    return {
        "at": entry.at,
        "user_id": entry.user_id,
        "username": entry.username[:64],
        "role": entry.role[:32],
        "action": str(entry.action),
        "subject": entry.subject[:300],
        "call_ids": f",{ids}," if ids else None,
        "address": entry.address[:64] if entry.address else None,
    }


def record(*, session: Session, entries: Sequence[Entry], commit: bool = True) -> None:
    """Add the entries in one INSERT; commits unless `commit=False`."""
    if not entries:
        return
    session.execute(insert(Access), [_values(e) for e in entries])
    if commit:
        session.commit()


@dataclass(frozen=True)
class Page:
    rows: list[Access]
    next_before: int | None  # pass as `before` for the next (older) page; None on the last page


def listing(
    *,
    session: Session,
    username: str | None = None,
    action: AccessAction | None = None,
    call_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> Page:
    """The newest rows first, filtered; `start` inclusive, `end` exclusive; `before`: rows older than that id."""
    query = select(Access)
    if username:
        query = query.where(Access.username == username)
    if action is not None:
        query = query.where(Access.action == str(action))
    if call_id is not None:
        query = query.where(Access.call_ids.like(f"%,{int(call_id)},%"))
    if start is not None:
        query = query.where(Access.at >= start)
    if end is not None:
        query = query.where(Access.at < end)
    if before is not None:
        query = query.where(Access.id < before)
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(session.scalars(query.order_by(Access.id.desc()).limit(limit + 1)))
    return Page(rows[:limit], rows[limit - 1].id if len(rows) > limit else None)


def data(row: Access) -> dict[str, object]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "user_id": row.user_id,
        "username": row.username,
        "role": row.role,
        "action": row.action,
        "subject": row.subject,
        "call_ids": [int(i) for i in row.call_ids.strip(",").split(",")] if row.call_ids else [],
        "address": row.address,
    }
