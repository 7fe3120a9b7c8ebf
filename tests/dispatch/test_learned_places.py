"""Learned places: a closed incident's place words at its confirmed point become searchable once used twice."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.errors import Invalid, NotFound
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Incident
from dispatch.incidents.schemas import IncidentIn
from dispatch.places import service as places
from dispatch.places.models import LearnedPlace
from dispatch.places.schemas import LearnedPlacePatch
from ui.context import Ctx

# A corner of Padang Barat no register or landmark names: what the center learns is all there is of it.
WARUNG = (-0.9301, 100.3547)
PHRASE = "Simpang Warung Pak Udin"


def close_one(ctx: Ctx, session: Session, address: str | None, point: tuple[float, float] = WARUNG) -> Incident:
    body = IncidentIn(type_code="fire_house", lat=point[0], lon=point[1], address=address)
    incident = incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)
    return incidents.close(session=session, incident_id=incident.id, closure="selesai", actor="t")


def found(ctx: Ctx, session: Session, query: str) -> list[str]:
    return [p.name for p in places.search(session=session, region=ctx.region, query=query, limit=5)]


def test_a_landmark_typed_twice_is_found_the_third_time(ctx: Ctx, session: Session) -> None:
    assert PHRASE not in found(ctx, session, "warung pak udin")
    close_one(ctx, session, f"{PHRASE}, Jl. Veteran No. 12 RT 03/RW 02")
    assert PHRASE not in found(ctx, session, "warung pak udin")  # once: maybe somebody's home
    close_one(ctx, session, f"dekat {PHRASE}".replace("dekat ", ""), (WARUNG[0] + 0.0005, WARUNG[1]))
    hits = places.search(session=session, region=ctx.region, query="warung pak udin", limit=5)
    learned = [p for p in hits if p.name == PHRASE]
    assert learned and learned[0].source == "history" and learned[0].kind == "riwayat"
    assert learned[0].lat == pytest.approx(WARUNG[0] + 0.00025, abs=1e-6)  # the mean of the confirmed points
    assert learned[0].kecamatan == "Padang Barat"
    assert PHRASE in found(ctx, session, "simp warung pak")  # simp: simpang, as typed


def test_house_numbers_and_rt_rw_are_never_kept(ctx: Ctx, session: Session) -> None:
    close_one(ctx, session, "Jl. Veteran No. 12 RT 03/RW 02, Gg. Mawar no.7")
    names = set(session.scalars(select(LearnedPlace.name)))
    assert names == {"Jl. Veteran", "Gg. Mawar"}
    assert places.place_words("No. 5, RT 02") == []


def test_uses_rank_and_far_points_are_another_place(ctx: Ctx, session: Session) -> None:
    for _ in range(3):
        close_one(ctx, session, "Pos Ronda Jambak")
    far = (WARUNG[0] - 0.01, WARUNG[1] + 0.01)  # about 1.5 km away: the same words, another spot
    for _ in range(2):
        close_one(ctx, session, "Pos Ronda Jambak", far)
    rows = places.listing(session=session)
    assert [(r["name"], r["uses"]) for r in rows if r["name"] == "Pos Ronda Jambak"] == [
        ("Pos Ronda Jambak", 3),
        ("Pos Ronda Jambak", 2),
    ]
    first = places.search(session=session, region=ctx.region, query="pos ronda jambak", limit=2)
    assert [round(p.lat, 4) for p in first] == [WARUNG[0], far[0]]  # the more used first


def test_unconfirmed_or_pointless_incidents_teach_nothing(ctx: Ctx, session: Session) -> None:
    body = IncidentIn(type_code="fire_house", address="Simpang Kalumpang")
    incident = incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)
    incidents.close(session=session, incident_id=incident.id, closure="selesai", actor="t")
    assert session.scalar(select(func.count(LearnedPlace.id))) == 0


def test_a_supervisor_corrects_and_removes(ctx: Ctx, session: Session) -> None:
    close_one(ctx, session, "Lapau Ajo Sidi")
    row = session.scalars(select(LearnedPlace)).one()
    assert not places.out(row)["searchable"]
    body = LearnedPlacePatch(name="Lapau Ajo Sidi Purus", lat=-0.9369, lon=100.3525)
    places.correct(session=session, region=ctx.region, place_id=row.id, body=body, actor="sup")
    assert places.out(row)["searchable"]  # a supervisor's word counts for the second use
    assert (row.kelurahan, row.corrected, row.updated_by) == ("Purus", True, "sup")
    assert found(ctx, session, "lapau ajo sidi")[0] == "Lapau Ajo Sidi Purus"
    close_one(ctx, session, "Lapau Ajo Sidi Purus", (-0.9371, 100.3527))
    session.refresh(row)
    assert (row.uses, row.lat) == (2, -0.9369)  # counted, but a corrected point stays where it was put
    places.remove(session=session, place_id=row.id, actor="sup")
    assert "Lapau Ajo Sidi Purus" not in found(ctx, session, "lapau ajo sidi")
    close_one(ctx, session, "Lapau Ajo Sidi Purus", (-0.9369, 100.3525))
    assert "Lapau Ajo Sidi Purus" not in found(ctx, session, "lapau ajo sidi")  # removed stays removed
    assert session.scalar(select(func.count(LearnedPlace.id))) == 1


def test_corrections_are_checked(ctx: Ctx, session: Session) -> None:
    close_one(ctx, session, "Lapau Ajo Sidi")
    row = session.scalars(select(LearnedPlace)).one()
    with pytest.raises(Invalid, match="outside Kota Padang"):
        places.correct(
            session=session, region=ctx.region, place_id=row.id, body=LearnedPlacePatch(lat=3.59, lon=98.67), actor="s"
        )
    session.rollback()
    with pytest.raises(Invalid, match="both lat and lon"):
        places.correct(
            session=session, region=ctx.region, place_id=row.id, body=LearnedPlacePatch(lat=-0.93), actor="s"
        )
    session.rollback()
    with pytest.raises(NotFound):
        places.remove(session=session, place_id=row.id + 99, actor="s")
    session.refresh(row)
    assert (row.lat, row.corrected, row.hidden) == (WARUNG[0], False, False)


def test_place_words() -> None:
    assert places.place_words("Depan Pasar Raya; belakang Masjid Nurul Iman / Gg. Mawar") == [
        "Depan Pasar Raya",
        "belakang Masjid Nurul Iman",
        "Gg. Mawar",
    ]
    assert places.place_words(None) == []
    assert places.place_words("a, b, 12") == []
