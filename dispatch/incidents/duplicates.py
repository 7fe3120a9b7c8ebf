"""Duplicate detection: is this new report probably the same as an open incident?

Candidates are open incidents of the same category created within the window and within the radius, or
incidents linked to a call from the same caller within the window. The call-taker decides; we only offer.
"""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.context import Policy
from dispatch.incidents.models import Incident, IncidentType
from dispatch.incidents.schemas import Duplicate
from dispatch.lifecycle import OPEN_INCIDENT

_EARTH_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance; plenty for a few-hundred-metre duplicate radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(math.sqrt(h))


def find(
    *,
    session: Session,
    policy: Policy,
    type_code: str | None,
    lat: float | None,
    lon: float | None,
    caller: str | None,
    exclude_id: int | None = None,
    now: datetime | None = None,
) -> list[Duplicate]:
    """`now` is the clock's time unless given (tests put incidents a millisecond either side of the window)."""
    since = (now or utcnow()) - policy.duplicate_window
    category = None
    if type_code:
        itype = session.get(IncidentType, type_code)
        category = itype.category if itype else None
    rows = session.scalars(
        select(Incident).where(
            Incident.status.in_(OPEN_INCIDENT), Incident.created_at >= since, Incident.duplicate_of.is_(None)
        )
    ).all()
    same_caller: set[int] = set()
    if caller:
        same_caller = {
            c
            for c in session.scalars(select(Call.incident_id).where(Call.caller == caller, Call.offered_at >= since))
            if c is not None
        } | {r.id for r in rows if r.caller == caller}
    out = []
    for row in rows:
        if row.id == exclude_id:
            continue
        dist = None
        if lat is not None and lon is not None and row.lat is not None and row.lon is not None:
            dist = distance_m(lat, lon, row.lat, row.lon)
        compatible = category is None or row.type.category == category
        if row.id in same_caller:
            reason = "penelepon sama / same caller"
        elif compatible and dist is not None and dist <= policy.duplicate_radius_m:
            reason = f"{row.type.name_id}, {dist:.0f} m"
        else:
            continue
        out.append(
            Duplicate(
                incident_id=row.id, reason=reason, distance_m=dist, type_code=row.type_code, created_at=row.created_at
            )
        )
    out.sort(key=lambda d: (d.distance_m is None, d.distance_m or 0))
    return out
