"""A burst of calls from one kecamatan, measured against that kecamatan's usual rate at this hour: it proposes a
major incident, never declares one (a supervisor accepts or ignores the proposal).

`propose` is pure: the observations (a call's time and kecamatan) in, the proposals out. `proposals` reads them
from the database: a call's kecamatan is its incident's, or where its caller's handset (AML) or a location link
put it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from dispatch.calls.models import Call, CallerLocation
from dispatch.clock import as_utc, utcnow
from dispatch.context import Region
from dispatch.incidents.models import Incident
from dispatch.major import area

WINDOW = timedelta(minutes=10)  # "many calls in a few minutes"
DAYS = 28  # the usual rate: the same hour of the day on the four weeks before
HALF_HOUR = timedelta(minutes=30)


@dataclass(frozen=True)
class Seen:
    """A call with a known place: when it came and from which kecamatan."""

    at: datetime
    kecamatan_code: str


@dataclass(frozen=True)
class Proposal:
    kecamatan_code: str
    kecamatan: str
    calls: int  # in the window
    usual: float  # calls the kecamatan usually has in a window as long, at this hour
    ratio: float  # calls / max(usual, floor)
    window_min: int

    def shown(self) -> dict[str, object]:
        return {
            "kecamatan_code": self.kecamatan_code, "kecamatan": self.kecamatan, "calls": self.calls,
            "usual": round(self.usual, 2), "ratio": round(self.ratio, 1), "window_min": self.window_min,
        }  # fmt: skip


def propose(
    recent: Iterable[Seen],
    history: Iterable[Seen],
    *,
    now: datetime,
    names: dict[str, str] | None = None,
    window: timedelta = WINDOW,
    days: int = DAYS,
    min_calls: int = 5,
    ratio: float = 4.0,
    floor: float = 0.5,
) -> list[Proposal]:
    """Kecamatan whose calls in the last `window` reach `min_calls` and `ratio` times their usual number.

    The usual number is the kecamatan's calls within half an hour either side of this time of day on each of the
    `days` days before, scaled to the window; `floor` keeps a kecamatan that is usually silent from being
    proposed on a couple of calls. The most unusual first."""
    start = now - window
    counts = Counter(s.kecamatan_code for s in recent if start < as_utc(s.at) <= now)
    usual: Counter[str] = Counter()
    for seen in history:
        if _same_hour(as_utc(seen.at), now, days):
            usual[seen.kecamatan_code] += 1
    per_window = window / (2 * HALF_HOUR) / days  # a history call's share of one window
    found = []
    for code, calls in counts.items():
        expected = usual[code] * per_window
        unusual = calls / max(expected, floor)
        if calls >= min_calls and unusual >= ratio:
            name = (names or {}).get(code, code)
            found.append(Proposal(code, name, calls, expected, unusual, int(window.total_seconds() // 60)))
    return sorted(found, key=lambda p: (-p.ratio, -p.calls, p.kecamatan_code))


def _same_hour(at: datetime, now: datetime, days: int) -> bool:
    """Within half an hour of `now`'s time of day on one of the `days` whole days before."""
    back = now - at
    day = round(back / timedelta(days=1))
    return 1 <= day <= days and abs(back - timedelta(days=day)) <= HALF_HOUR


def history_ranges(now: datetime, days: int = DAYS) -> list[tuple[datetime, datetime]]:
    """The hour around this time of day on each of the days before: the only history `propose` reads."""
    return [(now - timedelta(days=d) - HALF_HOUR, now - timedelta(days=d) + HALF_HOUR) for d in range(1, days + 1)]


def observations(session: Session, region: Region, ranges: Sequence[tuple[datetime, datetime]]) -> list[Seen]:
    """Calls offered within the ranges whose kecamatan is known: by their incident, else by their first valid
    location report (located in the region; a point outside it counts for no kecamatan)."""
    within = or_(*(and_(Call.offered_at >= a, Call.offered_at < b) for a, b in ranges))
    seen = [
        Seen(at, code)
        for at, code in session.execute(
            select(Call.offered_at, Incident.kecamatan_code)
            .join(Incident, Incident.id == Call.incident_id)
            .where(within, Incident.kecamatan_code.is_not(None))
        )
    ]
    located: dict[int, tuple[datetime, float, float]] = {}
    rows = session.execute(
        select(Call.id, Call.offered_at, CallerLocation.lat, CallerLocation.lon)
        .join(CallerLocation, CallerLocation.call_id == Call.id)
        .where(within, Call.incident_id.is_(None), CallerLocation.valid.is_(True), CallerLocation.lat.is_not(None))
        .order_by(CallerLocation.id)
    )
    for call_id, at, lat, lon in rows:
        located.setdefault(call_id, (at, lat, lon))
    for at, lat, lon in located.values():
        where = region.jurisdictions.locate(lat, lon)
        if where.inside_region and where.kecamatan_code:
            seen.append(Seen(at, where.kecamatan_code))
    return seen


def proposals(
    *, session: Session, region: Region, now: datetime | None = None, covered: Sequence[str] | None = None
) -> list[Proposal]:
    """The bursts going on now; kecamatan an active major incident covers already (`covered`; an empty list is
    the whole region) are left out."""
    now = now or utcnow()
    if covered is not None and not covered:
        return []
    recent = observations(session, region, [(now - WINDOW, now + timedelta(seconds=1))])
    history = observations(session, region, history_ranges(now))
    found = propose(recent, history, now=now, names=area.names(region.pack.geo_dir))
    return [p for p in found if covered is None or p.kecamatan_code not in covered]
