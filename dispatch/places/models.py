"""The learned_places table: one row per place phrase and point, with how often it was used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, UTCDateTime


class LearnedPlace(Base):
    __tablename__ = "learned_places"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), index=True)  # the normalized words (geo.names.normalize)
    name: Mapped[str] = mapped_column(String(120))  # as first typed, or as a supervisor wrote it
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    kecamatan: Mapped[str | None] = mapped_column(String(100))
    kelurahan: Mapped[str | None] = mapped_column(String(100))
    uses: Mapped[int] = mapped_column(Integer, default=1)
    corrected: Mapped[bool] = mapped_column(Boolean, default=False)  # a supervisor set it: uses no longer move it
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # removed from search; kept so it is not relearned
    last_incident_id: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
