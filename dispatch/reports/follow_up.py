"""Follow-up of referred complaints per agency (OPD): the figure Kupang publishes per agency.

Follow-up rate = referrals the agency finished (done) / all referrals it received in the period. Rejected
referrals count in the denominator: a complaint refused is a complaint not followed up.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency
from dispatch.clock import utcnow
from dispatch.referrals.models import Referral
from dispatch.referrals.service import is_overdue
from dispatch.reports.fractiles import fractile
from dispatch.reports.period import Period
from dispatch.reports.table import Table

COLUMNS = (
    "agency",
    "agency_name",
    "referred",
    "waiting",
    "in_progress",
    "done",
    "rejected",
    "overdue",
    "follow_up_pct",
    "p50_first_response_h",
    "p50_done_h",
)
_STATES = ("referred", "in_progress", "done", "rejected")


def follow_up(*, session: Session, period: Period) -> Table:
    per_agency: dict[int, list[Referral]] = defaultdict(list)
    query = select(Referral).where(Referral.referred_at >= period.start, Referral.referred_at < period.end)
    for row in session.scalars(query):
        per_agency[row.agency_id].append(row)
    now = utcnow()
    rows = [
        _row(agency, per_agency.get(agency.id, []), now)
        for agency in session.scalars(select(Agency).order_by(Agency.name))
    ]
    total = sum(len(v) for v in per_agency.values())
    done = sum(1 for v in per_agency.values() for r in v if r.status == "done")
    return Table(
        COLUMNS,
        rows,
        {**period.meta(), "referred": total, "follow_up_pct": round(100.0 * done / total, 1) if total else None},
    )


def _row(agency: Agency, rows: list[Referral], now: datetime) -> dict[str, object]:
    by_status = {s: sum(1 for r in rows if r.status == s) for s in _STATES}
    first = [_hours(r.referred_at, _first_response(r)) for r in rows if _first_response(r) is not None]
    done = [_hours(r.referred_at, r.done_at) for r in rows if r.done_at is not None]
    return {
        "agency": agency.code,
        "agency_name": agency.name,
        "referred": len(rows),
        "waiting": by_status["referred"],
        "in_progress": by_status["in_progress"],
        "done": by_status["done"],
        "rejected": by_status["rejected"],
        "overdue": sum(1 for r in rows if is_overdue(r, now)),  # still open past the topic's deadline
        "follow_up_pct": round(100.0 * by_status["done"] / len(rows), 1) if rows else None,
        "p50_first_response_h": _round(fractile(first, 0.5)),
        "p50_done_h": _round(fractile(done, 0.5)),
    }


def _first_response(row: Referral) -> datetime | None:
    return min((t for t in (row.in_progress_at, row.done_at, row.rejected_at) if t is not None), default=None)


def _hours(start: datetime, end: datetime | None) -> float:
    assert end is not None
    return max(0.0, (end - start).total_seconds() / 3600)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
