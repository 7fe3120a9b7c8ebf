"""The events a referral writes to the log (and so to every console)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CREATED = "referral.created"
STATUS = "referral.status"


@dataclass(frozen=True)
class ReferralEvent:
    """One change of a referral; `payload` is what consoles receive as `data`."""

    type: str
    referral: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {"referral": self.referral}
