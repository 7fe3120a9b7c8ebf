"""The time standards the reports measure against, with their sources (see docs/console.md).

| interval   | from -> to                     | standard                                    |
| answering  | call offered -> answered       | NENA-STA-020.1-2020: 90% <= 15 s, 95% <= 20 s |
| processing | answered -> first unit dispatched | NFPA 1225 (2022): 90% <= 60 s             |
| turnout    | unit dispatched -> en route    | NFPA 1710: 90% <= 60 s EMS, 80 s fire       |
| travel     | en route -> on scene           | NFPA 1710: 90% <= 240 s (first engine)      |
| total      | call offered -> on scene       | no standard; reported as p50/p90 only       |
"""

from __future__ import annotations

from dataclasses import dataclass

INTERVALS = ("answering", "processing", "turnout", "travel", "total")


@dataclass(frozen=True)
class Goal:
    within_s: float
    goal_pct: float
    source: str


GOALS: dict[str, tuple[Goal, ...]] = {
    "answering": (Goal(15, 90, "NENA-STA-020.1-2020"), Goal(20, 95, "NENA-STA-020.1-2020")),
    "processing": (Goal(60, 90, "NFPA 1225"),),
    "turnout": (Goal(60, 90, "NFPA 1710"),),
    "travel": (Goal(240, 90, "NFPA 1710"),),
    "total": (),
}

# NFPA 1710 turnout: 60 s for EMS, 80 s for fire and special operations (protective clothing).
FIRE_KINDS = frozenset({"damkar"})
FIRE_TURNOUT_S = 80.0


def limits(interval: str, agency_kind: str | None = None) -> tuple[float, ...]:
    """The per-sample limit for each goal of `interval` (turnout depends on who turns out)."""
    goals = GOALS[interval]
    if interval == "turnout" and agency_kind in FIRE_KINDS:
        return (FIRE_TURNOUT_S,)
    return tuple(g.within_s for g in goals)


def describe() -> list[dict[str, object]]:
    return [
        {
            "interval": name,
            "goals": [{"within_s": g.within_s, "goal_pct": g.goal_pct, "source": g.source} for g in GOALS[name]],
        }
        for name in INTERVALS
    ]
