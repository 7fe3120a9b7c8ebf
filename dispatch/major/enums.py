"""The fixed vocabularies of a major incident: its status, the triage colours and the caller's IVR choice."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class MajorStatus(StrEnum):
    active = "active"
    stood_down = "stood_down"


# START triage colours, as Indonesian field teams say them: merah (immediate), kuning (delayed), hijau (walking
# wounded), hitam (dead or beyond help). Ordered as they are read out.
TRIAGE_COLOURS = ("merah", "kuning", "hijau", "hitam")


class Choice(IntEnum):
    """What a caller chose at the major incident's announcement (the IVR, a later piece of work, sets it)."""

    danger_now = 1  # people trapped, injured or in danger now
    damage = 2  # damage or a hazard to report
    information = 3  # information: where to go, what is known


# The queue's priority of a call by its choice: lower comes first. A caller who chose nothing (an old phone, a
# child, someone who cannot hear the announcement) is treated as in danger: never made to wait behind a report.
_PRIORITY = {Choice.danger_now: 1, Choice.damage: 2, Choice.information: 3}


def priority_of(choice: int | None) -> int:
    """The priority a call gets in the queue during a major incident: 1 (first) to 3; no choice counts as 1."""
    if choice is None:
        return 1
    try:
        return _PRIORITY[Choice(choice)]
    except ValueError:
        return 1
