"""Complaint topics of the region packs, the deadline a topic gives a referral, and which referrals are overdue
(issue 23, finding 8)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency
from dispatch.clock import utcnow
from dispatch.errors import Invalid, NotFound
from dispatch.referrals import service as referrals
from dispatch.referrals.models import Referral
from dispatch.referrals.schemas import ReferralIn
from dispatch.referrals.topics import load_topics
from dispatch.regions import load_pack
from dispatch.users import service as users
from ui.context import Ctx

REGIONS = Path(__file__).resolve().parents[2] / "config" / "regions"


@pytest.mark.parametrize("region", ["padang", "banggai"])
def test_every_pack_has_topics_each_taken_by_one_of_its_agencies(region: str) -> None:
    pack = load_pack(REGIONS / region)
    by_code = {t.code: t for t in pack.topics}
    agencies = {a["code"] for a in pack.agencies}
    assert {"jalan_rusak", "lampu_jalan", "sampah", "pohon_tumbang", "air_pdam", "listrik_pln"} <= by_code.keys()
    assert all(t.agency in agencies and t.due_hours >= 1 and t.keywords for t in pack.topics)
    assert (by_code["jalan_rusak"].agency, by_code["sampah"].agency) == ("pupr", "dlh")
    assert (by_code["air_pdam"].agency, by_code["listrik_pln"].agency) == ("pdam", "pln")


def test_the_region_chooses_who_takes_street_lights() -> None:
    padang, banggai = (load_pack(REGIONS / r) for r in ("padang", "banggai"))
    assert next(t.agency for t in padang.topics if t.code == "lampu_jalan") == "dishub"
    assert next(t.agency for t in banggai.topics if t.code == "lampu_jalan") == "pupr"


def test_a_topic_naming_an_unknown_agency_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "topics.toml"
    path.write_text('[[topic]]\ncode = "x"\nname = "X"\nagency = "dinas_x"\ndue_hours = 4\n', encoding="utf-8")
    with pytest.raises(Invalid, match="unknown agency 'dinas_x'"):
        load_topics(path, {"pupr"})
    path.write_text('[[topic]]\ncode = "x"\nname = "X"\nagency = "pupr"\n', encoding="utf-8")
    with pytest.raises(Invalid, match="due_hours"):
        load_topics(path, {"pupr"})
    assert load_topics(tmp_path / "none.toml", {"pupr"}) == ()


def _agency(session: Session, code: str) -> int:
    found = session.scalar(select(Agency.id).where(Agency.code == code))
    assert found is not None
    return found


def test_a_topic_sets_the_deadline_and_the_place_is_kept(ctx: Ctx, session: Session) -> None:
    topics = {t.code: t for t in ctx.region.pack.topics}
    body = ReferralIn(
        agency_id=_agency(session, "dishub"), summary="PJU mati", topic="lampu_jalan", lat=-0.95, lon=100.35
    )
    row = referrals.create(session=session, body=body, actor="t", user_id=None, topics=topics)
    assert row.due_at is not None and row.due_at - row.referred_at == timedelta(hours=topics["lampu_jalan"].due_hours)
    assert (row.topic, row.lat, row.lon) == ("lampu_jalan", -0.95, 100.35)
    untopical = ReferralIn(agency_id=_agency(session, "dlh"), summary="lain-lain")
    assert referrals.create(session=session, body=untopical, actor="t", user_id=None, topics=topics).due_at is None


def test_an_unknown_topic_or_half_a_place_writes_nothing(ctx: Ctx, session: Session) -> None:
    topics = {t.code: t for t in ctx.region.pack.topics}
    agency = _agency(session, "pupr")
    with pytest.raises(Invalid, match="unknown topic"):
        referrals.create(
            session=session, body=ReferralIn(agency_id=agency, summary="x", topic="nope"), actor="t", user_id=None
        )
    body = ReferralIn(agency_id=agency, summary="x", lat=-0.9)
    with pytest.raises(Invalid, match="both lat and lon"):
        referrals.create(session=session, body=body, actor="t", user_id=None, topics=topics)
    assert session.scalar(select(Referral)) is None


def test_overdue_means_still_open_past_the_deadline(ctx: Ctx, session: Session) -> None:
    topics = {t.code: t for t in ctx.region.pack.topics}
    dlh = _agency(session, "dlh")
    made = [
        referrals.create(
            session=session,
            body=ReferralIn(agency_id=dlh, summary=f"sampah {n}", topic="sampah"),
            actor="t",
            user_id=None,
            topics=topics,
        )
        for n in range(3)
    ]
    late, done, fresh = (r.id for r in made)
    past = utcnow() - timedelta(hours=1)
    session.execute(update(Referral).where(Referral.id.in_([late, done])).values(due_at=past))
    session.commit()
    referrals.step(session=session, referral_id=done, status="done", actor="dlh")
    overdue = referrals.listing(session=session, overdue_only=True)
    assert [r.id for r in overdue] == [late]
    views = {r.id: referrals.data(r) for r in referrals.listing(session=session, open_only=False)}
    assert {i: v["overdue"] for i, v in views.items()} == {late: True, done: False, fresh: False}


def test_an_agency_desk_is_bound_to_an_agency_and_reaches_only_its_referrals(ctx: Ctx, session: Session) -> None:
    with pytest.raises(Invalid, match="bound to an agency"):
        users.create(session=session, username="opd1", password="password123", role="opd")
    with pytest.raises(NotFound):
        users.create(session=session, username="opd1", password="password123", role="opd", agency_code="dinas_x")
    with pytest.raises(Invalid, match="only an agency's desk"):
        users.create(session=session, username="ct1", password="password123", role="call_taker", agency_code="dishub")
    desk = users.create(session=session, username="opd1", password="password123", role="opd", agency_code="dishub")
    assert desk.agency_id == _agency(session, "dishub")
    theirs = referrals.create(
        session=session, body=ReferralIn(agency_id=_agency(session, "pupr"), summary="x"), actor="t", user_id=None
    )
    with pytest.raises(NotFound):
        referrals.step(session=session, referral_id=theirs.id, status="done", actor="opd1", agency_id=desk.agency_id)
    view = referrals.agency_view(theirs)
    assert "caller" not in view and "call_id" not in view and "incident_id" not in view
