"""The major_incidents table (one declared event) and triage_counts (casualties by colour at one site)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, UTCDateTime
from dispatch.major.enums import MajorStatus


class MajorIncident(Base):
    __tablename__ = "major_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type_code: Mapped[str] = mapped_column(ForeignKey("incident_types.code"))
    # The kecamatan it covers; empty: the whole region.
    kecamatan_codes: Mapped[list[str]] = mapped_column(JSON)
    # The area of the alert it was declared from, as the alert keeps it ({"polygons": ..., "circles": ...}).
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    # "burst" when a supervisor accepted a burst of calls, "alert", or "manual".
    origin: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=MajorStatus.active, index=True)
    declared_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stood_down_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stood_down_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class TriageCount(Base):
    """How many casualties of one colour a site (a report, an incident) has, as last told by the field."""

    __tablename__ = "triage_counts"
    __table_args__ = (UniqueConstraint("incident_id", "colour", name="uq_triage_counts_incident_colour"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    colour: Mapped[str] = mapped_column(String(8))  # merah, kuning, hijau, hitam
    count: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
