"""The event table: every change in the system is one row, numbered by a monotonic sequence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, UTCDateTime


class Event(Base):
    __tablename__ = "events"
    # A call's events are read by call and type (the ACD asks which waiting calls are ringing a taker). With
    # an index on the call alone, SQLite chose the index on the type for `call_id IN (...) AND type IN (...)`
    # and read every `call.connecting` ever written: 130 ms a pass of the ACD after 200,000 calls.
    __table_args__ = (
        Index("ix_events_call_id_type", "call_id", "type"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))  # no index of its own: no query reads by type alone
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(Integer, index=True)
    call_id: Mapped[int | None] = mapped_column(Integer)  # indexed with the type, above
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
