"""The queue right now: calls waiting for a call-taker, and what each call-taker is doing."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.lifecycle import CallStatus
from dispatch.reports.period import local_iso
from dispatch.reports.table import Table
from dispatch.users.models import Role, Token, User


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


WRAP_UP = timedelta(minutes=2)  # after a call, a call-taker not ready yet is writing it up, not away


def takers(*, session: Session, tz: ZoneInfo, now: datetime | None = None) -> Table:
    """Every active call-taker as the shift sees them: on a call, ready, writing up the call just ended
    (`wrap_up`), logged in but not ready (`away`), or not logged in at all (`off`), with the calls each has
    answered today. A call-taker who answers call after call from the console without pressing "Siap" is
    working, not away."""
    now = now or utcnow()
    people = session.scalars(
        select(User).where(User.active.is_(True), User.role == Role.call_taker).order_by(User.username)
    ).all()
    on_call = {
        c.taker_id: c
        for c in session.scalars(select(Call).where(Call.status == CallStatus.answered))
        if c.taker_id is not None
    }
    midnight = datetime.combine(now.astimezone(tz).date(), time(), tz)
    today: dict[int, int] = {
        taker: n
        for taker, n in session.execute(
            select(Call.taker_id, func.count())
            .where(Call.taker_id.is_not(None), Call.answered_at >= midnight)
            .group_by(Call.taker_id)
        )
        if taker is not None
    }
    last_end: dict[int, datetime] = {
        taker: at
        for taker, at in session.execute(
            select(Call.taker_id, func.max(Call.ended_at))
            .where(Call.taker_id.is_not(None), Call.ended_at >= now - WRAP_UP)
            .group_by(Call.taker_id)
        )
        if taker is not None and at is not None
    }
    live = or_(Token.expires_at.is_(None), Token.expires_at > now)
    logged_in = set(
        session.scalars(select(Token.user_id).where(Token.kind == "session", Token.revoked.is_(False), live))
    )
    rows = []
    for user in people:
        call = on_call.get(user.id)
        ended = last_end.get(user.id)
        if call:
            state, since = "on_call", call.answered_at
        elif user.available:
            state, since = "available", user.available_at
        elif ended is not None:
            state, since = "wrap_up", ended
        else:
            state, since = ("away" if user.id in logged_in else "off"), user.available_at
        rows.append(
            {
                "user_id": user.id,
                "username": user.username,
                "name": user.name,
                "state": state,
                "since": local_iso(since or user.created_at, tz),
                "call_id": call.id if call else None,
                "talking_s": _seconds(now, call.answered_at if call else None),
                "calls_today": today.get(user.id, 0),
            }
        )
    counts = {s: sum(1 for r in rows if r["state"] == s) for s in STATES}
    columns = ("user_id", "username", "name", "state", "since", "call_id", "talking_s", "calls_today")
    return Table(columns, rows, counts)


STATES = ("available", "on_call", "wrap_up", "away", "off")


def _seconds(now: datetime, since: datetime | None) -> float | None:
    """Seconds from `since` to now, never below 0 (a time ahead of the clock is a wrong clock: nothing yet)."""
    return None if since is None else round(max(0.0, (now - since).total_seconds()), 1)
