"""Pydantic shapes of alerts, for the API and for event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sender: str
    identifier: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    language: str
    category: str
    event: str
    urgency: str
    severity: str
    certainty: str
    sender_name: str | None
    headline: str | None
    headline_en: str | None
    description: str | None
    instruction: str | None
    effective: datetime | None
    onset: datetime | None
    expires: datetime | None
    area_desc: str | None
    area: dict[str, Any] | None
    relevance: str
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    source: str
    received_at: datetime
    updated_at: datetime
    version: int
    # Worked out from the fields above and the time (dispatch.alerts.service.shown).
    exercise: bool = False
    live: bool = True
    banner: bool = False
    awaiting_confirmation: bool = False
