"""SMS alerts to units on `assignment.created`: sent off the bus thread, recorded as events."""

from __future__ import annotations

import threading

from sqlalchemy import select

from dispatch.agencies.models import Unit
from dispatch.events.service import since
from dispatch.incidents import assignments
from dispatch.incidents import service as incidents
from dispatch.incidents.schemas import IncidentIn
from telephony.sms import SmsNotifier
from ui.context import Ctx


async def test_assignment_sends_an_sms_without_blocking_the_bus(ctx: Ctx) -> None:
    sent: list[tuple[str, str, str | None]] = []
    release = threading.Event()

    def send(to: str, body: str, callback: str | None) -> str:
        release.wait(5)  # a slow SMS gateway must not hold up the commit that published the event
        sent.append((to, body, callback))
        return "SM123"

    notifier = SmsNotifier(ctx.sessions, send, public_url="https://112.padang.go.id")
    notifier.start(ctx.bus)
    try:
        with ctx.sessions() as session:
            unit = session.scalar(select(Unit).where(Unit.callsign == "DAMKAR-03-PMK1"))
            assert unit is not None
            unit.sms_number = "+6281100000001"
            session.commit()
            body = IncidentIn(type_code="fire_house", lat=-0.9262, lon=100.3560, address="Jl. Sudirman 1")
            incident = incidents.create(session=session, region=ctx.region, body=body, actor="test", user_id=None)
            assignments.assign(session=session, incident_id=incident.id, unit_id=unit.id, actor="test", user_id=None)
        release.set()
        await notifier.stop()
    finally:
        release.set()
    [(to, body, callback)] = sent
    assert to == "+6281100000001" and "DAMKAR-03-PMK1" in body and "Jl. Sudirman 1" in body and "geo:-0.92620" in body
    assert callback is not None and callback.startswith("https://112.padang.go.id/telephony/twilio/sms-status?")
    with ctx.sessions() as session:
        [event] = [e for e in since(session, 0, limit=5000) if e.type == "sms.sent"]
    assert event.data["message_sid"] == "SM123" and event.data["to"] == "+62811*****001"


async def test_a_new_referral_is_sent_to_its_agency_by_sms_when_it_has_a_number(ctx: Ctx) -> None:
    from dispatch.agencies.models import Agency
    from dispatch.referrals import service as referrals
    from dispatch.referrals.schemas import ReferralIn

    sent: list[tuple[str, str, str | None]] = []
    topics = {t.code: t for t in ctx.region.pack.topics}
    notifier = SmsNotifier(
        ctx.sessions, lambda *message: sent.append(message) or "SM9", public_url=None,
        topics={code: t.name for code, t in topics.items()},
    )  # fmt: skip
    notifier.start(ctx.bus)
    with ctx.sessions() as session:
        dishub = session.scalar(select(Agency).where(Agency.code == "dishub"))
        dlh = session.scalar(select(Agency).where(Agency.code == "dlh"))
        assert dishub is not None and dlh is not None
        dishub.referral_sms = "+6281100000002"
        session.commit()
        body = ReferralIn(agency_id=dishub.id, summary="PJU mati 3 tiang", topic="lampu_jalan", lat=-0.95, lon=100.35)
        referrals.create(session=session, body=body, actor="test", user_id=None, topics=topics)
        # An agency without a number follows its page: nothing is sent.
        referrals.create(session=session, body=ReferralIn(agency_id=dlh.id, summary="sampah"), actor="t", user_id=None)
    await notifier.stop()
    [(to, text, callback)] = sent
    assert to == "+6281100000002" and callback is None
    assert text.startswith("112 RUJUKAN #") and "Lampu jalan (PJU) mati" in text and "PJU mati 3 tiang" in text
    assert "geo:-0.95000,100.35000" in text and "Tenggat 48 jam." in text
    with ctx.sessions() as session:
        [event] = [e for e in since(session, 0, limit=5000) if e.type == "sms.sent"]
    assert event.data["message_sid"] == "SM9" and event.data["to"] == "+62811*****002"
