"""Pydantic shapes of major incidents, their reports and triage counts, for the API and event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dispatch.bounds import Id
from dispatch.incidents.schemas import IncidentIn

Colour = Literal["merah", "kuning", "hijau", "hitam"]


class MajorIn(BaseModel):
    """A declaration. From an alert (`alert_id`), the name and area may be left out: the alert's are taken."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    type_code: str = Field(min_length=1, max_length=48)
    kecamatan_codes: list[str] = Field(default_factory=list, max_length=100)
    alert_id: Id | None = None
    origin: Literal["manual", "burst", "alert"] = "manual"

    @field_validator("name")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None


class MajorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    type_code: str
    kecamatan_codes: list[str]
    area: dict[str, Any] | None
    alert_id: int | None
    origin: str
    status: str
    declared_at: datetime
    stood_down_at: datetime | None
    version: int


class ReportIn(IncidentIn):
    """A report filed under the major incident: an incident of its own (place, what is needed). The type may be
    left out: the major incident's is taken."""

    type_code: str | None = Field(None, min_length=1, max_length=48)  # type: ignore[assignment]


class TriageIn(BaseModel):
    """Casualties at one site by colour: each colour given is set to that count (the others stay)."""

    model_config = ConfigDict(extra="forbid")

    merah: int | None = Field(None, ge=0, le=100_000)
    kuning: int | None = Field(None, ge=0, le=100_000)
    hijau: int | None = Field(None, ge=0, le=100_000)
    hitam: int | None = Field(None, ge=0, le=100_000)


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: Id
    staged: bool = True
