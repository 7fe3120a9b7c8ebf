"""The alerts table (one row per alert, as its latest Update left it) and the CAP messages that acted on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, UTCDateTime
from dispatch.users import models as _users  # noqa: F401  (the table `confirmed_by` refers to, loaded with this)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The first message's sender and identifier: what Updates and Cancels name in <references>.
    sender: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    sent: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))  # Actual, Exercise (marked as such), System, Test, Draft
    msg_type: Mapped[str] = mapped_column(String(16))  # of the last message applied
    scope: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(255))
    urgency: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    certainty: Mapped[str] = mapped_column(String(16))
    sender_name: Mapped[str | None] = mapped_column(String(255))
    headline: Mapped[str | None] = mapped_column(String(500))
    headline_en: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    instruction: Mapped[str | None] = mapped_column(Text)
    effective: Mapped[datetime | None] = mapped_column(UTCDateTime())
    onset: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    area_desc: Mapped[str | None] = mapped_column(String(1000))
    # {"polygons": [[[lat, lon], ...], ...], "circles": [[lat, lon, km], ...]}; None: the alert named no area.
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # "region" (its area touches ours), "outside" (kept, raises nothing), "unconfirmed" (no area: region-wide
    # only once a supervisor says so), "confirmed" (the supervisor did).
    relevance: Mapped[str] = mapped_column(String(16))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(16))  # api, cli, feed
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlertMessage(Base):
    """Every CAP message taken (the Alert, its Updates and Cancels), kept once by sender and identifier: a feed
    that hands the same message again, or a supervisor who posts it twice, changes nothing."""

    __tablename__ = "alert_messages"
    __table_args__ = (UniqueConstraint("sender", "identifier", name="uq_alert_messages_sender_identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    sender: Mapped[str] = mapped_column(String(255))
    identifier: Mapped[str] = mapped_column(String(255))
    msg_type: Mapped[str] = mapped_column(String(16))
    sent: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
