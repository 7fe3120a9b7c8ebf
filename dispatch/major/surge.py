"""The surge a supervisor watches: calls per minute over the last hour against the same hour on normal days,
calls waiting now, abandoned, and the callers' choices at the announcement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from dispatch.calls.models import Call
from dispatch.clock import as_utc, utcnow
from dispatch.lifecycle import CallClass, CallStatus

HOUR = timedelta(hours=1)
DAYS = 28


@dataclass(frozen=True)
class Surge:
    per_minute: list[int]  # the last 60 minutes, oldest first
    normal_per_minute: float  # the same hour of the day, on average over the days before
    last_hour: int
    normal_hour: float
    waiting: int  # offered and not answered, now
    abandoned: int  # in the last hour
    by_choice: dict[str, int]  # "1", "2", "3" and "none", in the last hour

    def shown(self) -> dict[str, Any]:
        ratio = self.last_hour / self.normal_hour if self.normal_hour else None
        return {
            "per_minute": self.per_minute, "normal_per_minute": round(self.normal_per_minute, 3),
            "last_hour": self.last_hour, "normal_hour": round(self.normal_hour, 1),
            "ratio": round(ratio, 1) if ratio is not None else None, "waiting": self.waiting,
            "abandoned": self.abandoned, "by_choice": self.by_choice,
        }  # fmt: skip


def figures(*, session: Session, now: datetime | None = None, days: int = DAYS) -> Surge:
    """One read of the last hour's calls (by the offered_at index), one count over the same hour of the days
    before, one count of the calls waiting."""
    now = now or utcnow()
    start = now - HOUR
    per_minute = [0] * 60
    abandoned = 0
    by_choice = {"1": 0, "2": 0, "3": 0, "none": 0}
    rows = session.execute(
        select(Call.offered_at, Call.classification, Call.major_choice).where(
            Call.offered_at > start, Call.offered_at <= now
        )
    )
    for at, classification, choice in rows:
        minute = min(59, int((as_utc(at) - start).total_seconds() // 60))
        per_minute[minute] += 1
        abandoned += classification == CallClass.abandoned
        key = str(choice) if choice in (1, 2, 3) else "none"
        by_choice[key] += 1
    same_hour = or_(
        *(and_(Call.offered_at > start - timedelta(days=d), Call.offered_at <= now - timedelta(days=d))
          for d in range(1, days + 1))
    )  # fmt: skip
    before = session.scalar(select(func.count()).select_from(Call).where(same_hour)) or 0
    waiting = session.scalar(select(func.count()).select_from(Call).where(Call.status == CallStatus.offered)) or 0
    normal_hour = before / days
    return Surge(per_minute, normal_hour / 60, sum(per_minute), normal_hour, waiting, abandoned, by_choice)
