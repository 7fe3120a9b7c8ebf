"""Major incidents (dispatch/major/), on SQLite and PostgreSQL: declaring one (by hand, from an alert, accepting a
burst of calls measured against the kecamatan's usual rate), filing 'terkait' reports under it, triage counts
per site, units staged or committed per agency, the surge figures, standing it down, and the shelters."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Unit
from dispatch.alerts import service as alerts
from dispatch.alerts.parse import parse
from dispatch.calls import locations
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.context import Region
from dispatch.errors import Conflict, Invalid, InvalidTransition, NotFound
from dispatch.events.service import since
from dispatch.incidents import assignments
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Incident
from dispatch.incidents.schemas import IncidentIn
from dispatch.major import board, burst, surge
from dispatch.major import service as major
from dispatch.major import shelters as shelter_list
from dispatch.major.burst import Seen
from dispatch.major.enums import priority_of
from dispatch.major.models import MajorIncident
from dispatch.major.schemas import MajorIn, ReportIn, TriageIn
from tests.cap_samples import fresh
from ui.context import Ctx

PADANG_BARAT, KOTO_TANGAH = "13.71.03", "13.71.11"
PASAR_RAYA = (-0.947256, 100.359696)  # Padang Barat
TABING = (-0.878838, 100.348742)  # Koto Tangah
NOW = datetime(2025, 3, 3, 8, 0, tzinfo=datetime.now().astimezone().tzinfo).astimezone()


def declare(session: Session, region: Region, **fields: object) -> MajorIncident:
    body = MajorIn.model_validate({"name": "Gempa Padang M7,2", "type_code": "earthquake", **fields})
    return major.declare(session=session, region=region, body=body, user_id=None, actor="sup1")


def kinds(session: Session, prefix: str) -> list[str]:
    return [e.type for e in since(session, 0, limit=500) if e.type.startswith(prefix)]


def answered_call(session: Session, channel: str) -> Call:
    call = calls.offer(session=session, caller="081234567890", provider="asterisk", channel_id=channel)
    return calls.answer(session=session, call_id=call.id, taker_id=None, actor="taker1")


# -- declaring and standing down -----------------------------------------------------------------------------


def test_a_supervisor_declares_one_major_incident_at_a_time_and_stands_it_down(ctx: Ctx, session: Session) -> None:
    found = declare(session, ctx.region, kecamatan_codes=[KOTO_TANGAH, PADANG_BARAT, KOTO_TANGAH])
    assert (found.status, found.origin, found.kecamatan_codes) == ("active", "manual", [KOTO_TANGAH, PADANG_BARAT])
    assert major.active(session=session) is not None
    with pytest.raises(Conflict, match="Sudah ada insiden besar aktif"):
        declare(session, ctx.region, name="Banjir")
    done = major.stand_down(session=session, major_id=found.id, user_id=None, actor="sup1")
    assert done.status == "stood_down" and done.stood_down_at is not None
    assert major.stand_down(session=session, major_id=found.id, user_id=None, actor="sup1").version == done.version
    assert major.active(session=session) is None
    assert declare(session, ctx.region, name="Banjir bandang", type_code="flash_flood").kecamatan_codes == []
    assert kinds(session, "major.") == ["major.declared", "major.stood_down", "major.declared"]


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"type_code": "volcano"}, Invalid, "Jenis kejadian 'volcano' tidak dikenal"),
        ({"kecamatan_codes": ["13.71.99"]}, Invalid, "Kecamatan tidak dikenal di Kota Padang: 13.71.99"),
        ({"name": None}, Invalid, "Beri nama insiden besar"),
        ({"alert_id": 4242}, NotFound, "Peringatan #4242 tidak ada"),
    ],
)
def test_a_bad_declaration_is_refused_in_bahasa_and_writes_nothing(
    ctx: Ctx, session: Session, fields: dict[str, object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        declare(session, ctx.region, **fields)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(MajorIncident)) == 0
    assert kinds(session, "major.") == []


def test_a_major_incident_is_declared_from_an_alert_with_its_headline_and_area(ctx: Ctx, session: Session) -> None:
    geo = ctx.region.pack.geo_dir
    taken = alerts.ingest(session=session, geo_dir=geo, message=parse(fresh("bmkg_gempa_padang.xml")), source="api",
                          actor="sup1")  # fmt: skip
    found = declare(session, ctx.region, name=None, alert_id=taken.alert.id)
    assert found.origin == "alert" and found.alert_id == taken.alert.id
    assert found.name.startswith("Gempa Mag:6.2")
    assert found.area == {"polygons": [], "circles": [[-1.1, 99.95, 150]]}
    assert PADANG_BARAT in found.kecamatan_codes and KOTO_TANGAH in found.kecamatan_codes  # 150 km reaches all
    major.stand_down(session=session, major_id=found.id, user_id=None, actor="sup1")
    taken.alert.cancelled_at = utcnow()
    session.commit()
    with pytest.raises(Conflict, match="sudah dibatalkan"):
        declare(session, ctx.region, alert_id=taken.alert.id)


# -- a burst of calls proposes one ------------------------------------------------------------------------------


def test_a_burst_is_measured_against_the_kecamatans_usual_rate_at_this_hour() -> None:
    now = datetime(2025, 3, 3, 1, 0, tzinfo=NOW.tzinfo)
    recent = [Seen(now - timedelta(minutes=m), "A") for m in range(6)]  # 6 calls in 10 min; usually 1/day
    recent += [Seen(now - timedelta(minutes=m), "B") for m in range(6)]  # 6 calls; usually 20 in this hour
    recent += [Seen(now - timedelta(minutes=m), "C") for m in range(4)]  # 4 calls: too few to say
    recent += [Seen(now - timedelta(minutes=30), "D")] * 9  # before the window
    history = [Seen(now - timedelta(days=d, minutes=10), "A") for d in range(1, 29)]
    history += [Seen(now - timedelta(days=d, minutes=m), "B") for d in range(1, 29) for m in range(-25, 25, 3)]
    history += [Seen(now - timedelta(days=d, hours=6), "B") for d in range(1, 29)] * 50  # another hour: no matter
    found = burst.propose(recent, history, now=now, names={"A": "Padang Barat"})
    assert [(p.kecamatan_code, p.kecamatan, p.calls) for p in found] == [("A", "Padang Barat", 6)]
    assert found[0].usual == pytest.approx(28 / 28 * 10 / 60)  # one call a day in the hour, for 10 min of it
    assert found[0].ratio == pytest.approx(6 / 0.5)  # a usual below the floor counts as the floor
    quieter = burst.propose(recent, history * 30, now=now)  # 30 calls a day at this hour: 6 in 10 min is usual
    assert quieter == []


def test_proposals_read_calls_located_by_their_incident_or_their_handset(ctx: Ctx, session: Session) -> None:
    now = utcnow()
    for i in range(3):  # three callers whose incidents lie in Padang Barat
        call = calls.offer(session=session, caller=None, provider="manual", channel_id=f"i{i}",
                           at=now - timedelta(minutes=i))  # fmt: skip
        body = IncidentIn(type_code="trapped_person", call_id=call.id, lat=PASAR_RAYA[0], lon=PASAR_RAYA[1])
        incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)
    for i in range(3):  # three whose handsets (AML) put them there
        call = calls.offer(session=session, caller=f"08123456780{i}", provider="asterisk", channel_id=f"a{i}",
                           at=now - timedelta(minutes=2))  # fmt: skip
        locations.report(session=session, caller=call.caller, source="aml", lat=PASAR_RAYA[0] + 0.001 * i,
                         lon=PASAR_RAYA[1], accuracy_m=20, fix_at=None, raw=None, actor="t",
                         call_id=call.id)  # fmt: skip
    old = calls.offer(session=session, caller=None, provider="manual", channel_id="old", at=now - timedelta(days=3))
    incidents.create(session=session, region=ctx.region, actor="t", user_id=None,
                     body=IncidentIn(type_code="medical", call_id=old.id, lat=TABING[0], lon=TABING[1]))  # fmt: skip
    session.commit()
    found = burst.proposals(session=session, region=ctx.region, now=now)
    assert [(p.kecamatan_code, p.kecamatan, p.calls) for p in found] == [(PADANG_BARAT, "Padang Barat", 6)]
    assert burst.proposals(session=session, region=ctx.region, now=now, covered=[PADANG_BARAT]) == []
    assert burst.proposals(session=session, region=ctx.region, now=now, covered=[]) == []  # the whole region
    assert session.scalar(select(func.count()).select_from(MajorIncident)) == 0  # proposed, never declared


# -- reports, triage, units -----------------------------------------------------------------------------------


def test_terkait_files_the_call_as_a_report_of_its_own_place_and_needs(ctx: Ctx, session: Session) -> None:
    found = declare(session, ctx.region)
    call = answered_call(session, "c1")
    body = ReportIn(
        call_id=call.id, lat=TABING[0], lon=TABING[1], notes="3 orang terjebak, butuh alat berat", priority=2
    )
    report = major.file_report(session=session, region=ctx.region, major_id=found.id, body=body, actor="taker1",
                               user_id=None)  # fmt: skip
    assert (report.major_id, report.type_code, report.kecamatan_code) == (found.id, "earthquake", KOTO_TANGAH)
    assert report.notes == "3 orang terjebak, butuh alat berat"
    session.refresh(call)
    assert (call.incident_id, call.classification) == (report.id, "emergency")
    other = ReportIn(type_code="fire_house", lat=PASAR_RAYA[0], lon=PASAR_RAYA[1], priority=1)
    major.file_report(session=session, region=ctx.region, major_id=found.id, body=other, actor="t", user_id=None)
    unplaced = ReportIn(address="dekat masjid", location_source="caller", priority=3)
    major.file_report(session=session, region=ctx.region, major_id=found.id, body=unplaced, actor="t", user_id=None)
    view = board.board(session, found)
    assert [(s["type_code"], s["priority"]) for s in view["sites"]] == [
        ("fire_house", 1),
        ("earthquake", 2),
        ("earthquake", 3),
    ]
    by_kec = {k["kecamatan"]: (k["reports"], k["open"]) for k in view["kecamatan"]}
    assert by_kec == {"Koto Tangah": (1, 1), "Padang Barat": (1, 1), "belum diketahui": (1, 1)}
    created = [e for e in since(session, 0, limit=500) if e.type == "incident.created"]
    assert {e.data["incident"]["major_id"] for e in created} == {found.id}


def test_a_refused_report_writes_nothing_and_a_stood_down_incident_takes_none(ctx: Ctx, session: Session) -> None:
    found = declare(session, ctx.region)
    far = ReportIn(lat=-6.2, lon=106.8)  # Jakarta
    with pytest.raises(Invalid, match="outside Kota Padang"):
        major.file_report(session=session, region=ctx.region, major_id=found.id, body=far, actor="t", user_id=None)
    session.rollback()
    with pytest.raises(Invalid, match="unknown incident type"):
        major.file_report(session=session, region=ctx.region, major_id=found.id, body=ReportIn(type_code="x"),
                          actor="t", user_id=None)  # fmt: skip
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Incident)) == 0
    major.stand_down(session=session, major_id=found.id, user_id=None, actor="sup1")
    with pytest.raises(InvalidTransition, match="sudah diakhiri"):
        major.file_report(session=session, region=ctx.region, major_id=found.id, body=ReportIn(), actor="t",
                          user_id=None)  # fmt: skip
    with pytest.raises(NotFound, match="Insiden besar #999 tidak ada"):
        major.file_report(session=session, region=ctx.region, major_id=999, body=ReportIn(), actor="t", user_id=None)


def test_triage_counts_per_site_by_colour(ctx: Ctx, session: Session) -> None:
    found = declare(session, ctx.region)
    site = major.file_report(session=session, region=ctx.region, major_id=found.id, actor="t", user_id=None,
                             body=ReportIn(lat=TABING[0], lon=TABING[1]))  # fmt: skip
    counts = major.set_triage(session=session, incident_id=site.id, body=TriageIn(merah=2, hijau=5), user_id=None,
                              actor="disp1")  # fmt: skip
    assert counts == {"merah": 2, "kuning": 0, "hijau": 5, "hitam": 0}
    counts = major.set_triage(session=session, incident_id=site.id, body=TriageIn(merah=3, hitam=1), user_id=None,
                              actor="disp1")  # fmt: skip
    assert counts == {"merah": 3, "kuning": 0, "hijau": 5, "hitam": 1}
    major.set_triage(session=session, incident_id=site.id, body=TriageIn(merah=3), user_id=None, actor="disp1")
    triage = [e.data for e in since(session, 0, limit=500) if e.type == "major.triage"]
    assert [t["changed"] for t in triage] == [{"merah": 2, "hijau": 5}, {"merah": 3, "hitam": 1}]  # no change: none
    assert triage[-1]["counts"] == {"merah": 3, "hijau": 5, "hitam": 1} and triage[-1]["major_id"] == found.id
    view = board.board(session, found)
    assert view["triage"] == {"merah": 3, "kuning": 0, "hijau": 5, "hitam": 1}
    assert view["kecamatan"][0]["triage"]["merah"] == 3 and view["sites"][0]["triage"]["hitam"] == 1
    with pytest.raises(Invalid, match="paling sedikit satu warna"):
        major.set_triage(session=session, incident_id=site.id, body=TriageIn(), user_id=None, actor="disp1")
    with pytest.raises(NotFound):
        major.set_triage(session=session, incident_id=9999, body=TriageIn(merah=1), user_id=None, actor="disp1")


def test_units_are_staged_then_committed_per_agency_and_released_at_stand_down(ctx: Ctx, session: Session) -> None:
    found = declare(session, ctx.region)
    site = major.file_report(session=session, region=ctx.region, major_id=found.id, actor="t", user_id=None,
                             body=ReportIn(lat=TABING[0], lon=TABING[1]))  # fmt: skip
    bpbd = session.scalars(select(Unit).join(Unit.agency).where(Unit.callsign.like("BPBD%")).order_by(Unit.id)).all()
    first, second = bpbd[0], bpbd[1]
    major.stage(session=session, major_id=found.id, unit_id=first.id, staged=True, actor="disp1")
    major.stage(session=session, major_id=found.id, unit_id=second.id, staged=True, actor="disp1")
    major.stage(session=session, major_id=found.id, unit_id=second.id, staged=True, actor="disp1")  # again: no-op
    assignments.assign(session=session, incident_id=site.id, unit_id=second.id, actor="disp1", user_id=None)
    agency = next(a for a in board.agencies(session, found) if a["agency_id"] == first.agency_id)
    assert [u["callsign"] for u in agency["staged"]] == [first.callsign]
    assert [u["callsign"] for u in agency["committed"]] == [second.callsign]
    assert board.board(session, found)["sites"][0]["units"] == [second.callsign]
    busy = session.scalars(select(Unit).where(Unit.callsign.like("DAMKAR%")).order_by(Unit.id)).first()
    assert busy is not None
    assignments.assign(session=session, incident_id=site.id, unit_id=busy.id, actor="disp1", user_id=None)
    with pytest.raises(InvalidTransition, match="hanya unit yang tersedia bisa disiagakan"):
        major.stage(session=session, major_id=found.id, unit_id=busy.id, staged=True, actor="disp1")
    session.rollback()
    major.stand_down(session=session, major_id=found.id, user_id=None, actor="sup1")
    session.refresh(first)
    assert first.staged_for is None
    assert kinds(session, "major.staged") == ["major.staged", "major.staged"]


# -- the surge, the caller's choice ---------------------------------------------------------------------------


def test_the_surge_is_the_last_hour_per_minute_against_the_same_hour_on_normal_days(ctx: Ctx, session: Session) -> None:
    now = utcnow()
    for d in range(1, 29):  # a normal day: 2 calls in this hour
        for m in (10, 40):
            calls.offer(session=session, caller=None, provider="manual", channel_id=f"h{d}-{m}",
                        at=now - timedelta(days=d, minutes=m))  # fmt: skip
    calls.offer(session=session, caller=None, provider="manual", channel_id="other-hour",
                at=now - timedelta(days=1, hours=3))  # fmt: skip
    for old_call in session.scalars(select(Call)):
        calls.end(session=session, call_id=old_call.id, actor="ari", cause="caller hung up")
    made = [calls.offer(session=session, caller=None, provider="manual", channel_id=f"n{i}",
                        at=now - timedelta(minutes=i % 3, seconds=5)) for i in range(9)]  # fmt: skip
    for call, choice in zip(made, (1, 1, 2, 3), strict=False):
        major.record_choice(session=session, call_id=call.id, choice=choice, actor="ivr")
    for call in made[:2]:
        calls.end(session=session, call_id=call.id, actor="ari", cause="caller hung up")  # abandoned
    with pytest.raises(Invalid, match="Pilihan 4 tidak dikenal"):
        major.record_choice(session=session, call_id=made[0].id, choice=4, actor="ivr")
    figures = surge.figures(session=session, now=now)
    assert figures.last_hour == 9 and figures.per_minute[-3:] == [3, 3, 3] and sum(figures.per_minute[:-3]) == 0
    assert figures.normal_hour == pytest.approx(2.0) and figures.normal_per_minute == pytest.approx(2 / 60)
    assert (figures.waiting, figures.abandoned) == (7, 2)
    assert figures.by_choice == {"1": 2, "2": 1, "3": 1, "none": 5}
    assert figures.shown()["ratio"] == 4.5
    assert kinds(session, "call.major_choice") == ["call.major_choice"] * 4


def test_the_queue_priority_of_a_choice_puts_people_in_danger_and_the_silent_first() -> None:
    assert [priority_of(c) for c in (1, 2, 3, None, 7)] == [1, 2, 3, 1, 1]


# -- shelters --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["padang", "banggai"])
def test_the_region_packs_shelters_lie_in_their_region_and_name_a_source(region: str) -> None:
    from config.settings import Settings
    from ui.context import build

    ctx = build(Settings(database_url="sqlite://", region=region))
    found = shelter_list.load(ctx.region.pack.folder, None)
    assert len(found) >= 5
    for shelter in found:
        where = ctx.region.jurisdictions.locate(shelter.lat, shelter.lon)
        assert where.inside_region, shelter.name
        assert where.kecamatan_name == shelter.kecamatan, shelter.name
        assert shelter.source and shelter.accuracy_m
    ctx.engine.dispose()


def test_the_nearest_shelters_make_the_public_information_message(ctx: Ctx) -> None:
    found = shelter_list.load(ctx.region.pack.folder, None)
    near = shelter_list.nearest(found, *TABING, n=2)
    assert [s.name for s, _ in near] == ["Shelter Nurul Haq (Komplek Jondul 4)", "Shelter Bungo Pasang"]
    assert near[0][1] < 10 and 1400 < near[1][1] < 1600
    text = shelter_list.public_message(found, name="Gempa Padang", lat=TABING[0], lon=TABING[1], n=2)
    assert text["id"].startswith("Informasi keadaan darurat: Gempa Padang. Tempat evakuasi terdekat: Shelter Nurul")
    assert "Shelter Bungo Pasang (shelter tsunami, Kel. Bungo Pasang, 1,5 km)" in text["id"]
    assert "Shelter Bungo Pasang (tsunami shelter, Kel. Bungo Pasang, 1.5 km)" in text["en"]
    assert "10 m" in text["id"] or "0 m" in text["id"]
    unplaced = shelter_list.public_message(found, name="Gempa Padang", n=1)
    assert "Shelter Nurul Haq" in unplaced["id"] and " km" not in unplaced["id"]


def test_a_centers_own_shelter_file_replaces_the_packs_and_a_bad_one_is_refused(ctx: Ctx, tmp_path: Path) -> None:
    own = tmp_path / "padang"
    own.mkdir()
    (own / "shelters.csv").write_text("# BPBD\nname,kind,lat,lon\nShelter Uji,shelter,-0.95,100.36\n")
    assert [s.name for s in shelter_list.load(ctx.region.pack.folder, own)] == ["Shelter Uji"]
    bad = [
        ("name,lat,lon\nA,-0.9,100.3\n", "Kolom wajib tidak ada: kind"),
        ("name,kind,lat,lon\nA,shelter,-0.9,100.3\nB,kapal,-0.9,100.3\n", "Baris 3: jenis 'kapal' tidak dikenal"),
        ("name,kind,lat,lon\nA,shelter,abc,100.3\n", "Baris 2: angka tidak terbaca"),
        ("name,kind,lat,lon\nA,shelter,95,100.3\n", "Baris 2: koordinat tidak sah"),
        ("name,kind,lat,lon\n", "tidak berisi tempat evakuasi"),
    ]
    for text, words in bad:
        with pytest.raises(Invalid, match=words):
            shelter_list.parse(text)
