"""Agencies, stations and units."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.db import Base, UTCDateTime
from dispatch.lifecycle import UnitStatus

AGENCY_KINDS = (
    "damkar",  # fire and rescue, also animal rescue (snakes, bees' nests)
    "psc119",  # ambulance / SPGDT
    "bpbd",  # disaster management
    "polisi",
    "basarnas",
    "satpolpp",
    "dishub",
    "dlh",
    "pupr",
    "dinkes",
    "dinsos",
    "pln",
    "pdam",  # the regional water company (Perumda Air Minum): complaints only
    "tni",
)


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    public_number: Mapped[str | None] = mapped_column(String(32))
    # Kecamatan codes this agency covers; empty means the whole region.
    covers: Mapped[str] = mapped_column(String(2000), default="")
    # Where a new referral is sent by SMS (with Twilio configured); none: the agency follows its page (/opd).
    referral_sms: Mapped[str | None] = mapped_column(String(32))


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    kecamatan_code: Mapped[str | None] = mapped_column(String(32))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)

    agency: Mapped[Agency] = relationship()


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    callsign: Mapped[str] = mapped_column(String(64), unique=True)
    unit_type: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[str] = mapped_column(String(32), default=UnitStatus.available, index=True)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    position_accuracy_m: Mapped[float | None] = mapped_column(Float)
    # A phone for SMS alerts where the unit has no data coverage (personal data: masked in the console).
    sms_number: Mapped[str | None] = mapped_column(String(32))
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Staged for a major incident (dispatch/major/): gathered at its staging point, ready to be committed. Not a
    # status of its own: a staged unit is available, and its assignments move it as any other. The major
    # incident's id without a foreign key: users -> units -> major_incidents -> users would make a cycle that
    # SQLAlchemy cannot order tables by (create_all, restores).
    staged_for: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)

    agency: Mapped[Agency] = relationship()
    station: Mapped[Station | None] = relationship()
