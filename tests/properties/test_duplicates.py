"""Duplicates are proposed exactly within the configured radius and time window, checked against an independent
haversine at distances and ages around the limits (just inside, just outside, and far either side)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import assume, example, given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.context import Policy
from dispatch.incidents import duplicates
from dispatch.incidents.models import Incident
from dispatch.lifecycle import IncidentStatus
from tests.properties.support import fast
from ui.context import Ctx

NOW = datetime(2026, 11, 2, 3, 4, 5, 678_000, tzinfo=UTC)
R_EARTH = 6_371_008.8  # mean Earth radius (IUGG), as the service says it uses
# Points across Kota Padang, from the coast to the hills.
BASES = [(-0.9262, 100.3560), (-0.8600, 100.3700), (-0.9900, 100.4200), (-0.7800, 100.3100)]


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Written here from the textbook, not imported, so a wrong service distance cannot agree with itself."""
    (lat1, lon1), (lat2, lon2) = ((math.radians(x), math.radians(y)) for x, y in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH * math.asin(min(1.0, math.sqrt(h)))


def destination(start: tuple[float, float], bearing_deg: float, metres: float) -> tuple[float, float]:
    lat1, lon1 = math.radians(start[0]), math.radians(start[1])
    theta, delta = math.radians(bearing_deg), metres / R_EARTH
    lat2 = math.asin(math.sin(lat1) * math.cos(delta) + math.cos(lat1) * math.sin(delta) * math.cos(theta))
    lon2 = lon1 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(lat1), math.cos(delta) - math.sin(lat1) * math.sin(lat2)
    )
    return math.degrees(lat2), math.degrees(lon2)


# How far from the radius: mostly a hair either side of it, sometimes anywhere from on top to far beyond (a
# radius ten times too wide must show).
near_edge = st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(min_value=-2.5, max_value=0.5)).map(
    lambda se: ("edge", se[0] * 10 ** se[1])  # 3 mm to 3 m, as many a centimetre off as a metre
)
anywhere = st.floats(min_value=0.0, max_value=12.0).map(lambda f: ("factor", f))
# How old the open incident is, relative to the window: to the millisecond either side, or anywhere.
age_near_edge = st.integers(min_value=-3, max_value=3).map(lambda ms: ("edge", ms))
age_anywhere = st.floats(min_value=0.0, max_value=3.0).map(lambda f: ("factor", f))


def test_duplicates_exactly_within_radius_and_window(ctx: Ctx, session: Session) -> None:
    @fast(80)
    @given(
        radius=st.one_of(st.sampled_from([50.0, 111.0, 500.0, 2_000.0]), st.floats(min_value=20.0, max_value=5_000.0)),
        window_min=st.one_of(st.sampled_from([1.0, 60.0, 24 * 60.0]), st.floats(min_value=1.0, max_value=24 * 60.0)),
        base=st.sampled_from(BASES),
        bearing=st.floats(min_value=0.0, max_value=360.0),
        offset=st.one_of(near_edge, anywhere),
        age=st.one_of(age_near_edge, age_anywhere),
    )
    # Always tried as well: a centimetre and a metre either side of 500 m, a millisecond either side of the hour.
    @example(500.0, 60.0, BASES[0], 45.0, ("edge", -0.006), ("factor", 0.5))
    @example(500.0, 60.0, BASES[0], 45.0, ("edge", 0.006), ("factor", 0.5))
    @example(500.0, 60.0, BASES[1], 200.0, ("edge", -1.0), ("edge", 1))
    @example(500.0, 60.0, BASES[1], 200.0, ("edge", -1.0), ("edge", 0))
    @example(500.0, 60.0, BASES[1], 200.0, ("edge", -1.0), ("edge", -1))
    @example(500.0, 60.0, BASES[2], 300.0, ("edge", 1.0), ("factor", 0.1))
    def proposed_iff_inside(
        radius: float,
        window_min: float,
        base: tuple[float, float],
        bearing: float,
        offset: tuple[str, float],
        age: tuple[str, float],
    ) -> None:
        window = timedelta(minutes=window_min)
        kind, x = offset
        metres = radius + x if kind == "edge" else radius * x
        there = destination(base, bearing, max(0.0, metres))
        distance = haversine(base, there)
        assume(abs(distance - radius) > 0.005)  # a few millimetres: beyond floating-point disagreement
        kind, y = age
        created = NOW - window - timedelta(milliseconds=y) if kind == "edge" else NOW - window * y
        created = created.replace(microsecond=created.microsecond // 1000 * 1000)  # what the column keeps
        # One open incident, alone: the previous example's are closed.
        session.execute(update(Incident).values(status=IncidentStatus.closed))
        row = Incident(
            type_code="fire_house",
            priority=1,
            status=IncidentStatus.new,
            lat=there[0],
            lon=there[1],
            created_at=created,
        )
        session.add(row)
        session.commit()
        policy = Policy(duplicate_radius_m=radius, duplicate_window=window)
        found = duplicates.find(
            session=session, policy=policy, type_code="fire_market", lat=base[0], lon=base[1], caller=None, now=NOW
        )
        inside = distance <= radius and created >= NOW - window
        assert [d.incident_id for d in found] == ([row.id] if inside else []), (distance, radius, created)
        if found:
            assert math.isclose(found[0].distance_m or 0.0, distance, rel_tol=1e-9, abs_tol=1e-6)

    proposed_iff_inside()
