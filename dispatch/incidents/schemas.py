"""Pydantic shapes of incidents and assignments, for the API and for event payloads."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dispatch.bounds import Id, Stamp

LocationSource = Literal["aml", "link", "gazetteer", "map", "caller", "unit", "history", "manual"]


class PointIn(BaseModel):
    """An optional point as a client sends it: finite numbers here; ranges are checked by the region
    (geo.coords), which also recognises swapped lat/lon."""

    lat: float | None = None
    lon: float | None = None

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class IncidentIn(PointIn):
    model_config = ConfigDict(extra="forbid")

    type_code: str = Field(min_length=1, max_length=48)
    priority: int | None = Field(None, ge=1, le=4)
    call_id: Id | None = None
    location_source: LocationSource | None = None
    location_accuracy_m: float | None = Field(None, ge=0, le=100_000)
    address: str | None = Field(None, max_length=300)
    notes: str | None = Field(None, max_length=4000)


class IncidentPatch(PointIn):
    model_config = ConfigDict(extra="forbid")

    type_code: str | None = Field(None, min_length=1, max_length=48)
    priority: int | None = Field(None, ge=1, le=4)
    location_source: LocationSource | None = None
    location_accuracy_m: float | None = Field(None, ge=0, le=100_000)
    address: str | None = Field(None, max_length=300)
    notes: str | None = Field(None, max_length=4000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closure: str = Field("selesai", min_length=1, max_length=200)


class LinkIn(BaseModel):
    """A duplicate call linked to an incident: what its caller said joins the incident's timeline."""

    model_config = ConfigDict(extra="forbid")

    notes: str | None = Field(None, max_length=4000)


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    unit_id: int
    status: str
    dispatched_at: datetime
    acknowledged_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    transporting_at: datetime | None
    at_hospital_at: datetime | None
    cleared_at: datetime | None
    reason: str | None
    eta_s: float | None
    escalated_at: datetime | None = None
    cancel_reason: str | None = None


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type_code: str
    priority: int
    status: str
    lat: float | None
    lon: float | None
    location_source: str | None
    location_accuracy_m: float | None
    location_confirmed: bool
    address: str | None
    kecamatan_code: str | None
    kecamatan: str | None
    kelurahan_code: str | None
    kelurahan: str | None
    near_border: bool
    notes: str | None
    caller: str | None
    duplicate_of: int | None
    created_at: datetime
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    closed_at: datetime | None
    closure: str | None
    major_id: int | None = None  # a report of this major incident (dispatch/major/)


class Duplicate(BaseModel):
    incident_id: int
    reason: str
    distance_m: float | None
    type_code: str
    created_at: datetime


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: Id
    reason: str | None = Field(None, max_length=300)
    eta_s: float | None = Field(None, ge=0, le=24 * 3600)  # a day: more is no estimate


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["acknowledged", "en_route", "on_scene", "transporting", "at_hospital", "cleared", "cancelled"]
    # When the crew tapped, by the phone's clock: a tap queued on a weak connection arrives late, and its time,
    # not the arrival, is the step's time when plausible (dispatch.incidents.assignments.step_time).
    at: Stamp | None = None
    reason: str | None = Field(None, max_length=300)  # why a unit is stood down (cancelled), shown to the crew

    @field_validator("reason")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @model_validator(mode="after")
    def _reason_only_to_cancel(self) -> StatusIn:
        if self.reason is not None and self.status != "cancelled":
            raise ValueError("a reason goes with status 'cancelled' only")
        return self


class IncidentTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_id: str
    name_en: str
    category: str
    priority: int
    emergency: bool
    plan: list[dict[str, Any]]
    keywords: str
