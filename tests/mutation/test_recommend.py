"""Which unit the dispatcher is offered first, and the reason shown: the travel time of the incident's priority, only
units that are free, a GPS fix only while it is fresh, the agency covering the kecamatan first, units that cannot
get there last, and a reason line that says where the unit is and how old its position is."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency, Station, Unit
from dispatch.clock import utcnow
from dispatch.errors import Invalid
from dispatch.incidents import assignments
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Incident
from dispatch.incidents.schemas import IncidentIn
from dispatch.recommend import service as recommend
from dispatch.recommend.service import Suggestion, reason_line
from geo.projection import great_circle_m
from geo.travel import Origins, Travel, TravelModel
from ui.context import Ctx

PADANG_BARAT = (-0.9262, 100.3560)
PUMPER_MS = 40 / 3.6  # a pumper's planning speed (no word of "pumper" in the speed table: the default)


def fire(ctx: Ctx, session: Session, at: tuple[float, float] = PADANG_BARAT, type_code: str = "fire_house") -> Incident:
    body = IncidentIn(type_code=type_code, lat=at[0], lon=at[1])
    return incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)


def unit(session: Session, callsign: str) -> Unit:
    return session.scalars(select(Unit).where(Unit.callsign == callsign)).one()


def slots(ctx: Ctx, session: Session, inc: Incident, **kw: Any) -> dict[str, recommend.Slot]:
    return {s.kind: s for s in recommend.recommend(session=session, region=ctx.region, incident_id=inc.id, **kw)}


def straight_eta(at: tuple[float, float], lat: float, lon: float, speed_ms: float, priority_factor: float) -> float:
    """The straight-line model by hand: great circle x 1.4 circuity, at the unit type's speed x the priority's."""
    return float(great_circle_m(at[0], at[1], [lat], [lon])[0]) * 1.4 / (speed_ms * priority_factor)


def test_the_nearest_free_engine_comes_first_with_the_travel_time_of_a_priority_one_fire(
    ctx: Ctx, session: Session
) -> None:
    """A house fire is priority 1: lights and siren, 1.2 x the planning speed."""
    inc = fire(ctx, session)
    assert inc.priority == 1
    damkar = slots(ctx, session, inc)["damkar"]
    assert (damkar.count, damkar.assigned, len(damkar.suggestions)) == (2, 0, 3)
    first = damkar.suggestions[0]
    station = session.scalars(select(Station).where(Station.code == "damkar-137103")).one()
    eta = straight_eta(PADANG_BARAT, station.lat, station.lon, PUMPER_MS, 1.2)
    distance = float(great_circle_m(*PADANG_BARAT, [station.lat], [station.lon])[0]) * 1.4
    assert first == Suggestion(
        unit_id=unit(session, "DAMKAR-03-PMK1").id,
        callsign="DAMKAR-03-PMK1",
        agency="damkar",
        agency_kind="damkar",
        eta_s=round(eta, 1),
        distance_m=round(distance),
        position_source="station",
        position_age_s=None,
        reachable=True,
        covers=True,
        reason="Pos Damkar Padang Barat (demo), 0,1 km, ±1 menit, dari pos (GPS tidak ada atau lama)",
    )
    etas = [s.eta_s for s in damkar.suggestions if s.eta_s is not None]
    assert len(etas) == 3 and etas == sorted(etas)


def test_only_free_units_are_offered_and_the_slot_counts_this_incidents_active_ones(ctx: Ctx, session: Session) -> None:
    inc, elsewhere = fire(ctx, session), fire(ctx, session, (-0.95, 100.40))
    engine, second, third = (unit(session, f"DAMKAR-0{n}-PMK1") for n in (3, 4, 2))
    mine = assignments.assign(session=session, incident_id=inc.id, unit_id=engine.id, actor="d", user_id=None)
    assignments.assign(session=session, incident_id=elsewhere.id, unit_id=third.id, actor="d", user_id=None)
    second.status = "out_of_service"
    session.commit()
    damkar = slots(ctx, session, inc, per_slot=20)["damkar"]
    offered = {s.callsign for s in damkar.suggestions}
    assert damkar.assigned == 1  # the engine on the other fire is not ours
    assert offered.isdisjoint({"DAMKAR-03-PMK1", "DAMKAR-04-PMK1", "DAMKAR-02-PMK1"}) and len(offered) == 8
    assert slots(ctx, session, inc)["psc119"].assigned == 0
    assignments.step(session=session, assignment_id=mine.id, status="cancelled", actor="d")
    damkar = slots(ctx, session, inc)["damkar"]
    assert damkar.assigned == 0 and damkar.suggestions[0].callsign == "DAMKAR-03-PMK1"  # free again: nearest again


def test_a_slot_shows_at_most_per_slot_units_in_plan_order(ctx: Ctx, session: Session) -> None:
    inc = fire(ctx, session, type_code="fire_market")
    got = recommend.recommend(session=session, region=ctx.region, incident_id=inc.id, per_slot=2)
    assert [(s.kind, s.count) for s in got] == [("damkar", 3), ("psc119", 1), ("polisi", 1), ("bpbd", 1)]
    assert [len(s.suggestions) for s in got] == [2, 2, 2, 2]
    assert all(x.agency_kind == s.kind for s in got for x in s.suggestions)


def test_no_recommendation_without_a_point(ctx: Ctx, session: Session) -> None:
    inc = incidents.create(
        session=session, region=ctx.region, body=IncidentIn(type_code="medical"), actor="t", user_id=None
    )
    with pytest.raises(Invalid, match=r"^set the incident's location first; recommendations need a point$"):
        recommend.recommend(session=session, region=ctx.region, incident_id=inc.id)


def test_a_gps_fix_counts_while_fresh_and_the_station_after(ctx: Ctx, session: Session) -> None:
    """Exactly `gps_fresh` old is still fresh; a microsecond more and the unit is placed at its station."""
    now, fresh = utcnow(), ctx.region.policy.gps_fresh
    engine = unit(session, "DAMKAR-05-PMK1")
    engine.lat, engine.lon, engine.position_at = -0.93, 100.36, now - fresh
    session.commit()

    def where(at: Any) -> tuple[Any, ...]:
        found = recommend.candidates(session, {"damkar"}, ctx.region, at)
        assert {c.unit.agency.kind for c in found} == {"damkar"} and len(found) == 11  # the kinds asked for
        [c] = [c for c in found if c.unit.id == engine.id]
        return c.source, c.lat, c.lon, c.age_s, c.place

    assert where(now) == ("gps", -0.93, 100.36, fresh.total_seconds(), "DAMKAR-05-PMK1")
    station = engine.station
    assert station is not None
    stale = ("station", station.lat, station.lon, None, "Pos Damkar Bungus Teluk Kabung (demo)")
    assert where(now + timedelta(microseconds=1)) == stale
    engine.lat = None  # a fix without a point is no fix
    session.commit()
    assert where(now) == stale


def test_a_unit_with_no_station_is_offered_only_with_a_fresh_fix(ctx: Ctx, session: Session) -> None:
    now = utcnow()
    engine = unit(session, "DAMKAR-05-PMK1")
    engine.station_id = None
    session.commit()
    assert engine.id not in {c.unit.id for c in recommend.candidates(session, {"damkar"}, ctx.region, now)}
    engine.lat, engine.lon, engine.position_at = -0.9263, 100.3561, now - timedelta(seconds=40)
    session.commit()
    inc = fire(ctx, session)
    [first] = slots(ctx, session, inc, per_slot=1)["damkar"].suggestions
    assert (first.callsign, first.position_source) == ("DAMKAR-05-PMK1", "gps")
    assert first.position_age_s is not None and first.position_age_s >= 40
    assert first.reason.startswith("DAMKAR-05-PMK1, 0,0 km, ±1 menit, posisi GPS ")


def test_the_agency_covering_the_kecamatan_comes_before_a_nearer_one(ctx: Ctx, session: Session) -> None:
    """Among units of one kind, those whose agency covers the incident's kecamatan first, then by ETA."""
    city = session.scalars(select(Agency).where(Agency.code == "damkar")).one()
    city.covers = " 13.71.01 , 13.71.02,, "  # Padang Selatan and Timur, not Padang Barat
    local = Agency(code="damkar-barat", name="Damkar Relawan Padang Barat", kind="damkar", covers="13.71.03")
    far = Station(code="relawan-1", name="Pos Relawan Koto Tangah", agency=local, lat=-0.809025, lon=100.380614)
    session.add(Unit(callsign="RELAWAN-PMK1", unit_type="pumper", agency=local, station=far))
    session.commit()
    inc = fire(ctx, session)
    assert inc.kecamatan_code == "13.71.03"
    ranked = slots(ctx, session, inc, per_slot=20)["damkar"].suggestions
    assert [(s.callsign, s.agency, s.covers) for s in ranked[:2]] == [
        ("RELAWAN-PMK1", "damkar-barat", True),
        ("DAMKAR-03-PMK1", "damkar", False),
    ]
    assert ranked[0].eta_s is not None and ranked[1].eta_s is not None and ranked[0].eta_s > ranked[1].eta_s
    assert not any(s.covers for s in ranked[1:])
    other = fire(ctx, session, (-0.94494, 100.371694))  # Padang Timur: the city's engines cover it
    assert other.kecamatan_code == "13.71.02"
    ranked = slots(ctx, session, other, per_slot=20)["damkar"].suggestions
    assert ranked[0].callsign == "DAMKAR-02-PMK1" and ranked[-1].callsign == "RELAWAN-PMK1"
    assert [s.covers for s in ranked] == [True] * 11 + [False]


class Blocked:
    """The region's own travel model, except that units at `no_road` get no route at all (ETA and distance inf,
    unreachable, as a road graph answers for a unit it cannot route) and units at `no_means` are reported
    unreachable although an ETA came back."""

    def __init__(self, model: TravelModel, no_road: tuple[float, float], no_means: tuple[float, float]) -> None:
        self.model, self.no_road, self.no_means = model, no_road, no_means

    def origins(self, *args: Any, **kw: Any) -> Origins:
        return self.model.origins(*args, **kw)

    def travel(self, lat: float, lon: float, origins: Origins, **kw: Any) -> Travel:
        t = self.model.travel(lat, lon, origins, **kw)

        def at(point: tuple[float, float]) -> npt.NDArray[np.bool_]:
            here: npt.NDArray[np.bool_] = (origins.lat == point[0]) & (origins.lon == point[1])
            return here

        eta, distance, reachable = t.eta_s.copy(), t.distance_m.copy(), t.reachable.copy()
        eta[at(self.no_road)], distance[at(self.no_road)], reachable[at(self.no_road)] = np.inf, np.inf, False
        reachable[at(self.no_means)] = False
        return replace(t, eta_s=eta, distance_m=distance, reachable=reachable)


def test_units_that_cannot_get_there_come_last_with_no_eta(ctx: Ctx, session: Session) -> None:
    barat = session.scalars(select(Station).where(Station.code == "damkar-137103")).one()
    utara = session.scalars(select(Station).where(Station.code == "damkar-137104")).one()
    ctx.region.__dict__["travel_model"] = Blocked(
        ctx.region.travel_model, (barat.lat, barat.lon), (utara.lat, utara.lon)
    )
    try:
        ranked = slots(ctx, session, fire(ctx, session), per_slot=20)["damkar"].suggestions
    finally:
        del ctx.region.__dict__["travel_model"]
    last = {s.callsign: s for s in ranked[-2:]}
    no_road, no_means = last["DAMKAR-03-PMK1"], last["DAMKAR-04-PMK1"]
    assert (no_road.reachable, no_road.eta_s, no_road.distance_m) == (False, None, None)
    assert not no_means.reachable and no_means.eta_s is not None and no_means.distance_m is not None
    for s in (no_road, no_means):
        assert s.reason == f"{s.reason.split(':')[0]}: tidak terjangkau lewat darat (pulau lain)"
    assert all(s.reachable and s.eta_s is not None for s in ranked[:-2])


def test_the_reason_line_says_where_the_unit_is_and_how_old_its_fix_is() -> None:
    assert (
        reason_line("Pos Damkar Pauh", 3249, 30, True, "gps", 89.4)
        == "Pos Damkar Pauh, 3,2 km, ±1 menit, posisi GPS 89 detik lalu"
    )
    assert reason_line("X", 12_340, 140, True, "gps", 90) == "X, 12,3 km, ±2 menit, posisi GPS 2 menit lalu"
    assert reason_line("X", 1000, 3000, True, "gps", 3000) == "X, 1,0 km, ±50 menit, posisi GPS 50 menit lalu"
    assert reason_line("X", 2952, 60, True, "gps", 1) == "X, 3,0 km, ±1 menit, posisi GPS 1 detik lalu"
    assert reason_line("X", 1000, 60, True, "gps", None) == "X, 1,0 km, ±1 menit, dari pos (GPS tidak ada atau lama)"
    assert reason_line("X", 1000, 60, True, "station", 5) == "X, 1,0 km, ±1 menit, dari pos (GPS tidak ada atau lama)"
    assert reason_line("X", 1000, math.inf, True, "gps", 5) == "X: tidak terjangkau lewat darat (pulau lain)"
    assert reason_line("X", 1000, 60, False, "gps", 5) == "X: tidak terjangkau lewat darat (pulau lain)"
