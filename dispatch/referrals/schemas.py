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
    status: str
    note: str | None
    referred_at: datetime
    in_progress_at: datetime | None
    done_at: datetime | None
    rejected_at: datetime | None
