"""CAP out: an incident as CAP 1.2, valid against the OASIS schema, Bahasa first, with no caller's data in it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import xmlschema
from sqlalchemy.orm import Session

from dispatch.alerts import cap
from dispatch.alerts.parse import parse
from dispatch.clock import utcnow
from dispatch.incidents import service as incidents
from dispatch.incidents.schemas import IncidentIn
from tests.cap_samples import XSD
from ui.context import Ctx

NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
CALLER = "+6281266331234"
NAME = "Budi Santoso"
ADDRESS = "Jl. Melati No. 7, rumah pagar hijau"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))  # offline: the schema imports nothing


def issuer(ctx: Ctx) -> cap.Issuer:
    pack = ctx.region.pack
    return cap.Issuer("tanggap112-padang", f"Command Center 112 {pack.name}", pack.name, pack.kode, pack.timezone)


def an_incident(ctx: Ctx, session: Session) -> cap.IncidentFacts:
    body = IncidentIn(
        type_code="fire_house",
        lat=-0.926234,
        lon=100.356071,
        address=ADDRESS,
        notes=f"Pelapor {NAME}, {CALLER} (0812-6633-1234), anaknya masih di dalam",
    )
    incident = incidents.create(session=session, region=ctx.region, body=body, actor="taker", user_id=None)
    incident.caller = CALLER  # as a call linked to it would set it
    session.commit()
    return cap.IncidentFacts.of(incident, units_sent=2)


def test_an_incident_exports_as_valid_cap_with_no_caller_data(
    ctx: Ctx, session: Session, schema: xmlschema.XMLSchema
) -> None:
    facts = an_incident(ctx, session)
    document = cap.build(facts, issuer(ctx), now=utcnow())
    schema.validate(document.decode("utf-8"))
    text = document.decode("utf-8")
    for secret in (CALLER, "081266331234", "0812-6633-1234", "6633", NAME, "Budi", "Melati", "anaknya"):
        assert secret not in text, secret
    assert "-0.926234" not in text and "-0.926,100.356 0.5" in text  # ~100 m, in a 500 m circle
    root = ET.fromstring(document)
    assert root.findtext("cap:msgType", namespaces=NS) == "Alert"
    assert root.findtext("cap:identifier", namespaces=NS) == f"TANGGAP112-13.71-INC{facts.id}-V1"
    infos = root.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["id-ID", "en-US"]  # Bahasa first
    assert infos[0].findtext("cap:category", namespaces=NS) == "Fire"
    assert infos[0].findtext("cap:event", namespaces=NS) == facts.type_id
    assert "2 unit dikerahkan" in (infos[0].findtext("cap:description", namespaces=NS) or "")
    assert root.findtext("cap:sent", namespaces=NS).endswith("+07:00")  # type: ignore[union-attr]  # WIB


def test_a_later_version_is_an_update_of_the_first_and_reads_back_in(
    ctx: Ctx, session: Session, schema: xmlschema.XMLSchema
) -> None:
    facts = an_incident(ctx, session)
    later = cap.IncidentFacts(**{**facts.__dict__, "version": 3, "status": "closed", "closed_at": utcnow()})
    document = cap.build(later, issuer(ctx), now=facts.created_at + timedelta(minutes=40))
    schema.validate(document.decode("utf-8"))
    message = parse(document)  # our own reader takes it, as a neighbouring center's Tanggap would
    assert message.msg_type == "Update" and message.urgency == "Past"
    assert [(r.sender, r.identifier) for r in message.references] == [
        ("tanggap112-padang", f"TANGGAP112-13.71-INC{facts.id}-V1")
    ]
    assert message.area.circles and message.headline and "Kota Padang" in message.headline


def test_an_incident_without_a_place_still_validates(ctx: Ctx, schema: xmlschema.XMLSchema) -> None:
    facts = cap.IncidentFacts(
        id=7, version=1, type_code="x", type_id="Lainnya", type_en="Other", category="info", priority=4,
        status="new", created_at=utcnow(), closed_at=None, on_scene_at=None, lat=None, lon=None, kecamatan=None,
        kecamatan_code=None, kelurahan=None, kelurahan_code=None, units_sent=0,
    )  # fmt: skip
    document = cap.build(facts, issuer(ctx), now=utcnow())
    schema.validate(document.decode("utf-8"))
    assert b"<circle>" not in document and b"<value>13.71</value>" in document
