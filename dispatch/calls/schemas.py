"""Pydantic shapes of calls, for the API and for event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dispatch.bounds import Stamp

Classification = Literal["emergency", "information", "prank", "ghost"]


class CallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    caller: str | None
    caller_ext: str | None = None  # the extension to dial after the number, shown as "ext. 5"
    provider: str
    channel_id: str
    dialled: str | None
    status: str
    classification: str | None
    offered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    taker_id: int | None
    incident_id: int | None
    recording_ref: str | None
    flagged: bool
    is_text: bool
    text: str | None
    notes: str | None
    callback_done_at: datetime | None
    source: str | None = None


class CallIn(BaseModel):
    """A call recorded by hand or by a simulator (real calls come from the telephony bridge)."""

    model_config = ConfigDict(extra="forbid")

    caller: str | None = Field(None, max_length=40)
    provider: Literal["manual", "asterisk", "twilio", "sms", "simulator"] = "manual"
    channel_id: str | None = Field(None, max_length=128)
    dialled: str | None = Field("112", max_length=32)
    text: str | None = Field(None, max_length=2000)


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classification: Classification
    notes: str | None = Field(None, max_length=4000)


class CallerStatus(BaseModel):
    caller: str | None
    flagged: bool
    flagged_until: datetime | None
    prank_or_ghost_recent: int
    calls_total: int
    incidents: list[int]
    recent_calls: list[CallOut]


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int | None
    source: str
    lat: float | None
    lon: float | None
    accuracy_m: float | None
    fix_at: datetime | None
    received_at: datetime
    valid: bool
    error: str | None


class MessageOut(BaseModel):
    """One text of a text call, as the console shows it and as `call.message` events carry it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    direction: Literal["in", "out"]
    body: str
    at: datetime
    author: str | None
    status: str
    error: str | None


class ReplyIn(BaseModel):
    """A call-taker's SMS back to a text caller: at most four SMS segments, so that it arrives in one piece."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=600)


class CallbackOut(BaseModel):
    """One attempt to call an abandoned caller back, with the caller's number (masked for roles that do not
    call back, by its key: ui/present.py)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    call_id: int
    caller: str | None = None
    caller_ext: str | None = None
    requested_by: int
    route: Literal["pbx", "twilio", "none"]
    state: str
    desk: str | None
    caller_id: str | None
    reason: str | None
    requested_at: datetime
    claimed_at: datetime | None
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    note: str | None
    outcome_at: datetime | None
    outcome_by: int | None


class CallbackOutcomeIn(BaseModel):
    """What came of a callback, as the call-taker who placed it says."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    outcome: Literal["reached", "no_answer", "wrong_number", "voicemail"]
    note: str | None = Field(None, max_length=2000)


class CallbackStateIn(BaseModel):
    """A step of a callback as the PBX bridge or Twilio saw it."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["ringing", "answered", "no_answer", "busy", "failed", "ended"]
    reason: str | None = Field(None, max_length=300)
    ref: str | None = Field(None, max_length=128)
    at: Stamp | None = None  # when it happened, on the bridge's clock (None: now)
