"""Pydantic shapes of referrals, for the API and for event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.bounds import Id


class ReferralIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_id: Id
    summary: str = Field(min_length=1, max_length=4000)
    call_id: Id | None = None
    incident_id: Id | None = None
    address: str | None = Field(None, max_length=300)
    # A topic of the region pack (`topics.toml`): the server sets the deadline from it.
    topic: str | None = Field(None, max_length=32)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


class ReferralStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["in_progress", "done", "rejected"]
    note: str | None = Field(None, max_length=500)


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agency_id: int
    call_id: int | None
    incident_id: int | None
    caller: str | None
    summary: str
    address: str | None
    topic: str | None
    lat: float | None
    lon: float | None
    status: str
    note: str | None
    referred_at: datetime
    due_at: datetime | None
    in_progress_at: datetime | None
    done_at: datetime | None
    rejected_at: datetime | None


# What an agency's own desk (role `opd`) is shown of a referral: no caller, no call or incident of the center.
AGENCY_FIELDS = frozenset(
    {"id", "agency_id", "summary", "address", "topic", "lat", "lon", "status", "note", "overdue"}
    | {"referred_at", "due_at", "in_progress_at", "done_at", "rejected_at"}
)
