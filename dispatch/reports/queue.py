"""The queue right now: calls waiting for a call-taker, and what each call-taker is doing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.lifecycle import CallStatus
from dispatch.reports.period import local_iso
from dispatch.reports.table import Table
from dispatch.users.models import Role, User


def waiting(*, session: Session, tz: ZoneInfo, now: datetime | None = None) -> Table:
    now = now or utcnow()
    rows: list[dict[str, object]] = []
    longest: float | None = None
    for position, call in enumerate(calls.waiting(session=session), start=1):
        waited = _seconds(now, call.offered_at) or 0.0  # a call dated ahead (a wrong clock) has not waited yet
        longest = waited if longest is None else max(longest, waited)
        rows.append(
            {
                "position": position,
                "call_id": call.id,
                "caller": call.caller,
                "offered_at": local_iso(call.offered_at, tz),
                "waiting_s": waited,
                "flagged": call.flagged,
                "is_text": call.is_text,
            }
        )
    return Table(
        ("position", "call_id", "caller", "offered_at", "waiting_s", "flagged", "is_text"),
        rows,
        {"waiting": len(rows), "longest_s": longest},
    )


def takers(*, session: Session, tz: ZoneInfo, now: datetime | None = None) -> Table:
    """Every active call-taker: ready or not, and the call they are on."""
    now = now or utcnow()
    people = session.scalars(
        select(User).where(User.active.is_(True), User.role == Role.call_taker).order_by(User.username)
    ).all()
    on_call = {
        c.taker_id: c
        for c in session.scalars(select(Call).where(Call.status == CallStatus.answered))
        if c.taker_id is not None
    }
    rows = []
    for user in people:
        call = on_call.get(user.id)
        state = "on_call" if call else ("available" if user.available else "away")
        rows.append(
            {
                "user_id": user.id,
                "username": user.username,
                "name": user.name,
                "state": state,
                "since": local_iso(
                    call.answered_at if call and call.answered_at else user.available_at or user.created_at, tz
                ),
                "call_id": call.id if call else None,
                "talking_s": _seconds(now, call.answered_at if call else None),
            }
        )
    counts = {s: sum(1 for r in rows if r["state"] == s) for s in ("available", "on_call", "away")}
    return Table(("user_id", "username", "name", "state", "since", "call_id", "talking_s"), rows, counts)


def _seconds(now: datetime, since: datetime | None) -> float | None:
    """Seconds from `since` to now, never below 0 (a time ahead of the clock is a wrong clock: nothing yet)."""
    return None if since is None else round(max(0.0, (now - since).total_seconds()), 1)
