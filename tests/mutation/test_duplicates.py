"""'Probably the same as #N': what the call-taker is offered, and in which order, at the edges the main tests skip."""

from dataclasses import replace
from datetime import timedelta

import pytest
from geopy.distance import great_circle
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.clock import utcnow
from dispatch.incidents import duplicates
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Incident
from dispatch.incidents.schemas import Duplicate, IncidentIn
from ui.context import Ctx

HERE = (-0.9262, 100.3560)  # Padang Barat
FAR = (-0.9500, 100.4000)  # about 5.5 km away
CALLER = "+6281255556666"
SAME_CALLER = "penelepon sama / same caller"


def make(ctx: Ctx, session: Session, at: tuple[float, float] | None = HERE, **kw: object) -> Incident:
    where = {"lat": at[0], "lon": at[1]} if at else {}
    body = IncidentIn(**{"type_code": "fire_house", **where, **kw})
    return incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)


def answered_call(session: Session, caller: str, channel: str, **kw: object) -> int:
    call = calls.offer(session=session, caller=caller, provider="manual", channel_id=channel, **kw)
    calls.answer(session=session, call_id=call.id, taker_id=None, actor="t")
    return call.id


def find(ctx: Ctx, session: Session, **kw: object) -> list[Duplicate]:
    args: dict[str, object] = {"type_code": "fire_market", "lat": HERE[0], "lon": HERE[1], "caller": None, **kw}
    policy = args.pop("policy", ctx.region.policy)
    return duplicates.find(session=session, policy=policy, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((-0.9262, 100.3560), (-0.9300, 100.3600)),
        ((0.0, 0.0), (0.0, 1.0)),
        ((60.0, 10.0), (61.5, 12.5)),
        ((10.0, 20.0), (-30.0, 150.0)),
    ],
)
def test_distance_is_the_great_circle(a: tuple[float, float], b: tuple[float, float]) -> None:
    expected = great_circle(a, b, radius=6371.0088).meters
    assert duplicates.distance_m(*a, *b) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("type_code", [None, "no_such_type"])
def test_without_a_known_type_any_nearby_incident_is_offered(ctx: Ctx, session: Session, type_code: str | None) -> None:
    medical = make(ctx, session, type_code="medical")
    assert [d.incident_id for d in find(ctx, session, type_code=type_code)] == [medical.id]


def test_a_closed_incident_is_not_offered(ctx: Ctx, session: Session) -> None:
    closed = make(ctx, session)
    incidents.close(session=session, incident_id=closed.id, closure="selesai", actor="t")
    assert find(ctx, session) == []


def test_an_incident_older_than_the_window_is_not_offered(ctx: Ctx, session: Session) -> None:
    old = make(ctx, session)
    old.created_at = utcnow() - ctx.region.policy.duplicate_window - timedelta(minutes=1)
    session.commit()
    assert find(ctx, session) == []


def test_same_caller_by_the_incidents_own_caller(ctx: Ctx, session: Session) -> None:
    """The call that opened it came in before the window; the incident still carries the caller's number."""
    call_id = answered_call(session, "081255556666", "early", at=utcnow() - timedelta(hours=3))
    incident = make(ctx, session, at=FAR, call_id=call_id)
    found = find(ctx, session, caller=CALLER)
    assert [(d.incident_id, d.reason) for d in found] == [(incident.id, SAME_CALLER)]


def test_same_caller_by_a_call_linked_later(ctx: Ctx, session: Session) -> None:
    incident = make(ctx, session, at=FAR)
    calls.link_incident(
        session=session, call_id=answered_call(session, "081255556666", "c1"), incident_id=incident.id, actor="t"
    )
    session.commit()
    found = find(ctx, session, caller=CALLER, lat=None, lon=None)
    assert [(d.incident_id, d.reason, d.distance_m) for d in found] == [(incident.id, SAME_CALLER, None)]


def test_another_callers_call_does_not_make_a_same_caller_match(ctx: Ctx, session: Session) -> None:
    incident = make(ctx, session, at=FAR)
    calls.link_incident(
        session=session, call_id=answered_call(session, "081299990000", "c2"), incident_id=incident.id, actor="t"
    )
    session.commit()
    assert find(ctx, session, caller=CALLER) == []


def test_a_call_from_before_the_window_does_not_make_a_same_caller_match(ctx: Ctx, session: Session) -> None:
    incident = make(ctx, session, at=FAR)
    early = answered_call(session, "081255556666", "c3", at=utcnow() - timedelta(hours=3))
    calls.link_incident(session=session, call_id=early, incident_id=incident.id, actor="t")
    session.commit()
    assert find(ctx, session, caller=CALLER) == []


def test_excluding_one_incident_still_offers_the_others(ctx: Ctx, session: Session) -> None:
    first, second = make(ctx, session), make(ctx, session)
    assert [d.incident_id for d in find(ctx, session, exclude_id=first.id)] == [second.id]


def test_an_incident_without_a_location_is_skipped_by_a_search_by_place(ctx: Ctx, session: Session) -> None:
    make(ctx, session, at=None)
    assert find(ctx, session) == []


def test_an_incident_exactly_at_the_radius_is_offered(ctx: Ctx, session: Session) -> None:
    edge = make(ctx, session, at=(HERE[0] + 0.003, HERE[1]))
    policy = replace(ctx.region.policy, duplicate_radius_m=duplicates.distance_m(*HERE, edge.lat, edge.lon))
    assert [d.incident_id for d in find(ctx, session, policy=policy)] == [edge.id]


def test_nearest_first_and_same_caller_without_a_place_last(ctx: Ctx, session: Session) -> None:
    """Made in the wrong order on purpose: the list is sorted, not returned as the database read it."""
    unplaced = make(ctx, session, at=None, call_id=answered_call(session, "081255556666", "c4"))
    far = make(ctx, session, at=(HERE[0] + 0.003, HERE[1]))
    near = make(ctx, session, at=(HERE[0] + 0.000004, HERE[1]))
    same_spot = make(ctx, session)
    found = find(ctx, session, caller=CALLER)
    assert [d.incident_id for d in found] == [same_spot.id, near.id, far.id, unplaced.id]
    assert found[0].distance_m == 0 and found[1].distance_m < 1 < found[2].distance_m
