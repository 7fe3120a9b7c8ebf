"""Incident types, incidents and assignments (incident x unit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.db import Base, UTCDateTime
from dispatch.lifecycle import AssignmentStatus, IncidentStatus


class IncidentType(Base):
    __tablename__ = "incident_types"

    code: Mapped[str] = mapped_column(String(48), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))  # duplicates are looked for within a category
    priority: Mapped[int] = mapped_column(Integer)  # 1 = life at risk now ... 4 = no urgency
    emergency: Mapped[bool] = mapped_column(default=True)
    # Response plan: [{"kind": "damkar", "count": 2}, ...]
    plan: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    keywords: Mapped[str] = mapped_column(String(500), default="")


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("incident_types.code"))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=IncidentStatus.new, index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(16))  # aml, gazetteer, map, caller, unit
    location_accuracy_m: Mapped[float | None] = mapped_column(Float)
    location_confirmed: Mapped[bool] = mapped_column(default=False)
    address: Mapped[str | None] = mapped_column(String(300))
    kecamatan_code: Mapped[str | None] = mapped_column(String(32))
    kecamatan: Mapped[str | None] = mapped_column(String(100))
    kelurahan_code: Mapped[str | None] = mapped_column(String(32))
    kelurahan: Mapped[str | None] = mapped_column(String(100))
    near_border: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    caller: Mapped[str | None] = mapped_column(String(32), index=True)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # The major incident this is a report of (dispatch/major/), if any.
    major_id: Mapped[int | None] = mapped_column(ForeignKey("major_incidents.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closure: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)

    type: Mapped[IncidentType] = relationship(lazy="joined")


class Assignment(Base):
    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.dispatched, index=True)
    assigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transporting_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at_hospital_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(300))  # why this unit (recommendation line)
    cancel_reason: Mapped[str | None] = mapped_column(String(300))  # why the dispatcher stood it down, if said
    eta_s: Mapped[float | None] = mapped_column(Float)
    # When the server escalated it for want of an acknowledgement (dispatch/incidents/escalation.py). Set in
    # the transaction that writes the `assignment.escalated` event: the marker that makes it happen once.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
