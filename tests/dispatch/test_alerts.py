"""CAP alerts in: parsed safely (hostile and malformed documents refused whole), kept once, Updates and Cancels
acting on the original, relevance to the region from the area, exercises marked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.alerts import service as alerts
from dispatch.alerts.models import Alert, AlertMessage
from dispatch.alerts.parse import MAX_BYTES, parse
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.events.models import Event
from tests.cap_samples import fresh, raw
from ui.context import Ctx

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MINIMAL = f"""<?xml version="1.0"?>
<alert xmlns="{NS}"><identifier>X-1</identifier><sender>BMKG</sender><sent>2024-04-15T14:20:00+07:00</sent>
<status>Actual</status><msgType>Alert</msgType><scope>Public</scope><info><category>Met</category>
<event>Hujan Lebat</event><urgency>Immediate</urgency><severity>Moderate</severity><certainty>Likely</certainty>
{{area}}</info></alert>"""


def take(ctx: Ctx, session: Session, document: bytes, source: alerts.Source = "api") -> alerts.Decision:
    return alerts.ingest(
        session=session, geo_dir=ctx.region.pack.geo_dir, message=parse(document), source=source, actor="sup"
    )


def counts(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(select(func.count()).select_from(Alert)) or 0,
        session.scalar(select(func.count()).select_from(AlertMessage)) or 0,
        session.scalar(select(func.count()).select_from(Event).where(Event.type.like("alert.%"))) or 0,
    )


# ---- parsing -------------------------------------------------------------------------------------------------


def test_a_bmkg_earthquake_is_read_in_bahasa_with_its_english_headline() -> None:
    message = parse(raw("bmkg_gempa_padang.xml"))
    assert message.identifier == "20240415143022" and message.sender == "bmkg.go.id"
    assert message.msg_type == "Alert" and message.status == "Actual" and message.language == "id-ID"
    assert message.headline and message.headline.startswith("Gempa Mag:6.2")
    assert "Pusat gempa berada di laut" in (message.description or "")
    assert message.headline_en and message.headline_en.startswith("Earthquake Mag:6.2")
    (circle,) = message.area.circles
    assert (circle.lat, circle.lon, circle.radius_km) == (-1.10, 99.95, 150)


def test_a_nowcast_polygon_is_read_as_lat_lon() -> None:
    (ring,) = parse(raw("bmkg_cuaca_padang.xml")).area.polygons
    assert ring[0] == (-0.78, 100.3) and ring[0] == ring[-1] and len(ring) == 5


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol3;</identifier></alert>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""
REMOTE_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE alert SYSTEM "http://203.0.113.9/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>X</identifier></alert>"""


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (BILLION_LAUGHS, "DTDs, entities and external references are not allowed"),
        (EXTERNAL_ENTITY, "DTDs, entities and external references are not allowed"),
        (REMOTE_DTD, "DTDs, entities and external references are not allowed"),
        (b"<alert>", "not well-formed XML"),
        (b"", "not well-formed XML"),
        (raw("bmkg_cuaca_padang.xml").replace(b"cap:1.2", b"cap:1.1"), "not a CAP 1.2 <alert>"),
        (b"<alert><identifier>X</identifier></alert>", "not a CAP 1.2 <alert>"),
        (b"<alert>" + b"x" * MAX_BYTES + b"</alert>", "larger than 256 KB"),
        (raw("bmkg_cuaca_padang.xml").replace(b"<status>Actual", b"<status>Real"), "unknown <status>"),
        (raw("bmkg_cuaca_padang.xml").replace(b"<identifier>CSB20240415003", b"<identifier>CSB 2024"), "no spaces"),
        (raw("bmkg_cuaca_padang.xml").replace(b"+07:00</sent>", b"</sent>"), "not a CAP time"),
        (raw("bmkg_cuaca_padang.xml").replace(b"-0.780,100.300 -0.780", b"-95.0,100.300 -0.780"), "WGS84"),
        (
            MINIMAL.replace("{area}", "<area><areaDesc>x</areaDesc><polygon>1,1 1,1</polygon></area>").encode(),
            "at least three points",
        ),
        (
            MINIMAL.replace("{area}", "<area><areaDesc>x</areaDesc><circle>1,1 far</circle></area>").encode(),
            "'lat,lon radius_km'",
        ),
        (raw("bmkg_cuaca_padang.xml").replace(b"<msgType>Alert", b"<msgType>Ack"), "not an alert"),
        (raw("bmkg_cuaca_padang_update.xml").replace(b",2024-04-15T14:20:00+07:00</ref", b"</ref"), "<references>"),
    ],
)
def test_hostile_or_malformed_documents_are_refused_with_the_reason(document: bytes, reason: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse(document)
    assert refused.value.message.startswith("Dokumen CAP ditolak: ")  # Bahasa first
    assert reason in refused.value.message


def test_refused_documents_write_nothing(ctx: Ctx, session: Session) -> None:
    for document in (BILLION_LAUGHS, EXTERNAL_ENTITY, b"<alert>"):
        with pytest.raises(Invalid):
            take(ctx, session, document)
    with pytest.raises(NotFound, match="never received"):
        take(ctx, session, fresh("bmkg_cuaca_padang_cancel.xml"))
    assert counts(session) == (0, 0, 0)


# ---- the service ---------------------------------------------------------------------------------------------


def test_an_alert_is_kept_once_by_its_identifier(ctx: Ctx, session: Session) -> None:
    first = take(ctx, session, fresh("bmkg_cuaca_padang.xml"), "feed")
    again = take(ctx, session, fresh("bmkg_cuaca_padang.xml"), "api")
    assert (first.action, again.action) == ("created", "unchanged")
    assert again.alert.id == first.alert.id and again.alert.source == "feed"
    assert counts(session) == (1, 1, 1)


def test_an_update_and_a_cancel_act_on_the_original(ctx: Ctx, session: Session) -> None:
    original = take(ctx, session, fresh("bmkg_cuaca_padang.xml")).alert
    update = take(ctx, session, fresh("bmkg_cuaca_padang_update.xml"))
    assert update.action == "updated" and update.alert.id == original.id
    assert update.alert.severity == "Severe" and "Kuranji" in (update.alert.area_desc or "")
    assert update.alert.identifier == "CSB20240415003"  # the original's: what later messages reference
    assert alerts.shown(update.alert)["banner"] is True
    cancel = take(ctx, session, fresh("bmkg_cuaca_padang_cancel.xml"))  # references the Update
    assert cancel.action == "cancelled" and cancel.alert.id == original.id
    shown = alerts.shown(cancel.alert)
    assert shown["live"] is False and shown["banner"] is False
    assert alerts.listing(session=session) == [] and len(alerts.listing(session=session, live_only=False)) == 1
    assert counts(session) == (1, 3, 3)
    kinds = session.scalars(select(Event.type).where(Event.type.like("alert.%")).order_by(Event.seq)).all()
    assert kinds == ["alert.received", "alert.updated", "alert.cancelled"]


def test_an_update_of_an_alert_never_received_is_kept_as_news(ctx: Ctx, session: Session) -> None:
    decision = take(ctx, session, fresh("bmkg_cuaca_padang_update.xml"))
    assert decision.action == "created" and decision.alert.msg_type == "Update"


def test_an_alert_touching_the_region_raises_a_banner(ctx: Ctx, session: Session) -> None:
    decision = take(ctx, session, fresh("bmkg_gempa_padang.xml"))  # a 150 km circle around a point at sea
    assert decision.relevant_to_region is True and decision.area is not None
    assert decision.area.geom_type == "Polygon" and decision.area.contains(decision.area.centroid)
    shown = alerts.shown(decision.alert)
    assert shown["banner"] is True and shown["exercise"] is False and shown["area"]["circles"] == [[-1.1, 99.95, 150]]


def test_an_alert_entirely_outside_the_region_is_kept_but_raises_nothing(ctx: Ctx, session: Session) -> None:
    decision = take(ctx, session, fresh("bmkg_cuaca_jatim.xml"))
    assert decision.relevant_to_region is False and decision.alert.relevance == "outside"
    shown = alerts.shown(decision.alert)
    assert shown["live"] is True and shown["banner"] is False
    assert [a.id for a in alerts.listing(session=session)] == [decision.alert.id]


def test_a_small_circle_just_off_the_coast_is_outside(ctx: Ctx, session: Session) -> None:
    """The circle's radius is taken in kilometres: 150 km off Padang touches it, 5 km does not."""
    small = fresh("bmkg_gempa_padang.xml").replace(b"-1.10,99.95 150", b"-1.10,99.95 5")
    assert take(ctx, session, small).relevant_to_region is False


def test_an_alert_without_an_area_awaits_a_supervisor(ctx: Ctx, session: Session) -> None:
    decision = take(ctx, session, fresh("inatews_latihan_tsunami.xml"))
    assert decision.relevant_to_region is None and decision.area is None
    shown = alerts.shown(decision.alert)
    assert shown["awaiting_confirmation"] is True and shown["banner"] is False and shown["exercise"] is True
    confirmed = alerts.confirm(session=session, alert_id=decision.alert.id, user_id=None, actor="sup")
    assert confirmed.relevant_to_region is True
    shown = alerts.shown(confirmed.alert)
    assert shown["banner"] is True and shown["awaiting_confirmation"] is False and shown["exercise"] is True
    again = alerts.confirm(session=session, alert_id=decision.alert.id, user_id=None, actor="sup")
    assert again.action == "unchanged"


def test_only_an_alert_without_an_area_is_confirmed(ctx: Ctx, session: Session) -> None:
    alert = take(ctx, session, fresh("bmkg_cuaca_jatim.xml")).alert
    with pytest.raises(Conflict, match="without an area"):
        alerts.confirm(session=session, alert_id=alert.id, user_id=None, actor="sup")
    with pytest.raises(NotFound):
        alerts.confirm(session=session, alert_id=999, user_id=None, actor="sup")


def test_an_expired_alert_is_not_live(ctx: Ctx, session: Session) -> None:
    decision = take(ctx, session, raw("bmkg_cuaca_padang.xml"))  # as sent in 2024: expired long ago
    assert alerts.shown(decision.alert)["live"] is False and alerts.listing(session=session) == []


def test_test_messages_are_kept_but_raise_nothing(ctx: Ctx, session: Session) -> None:
    document = fresh("bmkg_cuaca_padang.xml").replace(b"<status>Actual", b"<status>Test")
    shown = alerts.shown(take(ctx, session, document).alert)
    assert shown["live"] is True and shown["banner"] is False


def test_the_region_outline_is_read_once(ctx: Ctx) -> None:
    from dispatch.alerts.area import region_outline

    geo_dir: Path = ctx.region.pack.geo_dir
    assert region_outline(geo_dir) is region_outline(geo_dir)
