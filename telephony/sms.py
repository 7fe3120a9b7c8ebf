"""SMS alerts to responder units when they are assigned, and new referrals to their agency (OPD) when it has a
number for them, sent with Twilio from a background thread.

The bus handler only enqueues (it runs inside another thread's commit and must never block); one worker
thread looks the assignment up, sends, and records `sms.sent` / `sms.failed`. Delivery reports come back to
`POST /telephony/twilio/sms-status` and are recorded as `sms.status` events.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from dispatch.agencies.models import Unit
from dispatch.calls import intake
from dispatch.events.bus import EventBus, Published
from dispatch.incidents.models import Incident, IncidentType
from dispatch.phone import mask
from dispatch.referrals.models import Referral
from telephony.twilio_voice import url

log = logging.getLogger(__name__)
Send = Callable[[str, str, str | None], str]  # (to, body, status_callback) -> message sid
SENT_ON = ("assignment.created", "referral.created")


def status_callback(public_url: str | None, **query: object) -> str | None:
    """Where Twilio reports what became of an SMS we sent. It must be absolute (an SMS we send has no webhook
    for Twilio to resolve a relative URL against), so there is none without `TANGGAP_PUBLIC_URL`."""
    return public_url.rstrip("/") + url("/telephony/twilio/sms-status", **query) if public_url else None


def twilio_sender(settings: Settings) -> Send:
    """Send an SMS from the command center's Twilio number (`twilio_voice.sms_enabled` must hold)."""
    from twilio.rest import Client

    assert settings.twilio_auth_token is not None and settings.twilio_from_number
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    sender = settings.twilio_from_number

    def send(to: str, body: str, callback: str | None) -> str:
        extra = {"status_callback": callback} if callback else {}
        return str(client.messages.create(to=to, from_=sender, body=body, **extra).sid)

    return send


class SmsNotifier:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        send: Send,
        *,
        public_url: str | None,
        max_pending: int = 1000,
        topics: Mapping[str, str] | None = None,
    ) -> None:
        self.sessions, self.send, self.public_url = sessions, send, public_url
        self.topics = topics or {}  # topic code -> its Bahasa name (the region pack's)
        self._queue: queue.Queue[Published | None] = queue.Queue(maxsize=max_pending)
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] = lambda: None

    @classmethod
    def from_settings(
        cls, settings: Settings, sessions: sessionmaker[Session], *, topics: Mapping[str, str] | None = None
    ) -> SmsNotifier:
        if not settings.public_url:
            log.info("SMS delivery reports off: set TANGGAP_PUBLIC_URL so Twilio can reach the callback")
        return cls(sessions, twilio_sender(settings), public_url=settings.public_url, topics=topics)

    def start(self, bus: EventBus) -> None:
        self._thread = threading.Thread(target=self._work, name="sms-alerts", daemon=True)
        self._thread.start()
        self._unsubscribe = bus.subscribe(self._on_event)

    async def stop(self) -> None:
        import asyncio

        self._unsubscribe()
        self._queue.put(None)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)

    def _on_event(self, event: Published) -> None:
        if event.type not in SENT_ON:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            log.error("SMS alert queue full; %s (incident %s) not sent by SMS", event.type, event.incident_id)

    def _work(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                if event.type == "referral.created":
                    self.refer(event)
                else:
                    self.alert(event)
            except Exception:
                log.exception("SMS for %s (incident %s) failed", event.type, event.incident_id)

    def refer(self, event: Published) -> str | None:
        """A new referral to its agency's `referral_sms`; an agency without one follows its page (/opd)."""
        referral_id = (event.data.get("referral") or {}).get("id")
        with self.sessions() as session:
            row = session.get(Referral, referral_id) if referral_id else None
            if row is None or not row.agency.referral_sms:
                return None
            body, to = referral_message(row, self.topics.get(row.topic or "")), row.agency.referral_sms
            data: dict[str, object] = {"referral_id": row.id, "agency_id": row.agency_id, "to": mask(to)}
        try:
            sid = self.send(to, body, None)
        except Exception as exc:
            with self.sessions() as session:
                intake.sms_event(
                    session=session, kind="sms.failed", actor="sms", data={**data, "error": type(exc).__name__}
                )
            log.warning("SMS of referral %s failed: %s", referral_id, type(exc).__name__)
            return None
        with self.sessions() as session:
            intake.sms_event(session=session, kind="sms.sent", actor="sms", data={**data, "message_sid": sid})
        return sid

    def alert(self, event: Published) -> str | None:
        assignment = event.data.get("assignment") or {}
        unit_id, incident_id = event.unit_id, event.incident_id
        with self.sessions() as session:
            unit = session.get(Unit, unit_id) if unit_id else None
            incident = session.get(Incident, incident_id) if incident_id else None
            if unit is None or incident is None or not unit.sms_number:
                return None
            kind = session.get(IncidentType, incident.type_code)
            body = message(incident, kind, unit)
            to = unit.sms_number
        callback = status_callback(
            self.public_url, unit_id=unit_id, incident_id=incident_id, assignment_id=assignment.get("id")
        )
        data: dict[str, object] = {"unit_id": unit_id, "assignment_id": assignment.get("id"), "to": mask(to)}
        try:
            sid = self.send(to, body, callback)
        except Exception as exc:
            with self.sessions() as session:
                intake.sms_event(
                    session=session,
                    kind="sms.failed",
                    actor="sms",
                    incident_id=incident_id,
                    unit_id=unit_id,
                    data={**data, "error": type(exc).__name__},
                )
            log.warning("SMS to unit %s failed: %s", unit_id, type(exc).__name__)
            return None
        with self.sessions() as session:
            intake.sms_event(
                session=session,
                kind="sms.sent",
                actor="sms",
                incident_id=incident_id,
                unit_id=unit_id,
                data={**data, "message_sid": sid},
            )
        return sid


def referral_message(row: Referral, topic: str | None) -> str:
    """For the agency's phone: what, where, by when, and where to report back. No caller number: the agency
    answers the complaint, the center calls back."""
    what = topic or row.topic or "Pengaduan"
    lines = [f"112 RUJUKAN #{row.id}: {what}", _short(row.summary, 160)]
    if row.address:
        lines.append(_short(row.address, 100))
    if row.lat is not None and row.lon is not None:
        lines.append(f"geo:{row.lat:.5f},{row.lon:.5f}")
    if row.due_at is not None:
        hours = round((row.due_at - row.referred_at).total_seconds() / 3600)
        lines.append(f"Tenggat {hours} jam.")
    lines.append("Laporkan tindak lanjut di halaman OPD Tanggap 112.")
    return "\n".join(lines)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message(incident: Incident, kind: IncidentType | None, unit: Unit) -> str:
    """Short enough for one or two SMS; a geo: link opens the map app on Android phones."""
    what = kind.name_id if kind else incident.type_code
    where = ", ".join(x for x in (incident.address, incident.kelurahan, incident.kecamatan) if x) or "lokasi di peta"
    lines = [f"112 TUGAS {unit.callsign}: #{incident.id} {what} (P{incident.priority})", where]
    if incident.lat is not None and incident.lon is not None:
        lines.append(f"geo:{incident.lat:.5f},{incident.lon:.5f}")
    lines.append("Balas status di aplikasi responder.")
    return "\n".join(lines)
