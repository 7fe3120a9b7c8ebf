"""Pydantic shapes of agencies, stations and units."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from dispatch.bounds import Stamp
from dispatch.lifecycle import carries_patients


class AgencyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    public_number: str | None


class StationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    agency_id: int
    lat: float
    lon: float
    kecamatan_code: str | None
    demo: bool


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    callsign: str
    unit_type: str
    agency_id: int
    station_id: int | None
    status: str
    status_at: datetime | None
    lat: float | None
    lon: float | None
    position_at: datetime | None
    position_accuracy_m: float | None
    demo: bool

    @computed_field  # type: ignore[prop-decorator]
    @property
    def carries_patients(self) -> bool:
        """Whether the crew's phone offers taking a patient to hospital (dispatch.lifecycle.PATIENT_STEPS)."""
        return carries_patients(self.unit_type)


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100_000)
    at: Stamp | None = None

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class UnitStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["available", "out_of_service"]
