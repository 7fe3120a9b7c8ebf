"""Taking CAP alerts in: each kept once, Updates and Cancels acting on the alert they reference, relevance to the
region decided from the area, and what was decided handed back (`Decision`) for whoever acts on alerts next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from shapely.geometry.base import BaseGeometry
from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from dispatch.alerts import area as areas
from dispatch.alerts import events
from dispatch.alerts.models import Alert, AlertMessage
from dispatch.alerts.parse import CapMessage
from dispatch.alerts.schemas import AlertOut
from dispatch.clock import utcnow
from dispatch.errors import Conflict, NotFound
from dispatch.events.service import record

Source = Literal["api", "cli", "feed"]
Action = Literal["created", "updated", "cancelled", "unchanged"]
REGION, OUTSIDE, UNCONFIRMED, CONFIRMED = "region", "outside", "unconfirmed", "confirmed"
ACTIONABLE = ("Actual", "Exercise")  # Test, System and Draft messages are kept but raise nothing


@dataclass(frozen=True)
class Decision:
    """What taking a message did. `relevant_to_region` is None while an alert without an area awaits a
    supervisor; `area` is its lon/lat geometry (None without one)."""

    alert: Alert
    action: Action
    relevant_to_region: bool | None
    area: BaseGeometry | None


def shown(alert: Alert, *, now: datetime | None = None) -> dict[str, Any]:
    """The alert as the API and the consoles see it, with what follows from its fields and the time."""
    now = now or utcnow()
    live = alert.cancelled_at is None and (alert.expires is None or alert.expires > now)
    out = AlertOut.model_validate(alert).model_copy(
        update={
            "exercise": alert.status == "Exercise",
            "live": live,
            "banner": live and alert.status in ACTIONABLE and alert.relevance in (REGION, CONFIRMED),
            "awaiting_confirmation": alert.relevance == UNCONFIRMED,
        }
    )
    return out.model_dump(mode="json")


def get(*, session: Session, alert_id: int) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    return row


def listing(
    *, session: Session, live_only: bool = True, now: datetime | None = None, limit: int = 200
) -> Sequence[Alert]:
    """Alerts, newest first; by default only those neither cancelled nor expired."""
    query = select(Alert).order_by(Alert.sent.desc(), Alert.id.desc()).limit(limit)
    if live_only:
        now = now or utcnow()
        query = query.where(Alert.cancelled_at.is_(None), or_(Alert.expires.is_(None), Alert.expires > now))
    return session.scalars(query).all()


def ingest(*, session: Session, geo_dir: Path, message: CapMessage, source: Source, actor: str) -> Decision:
    """Take one parsed CAP message; commits. Nothing is written when it is refused (NotFound for a Cancel of an
    alert never received)."""
    seen = _message(session, message.sender, message.identifier)
    if seen is not None:  # kept once: the same message again changes nothing
        alert = get(session=session, alert_id=seen.alert_id)
        return Decision(alert, "unchanged", _relevant(alert), _geometry(message))
    original = _referenced(session, message)
    if message.msg_type == "Cancel":
        if original is None:
            raise NotFound(
                "Pembatalan ini merujuk peringatan yang tidak pernah diterima. / "
                "This Cancel refers to an alert that was never received."
            )
        return _cancel(session, original, message, source, actor)
    if original is None:  # an Alert, or an Update of an alert that came before we listened: news either way
        return _create(session, geo_dir, message, source, actor)
    return _update(session, geo_dir, original, message, source, actor)


def confirm(*, session: Session, alert_id: int, user_id: int | None, actor: str) -> Decision:
    """A supervisor makes an alert without an area apply to the whole region."""
    alert = get(session=session, alert_id=alert_id)
    if alert.relevance == CONFIRMED:
        return Decision(alert, "unchanged", True, None)
    if alert.relevance != UNCONFIRMED:
        raise Conflict(
            "Hanya peringatan tanpa wilayah yang perlu dikonfirmasi. / Only an alert without an area needs confirming."
        )
    now = utcnow()
    alert.relevance, alert.confirmed_by, alert.confirmed_at = CONFIRMED, user_id, now
    alert.updated_at, alert.version = now, alert.version + 1
    _record(session, events.CONFIRMED, actor, alert)
    session.commit()
    return Decision(alert, "updated", True, None)


def _message(session: Session, sender: str, identifier: str) -> AlertMessage | None:
    return session.scalar(
        select(AlertMessage).where(AlertMessage.sender == sender, AlertMessage.identifier == identifier)
    )


def _referenced(session: Session, message: CapMessage) -> Alert | None:
    """The alert a message's <references> name (the latest of them, when they name several)."""
    if not message.references:
        return None
    keys = [(r.sender, r.identifier) for r in message.references]
    found = session.scalar(
        select(AlertMessage)
        .where(tuple_(AlertMessage.sender, AlertMessage.identifier).in_(keys))
        .order_by(AlertMessage.id.desc())
        .limit(1)
    )
    return None if found is None else get(session=session, alert_id=found.alert_id)


def _geometry(message: CapMessage) -> BaseGeometry | None:
    return areas.geometry(message.area)


def _relevant(alert: Alert) -> bool | None:
    return None if alert.relevance == UNCONFIRMED else alert.relevance in (REGION, CONFIRMED)


def _fill(alert: Alert, message: CapMessage, geo_dir: Path) -> BaseGeometry | None:
    """Copy what the message says onto the alert and decide its relevance; the area's geometry back."""
    for name in ("status", "msg_type", "scope", "language", "category", "event", "urgency", "severity", "certainty",
                 "sender_name", "headline", "headline_en", "description", "instruction", "effective", "onset",
                 "expires"):  # fmt: skip
        setattr(alert, name, getattr(message, name))
    alert.area_desc = "; ".join(message.area.descriptions)[:1000] or None
    alert.area = areas.as_json(message.area)
    shape = _geometry(message)
    if shape is None:  # a supervisor's confirmation of the same alert stands through its Updates
        alert.relevance = CONFIRMED if alert.relevance == CONFIRMED else UNCONFIRMED
    else:
        alert.relevance = REGION if areas.touches_region(shape, geo_dir) else OUTSIDE
    return shape


def _create(session: Session, geo_dir: Path, message: CapMessage, source: Source, actor: str) -> Decision:
    now = utcnow()
    alert = Alert(
        sender=message.sender,
        identifier=message.identifier,
        sent=message.sent,
        source=source,
        received_at=now,
        updated_at=now,
        version=1,
        relevance=UNCONFIRMED,
    )
    shape = _fill(alert, message, geo_dir)
    session.add(alert)
    session.flush()
    _keep(session, alert, message, source, now)
    _record(session, events.RECEIVED, actor, alert)
    session.commit()
    return Decision(alert, "created", _relevant(alert), shape)


def _update(session: Session, geo_dir: Path, alert: Alert, message: CapMessage, source: Source, actor: str) -> Decision:
    now = utcnow()
    shape = _fill(alert, message, geo_dir)
    alert.cancelled_at = None
    alert.updated_at, alert.version = now, alert.version + 1
    _keep(session, alert, message, source, now)
    _record(session, events.UPDATED, actor, alert)
    session.commit()
    return Decision(alert, "updated", _relevant(alert), shape)


def _cancel(session: Session, alert: Alert, message: CapMessage, source: Source, actor: str) -> Decision:
    now = utcnow()
    alert.msg_type, alert.cancelled_at = "Cancel", now
    alert.updated_at, alert.version = now, alert.version + 1
    _keep(session, alert, message, source, now)
    _record(session, events.CANCELLED, actor, alert)
    session.commit()
    return Decision(alert, "cancelled", _relevant(alert), None)


def _keep(session: Session, alert: Alert, message: CapMessage, source: Source, now: datetime) -> None:
    session.add(
        AlertMessage(
            alert_id=alert.id,
            sender=message.sender,
            identifier=message.identifier,
            msg_type=message.msg_type,
            sent=message.sent,
            source=source,
            received_at=now,
        )
    )


def _record(session: Session, kind: str, actor: str, alert: Alert) -> None:
    session.flush()
    record(session, kind, actor=actor, data={"alert": shown(alert)})
