"""Repeat-abuse policy: N prank/ghost calls within a window flag a caller for a block period.

A flag is information for the call-taker (and lets telephony play a warning); it never drops a call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, select
from sqlalchemy.orm import Session

from dispatch.calls.models import Call, CallerFlag
from dispatch.calls.schemas import CallerStatus, CallOut
from dispatch.clock import utcnow
from dispatch.context import Policy
from dispatch.events.service import record
from dispatch.lifecycle import CallClass

_ABUSIVE = (CallClass.prank, CallClass.ghost)


def _in_force(now: datetime | BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    """A flag counts until it runs out or a supervisor clears it."""
    return CallerFlag.until > now, CallerFlag.cleared_by.is_(None)


def active_flag(*, session: Session, caller: str | None) -> CallerFlag | None:
    if not caller:
        return None
    return session.scalar(
        select(CallerFlag)
        .where(CallerFlag.caller == caller, *_in_force(utcnow()))
        .order_by(CallerFlag.until.desc())
        .limit(1)
    )


def is_flagged(*, session: Session, caller: str | None) -> bool:
    return active_flag(session=session, caller=caller) is not None


# Built once: on the writer's path of every new call, building the statement cost more than running it.
_FLAGGED_AMONG = select(CallerFlag.caller).where(
    CallerFlag.caller.in_(bindparam("numbers", expanding=True)), *_in_force(bindparam("now"))
)


def flagged_among(*, session: Session, callers: Iterable[str | None]) -> set[str]:
    """Which of these numbers are flagged now: one query for a whole burst of callers."""
    numbers = {c for c in callers if c}
    if not numbers:
        return set()
    return set(session.scalars(_FLAGGED_AMONG, {"numbers": list(numbers), "now": utcnow()}))


def _recent_abuse(session: Session, caller: str, policy: Policy) -> int:
    since = utcnow() - policy.abuse_window
    return (
        session.scalar(
            select(func.count(Call.id)).where(
                Call.caller == caller, Call.classification.in_(_ABUSIVE), Call.offered_at >= since
            )
        )
        or 0
    )


def evaluate(*, session: Session, caller: str, policy: Policy, actor: str) -> CallerFlag | None:
    """Flag the caller if they reached the threshold and are not flagged already."""
    session.flush()
    count = _recent_abuse(session, caller, policy)
    if count < policy.abuse_threshold or is_flagged(session=session, caller=caller):
        return None
    now = utcnow()
    flag = CallerFlag(
        caller=caller,
        flagged_at=now,
        until=now + policy.abuse_block,
        count=count,
        reason=f"{count} prank/ghost calls within {policy.abuse_window.total_seconds() / 3600:g} h",
    )
    session.add(flag)
    session.flush()
    record(
        session,
        "caller.flagged",
        actor=actor,
        data={"caller": caller, "until": flag.until.isoformat(), "count": count, "reason": flag.reason},
    )
    return flag


def clear(*, session: Session, caller: str, user_id: int, actor: str) -> None:
    flag = active_flag(session=session, caller=caller)
    if flag is not None:
        flag.cleared_by = user_id
        record(session, "caller.unflagged", actor=actor, data={"caller": caller})
    session.commit()


def status(*, session: Session, caller: str | None, policy: Policy) -> CallerStatus:
    """What a call-taker sees about a caller: flag, recent abuse, earlier calls and incidents."""
    if not caller:
        return CallerStatus(
            caller=None,
            flagged=False,
            flagged_until=None,
            prank_or_ghost_recent=0,
            calls_total=0,
            incidents=[],
            recent_calls=[],
        )
    flag = active_flag(session=session, caller=caller)
    calls = session.scalars(select(Call).where(Call.caller == caller).order_by(Call.id.desc()).limit(20)).all()
    total = session.scalar(select(func.count(Call.id)).where(Call.caller == caller)) or 0
    incidents = sorted({c.incident_id for c in calls if c.incident_id is not None}, reverse=True)
    return CallerStatus(
        caller=caller,
        flagged=flag is not None,
        flagged_until=flag.until if flag else None,
        prank_or_ghost_recent=_recent_abuse(session, caller, policy),
        calls_total=total,
        incidents=incidents,
        recent_calls=[CallOut.model_validate(c) for c in calls],
    )
