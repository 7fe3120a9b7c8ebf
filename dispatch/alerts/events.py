"""The events an alert writes to the log (and so to every console): `data` is {"alert": AlertOut}."""

from __future__ import annotations

RECEIVED = "alert.received"
UPDATED = "alert.updated"
CANCELLED = "alert.cancelled"
CONFIRMED = "alert.confirmed"
