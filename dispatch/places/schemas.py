"""Pydantic shapes of learned places, for the supervisor's list and corrections."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from dispatch.incidents.schemas import PointIn


class LearnedPlaceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    lat: float
    lon: float
    kecamatan: str | None
    kelurahan: str | None
    uses: int
    corrected: bool
    hidden: bool
    searchable: bool
    last_incident_id: int | None
    updated_by: str | None
    updated_at: datetime


class LearnedPlacePatch(PointIn):
    """A supervisor's correction: a better name, the right point, or bringing a removed entry back."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=2, max_length=120)
    hidden: bool | None = None
