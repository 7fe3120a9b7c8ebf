"""A report period: whole days in the region's time zone, turned into a half-open UTC interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dispatch.bounds import FIRST_DAY, LAST_DAY
from dispatch.clock import as_utc
from dispatch.errors import Invalid

MAX_DAYS = 400


@dataclass(frozen=True)
class Period:
    first: date  # first day, inclusive
    last: date  # last day, inclusive
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day, local time."""
        return datetime.combine(self.last + timedelta(days=1), time(0), self.tz).astimezone(UTC)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def local(self, at: datetime) -> str:
        return local_iso(at, self.tz)

    def meta(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "timezone": str(self.tz)}


def period(
    first: date | None, last: date | None, tz: ZoneInfo, *, today: date | None = None, default_days: int = 7
) -> Period:
    """The days asked for; by default the last `default_days` days up to today (local)."""
    today = today or datetime.now(tz).date()
    if last is None:
        last = today if first is None or first <= today else first
    if first is None:
        first = last - timedelta(days=default_days - 1)
    if first > last:
        raise Invalid(f"the period starts ({first}) after it ends ({last})")
    if first < FIRST_DAY or last > LAST_DAY:
        raise Invalid(f"a report covers days from {FIRST_DAY} to {LAST_DAY}")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid(f"a report covers at most {MAX_DAYS} days")
    return Period(first, last, tz)


def local_iso(at: datetime, tz: ZoneInfo) -> str:
    """`at` in the region's time (ISO 8601), or in UTC where the region's time would lie past the year 9999 or
    before the year 1: a row a broken clock dated so must not fail the whole report."""
    try:
        return at.astimezone(tz).isoformat()
    except OverflowError:
        return as_utc(at).isoformat()
