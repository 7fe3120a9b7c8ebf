"""Pydantic shapes of learned places, for the supervisor's list and corrections."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


class LearnedPlacePatch(BaseModel):
    """A supervisor's correction: a better name, the right point, or bringing a removed entry back."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=2, max_length=120)
    lat: float | None = None
    lon: float | None = None
    hidden: bool | None = None

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
