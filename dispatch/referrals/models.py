"""The referrals table: one complaint forwarded to one agency, with a timestamp per follow-up step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.agencies.models import Agency
from dispatch.db import Base, UTCDateTime
from dispatch.referrals.enums import ReferralStatus


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # Personal data: masked for roles that need not see it.
    caller: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    # The region pack's topic (`dispatch.referrals.topics`) and the place the call-taker chose on the map.
    topic: Mapped[str | None] = mapped_column(String(32))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.referred, index=True)
    # The agency's last word: what was done, or why it was rejected.
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # From the topic's hours; overdue while still open after it.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    in_progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    agency: Mapped[Agency] = relationship(lazy="joined")
