"""The events a major incident writes to the log (and so to every console)."""

from __future__ import annotations

DECLARED = "major.declared"
STOOD_DOWN = "major.stood_down"
TRIAGE = "major.triage"  # casualty counts of one site changed
STAGED = "major.staged"  # a unit staged for the major incident, or released from it
