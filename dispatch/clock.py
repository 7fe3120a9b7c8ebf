"""One place to ask for the time, so every timestamp is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch.errors import Invalid

# How far ahead of this server's clock a time a client or the bridge reports may lie (their clocks drift);
# `Settings.clock_skew_s`, through `Policy.clock_skew`.
SKEW = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC (SQLite hands them back without a zone)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def not_ahead(at: datetime, *, what: str, now: datetime | None = None, skew: timedelta = SKEW) -> datetime:
    """`at` in UTC; `Invalid` if it lies further in the future than `skew` (a wrong clock, or a forged time that
    would keep a call at the head of every report)."""
    at, now = as_utc(at), now or utcnow()
    if at > now + skew:
        raise Invalid(f"{what} ({at.isoformat()}) lies in the future; check the clock of the phone or PBX")
    return at
