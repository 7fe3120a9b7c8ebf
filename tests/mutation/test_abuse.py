"""Repeat-abuse flags: who is flagged, for how long, what the call-taker sees, and what clearing a flag does."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import abuse
from dispatch.calls import service as calls
from dispatch.calls.models import CallerFlag
from dispatch.calls.schemas import CallerStatus
from dispatch.clock import utcnow
from dispatch.events.models import Event
from dispatch.incidents import service as incidents
from dispatch.incidents.schemas import IncidentIn
from dispatch.users import service as users
from ui.context import Ctx

PRANKSTER = "+6281300000001"
NEIGHBOUR = "+6281300000002"


def take(ctx: Ctx, session: Session, caller: str, classification: str, n: int = 1, **kw: object) -> list[int]:
    ids = []
    for _ in range(n):
        call = calls.offer(session=session, caller=caller, provider="manual", channel_id=None, **kw)
        calls.answer(session=session, call_id=call.id, taker_id=None, actor="t")
        calls.classify(
            session=session, call_id=call.id, classification=classification, actor="taker1", policy=ctx.region.policy
        )
        ids.append(call.id)
    return ids


def status(ctx: Ctx, session: Session, caller: str | None) -> CallerStatus:
    return abuse.status(session=session, caller=caller, policy=ctx.region.policy)


def events(session: Session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.seq)))


def test_pranks_and_ghost_calls_together_flag_with_a_readable_event(ctx: Ctx, session: Session) -> None:
    take(ctx, session, PRANKSTER, "prank", 2)
    take(ctx, session, PRANKSTER, "ghost")
    [flagged] = events(session, "caller.flagged")
    seen = status(ctx, session, PRANKSTER)
    assert seen.flagged and seen.flagged_until is not None
    assert flagged.actor == "taker1"
    assert flagged.data == {
        "caller": PRANKSTER,
        "until": seen.flagged_until.isoformat(),
        "count": 3,
        "reason": "3 prank/ghost calls within 24 h",
    }


def test_a_flagged_caller_is_flagged_once_however_often_they_call_again(ctx: Ctx, session: Session) -> None:
    take(ctx, session, PRANKSTER, "prank", 5)
    assert len(events(session, "caller.flagged")) == 1
    assert len(session.scalars(select(CallerFlag)).all()) == 1


def test_real_emergencies_do_not_count_towards_a_flag(ctx: Ctx, session: Session) -> None:
    take(ctx, session, PRANKSTER, "prank", 2)
    take(ctx, session, PRANKSTER, "emergency", 3)
    seen = status(ctx, session, PRANKSTER)
    assert not seen.flagged and seen.prank_or_ghost_recent == 2


def test_other_callers_pranks_do_not_count(ctx: Ctx, session: Session) -> None:
    take(ctx, session, NEIGHBOUR, "prank", 3)
    take(ctx, session, PRANKSTER, "prank", 2)
    seen = status(ctx, session, PRANKSTER)
    assert not seen.flagged and seen.prank_or_ghost_recent == 2


def test_pranks_before_the_window_do_not_count(ctx: Ctx, session: Session) -> None:
    take(ctx, session, PRANKSTER, "prank", 2, at=utcnow() - ctx.region.policy.abuse_window - timedelta(hours=1))
    take(ctx, session, PRANKSTER, "prank")
    seen = status(ctx, session, PRANKSTER)
    assert not seen.flagged and seen.prank_or_ghost_recent == 1


def test_one_callers_flag_is_not_anothers(ctx: Ctx, session: Session) -> None:
    take(ctx, session, PRANKSTER, "prank", 3)
    take(ctx, session, NEIGHBOUR, "emergency")
    neighbour = status(ctx, session, NEIGHBOUR)
    assert not neighbour.flagged and neighbour.flagged_until is None and neighbour.prank_or_ghost_recent == 0
    assert abuse.flagged_among(session=session, callers=[PRANKSTER, NEIGHBOUR, None]) == {PRANKSTER}


def test_a_number_that_never_called_has_an_empty_record(ctx: Ctx, session: Session) -> None:
    take(ctx, session, NEIGHBOUR, "prank")
    seen = status(ctx, session, PRANKSTER)
    assert (seen.caller, seen.calls_total, seen.prank_or_ghost_recent, seen.recent_calls) == (PRANKSTER, 0, 0, [])


def test_a_run_out_flag_no_longer_counts(ctx: Ctx, session: Session) -> None:
    take(ctx, session, PRANKSTER, "prank", 3)
    flag = session.scalars(select(CallerFlag)).one()
    flag.until = utcnow() - timedelta(seconds=1)
    session.commit()
    assert not status(ctx, session, PRANKSTER).flagged


def test_the_latest_flag_in_force_is_the_one_shown(ctx: Ctx, session: Session) -> None:
    """Two writers may each flag the same caller; the call-taker sees the block that runs longest."""
    now = utcnow()
    for hours in (10, 30):
        session.add(
            CallerFlag(caller=PRANKSTER, flagged_at=now, until=now + timedelta(hours=hours), count=3, reason="r")
        )
    session.commit()
    assert status(ctx, session, PRANKSTER).flagged_until == now + timedelta(hours=30)


def test_a_supervisor_clears_a_flag_and_the_log_says_who(ctx: Ctx, session: Session) -> None:
    supervisor = users.create(session=session, username="spv", password="rahasia-demo-112", role="supervisor")
    take(ctx, session, PRANKSTER, "prank", 3)
    abuse.clear(session=session, caller=PRANKSTER, user_id=supervisor.id, actor="spv")
    assert not status(ctx, session, PRANKSTER).flagged
    assert session.scalars(select(CallerFlag)).one().cleared_by == supervisor.id
    [cleared] = events(session, "caller.unflagged")
    assert (cleared.actor, cleared.data) == ("spv", {"caller": PRANKSTER})


def test_clearing_a_caller_who_is_not_flagged_writes_nothing(ctx: Ctx, session: Session) -> None:
    supervisor = users.create(session=session, username="spv", password="rahasia-demo-112", role="supervisor")
    abuse.clear(session=session, caller=PRANKSTER, user_id=supervisor.id, actor="spv")
    assert events(session, "caller.unflagged") == []


def test_an_unknown_number_shows_an_empty_record(ctx: Ctx, session: Session) -> None:
    empty = CallerStatus(
        caller=None,
        flagged=False,
        flagged_until=None,
        prank_or_ghost_recent=0,
        calls_total=0,
        incidents=[],
        recent_calls=[],
    )
    assert status(ctx, session, None) == empty
    assert status(ctx, session, "") == empty


def test_the_record_shows_this_callers_last_twenty_calls_newest_first(ctx: Ctx, session: Session) -> None:
    ids = take(ctx, session, PRANKSTER, "information", 21)
    take(ctx, session, NEIGHBOUR, "information", 2)
    seen = status(ctx, session, PRANKSTER)
    assert seen.caller == PRANKSTER and seen.calls_total == 21 and seen.prank_or_ghost_recent == 0
    assert [c.id for c in seen.recent_calls] == ids[::-1][:20]


def test_the_record_lists_the_callers_incidents_newest_first(ctx: Ctx, session: Session) -> None:
    made = []
    for _ in range(2):
        [call_id] = take(ctx, session, PRANKSTER, "emergency")
        body = IncidentIn(type_code="fire_house", call_id=call_id)
        made.append(incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None).id)
    take(ctx, session, PRANKSTER, "information")
    assert status(ctx, session, PRANKSTER).incidents == made[::-1]
