"""The lifecycles of calls, incidents and assignments as explicit state machines.

Each machine is a table of allowed moves and the timestamp column each state stamps; `step` checks a move and
raises `InvalidTransition` with a message a person can read, so nothing ever changes state silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dispatch.errors import InvalidTransition


class CallStatus(StrEnum):
    offered = "offered"  # ringing / waiting in the queue
    answered = "answered"  # a call-taker is talking to the caller
    ended = "ended"


class CallClass(StrEnum):
    emergency = "emergency"
    information = "information"  # non-emergency information or complaint
    prank = "prank"
    ghost = "ghost"  # silent call
    abandoned = "abandoned"  # caller hung up before a person answered


class IncidentStatus(StrEnum):
    new = "new"  # created, nobody dispatched yet
    dispatched = "dispatched"
    on_scene = "on_scene"
    closed = "closed"


class AssignmentStatus(StrEnum):
    dispatched = "dispatched"
    acknowledged = "acknowledged"
    en_route = "en_route"
    on_scene = "on_scene"
    transporting = "transporting"
    at_hospital = "at_hospital"
    cleared = "cleared"  # unit available again
    cancelled = "cancelled"  # stood down before arriving


class UnitStatus(StrEnum):
    available = "available"
    dispatched = "dispatched"
    acknowledged = "acknowledged"
    en_route = "en_route"
    on_scene = "on_scene"
    transporting = "transporting"
    at_hospital = "at_hospital"
    out_of_service = "out_of_service"


@dataclass(frozen=True)
class Machine:
    name: str
    moves: dict[str, frozenset[str]]

    def check(self, current: str, target: str) -> None:
        allowed = self.moves.get(current, frozenset())
        if target not in allowed:
            options = ", ".join(sorted(allowed)) or "none (final state)"
            raise InvalidTransition(
                f"{self.name} cannot go from '{current}' to '{target}'; allowed from '{current}': {options}"
            )


def _m(name: str, moves: dict[str, set[str]]) -> Machine:
    return Machine(name, {k: frozenset(v) for k, v in moves.items()})


CALL = _m("call", {"offered": {"answered", "ended"}, "answered": {"ended"}})

INCIDENT = _m(
    "incident",
    {
        "new": {"dispatched", "closed"},
        "dispatched": {"on_scene", "closed"},
        "on_scene": {"closed"},
    },
)

A = AssignmentStatus
ASSIGNMENT = _m(
    "assignment",
    {
        A.dispatched: {A.acknowledged, A.en_route, A.cancelled},
        A.acknowledged: {A.en_route, A.cancelled},
        A.en_route: {A.on_scene, A.cancelled},
        A.on_scene: {A.transporting, A.cleared},
        A.transporting: {A.at_hospital, A.cleared},
        A.at_hospital: {A.cleared},
    },
)

# The steps of a unit that carries patients (an ambulance): taking one to hospital, arriving there. The patient's
# handover is the time between arriving (at_hospital) and being available again (cleared). A fire engine, a
# rescue truck or a patrol car has no such steps (`dispatch.incidents.assignments.step` refuses them).
PATIENT_STEPS = frozenset({A.transporting, A.at_hospital})
_PATIENT_WORDS = ("ambulan",)  # ambulance, ambulans: the units.csv unit_type of a vehicle with a stretcher


def carries_patients(unit_type: str) -> bool:
    """Whether a unit of this type takes patients to hospital: its vehicle, not its agency, decides (PSC 119
    also runs motorbikes and cars that carry none; a BPBD or Damkar ambulance does)."""
    text = unit_type.lower()
    return any(word in text for word in _PATIENT_WORDS)


ACTIVE_ASSIGNMENT = frozenset(ASSIGNMENT.moves)  # every non-final state
# Live calls and open incidents, named by their states rather than as "not ended" / "not closed": `status IN
# (...)` is a search of the status index, `status != ...` read every call or incident ever taken.
LIVE_CALL = frozenset(CALL.moves)
OPEN_INCIDENT = frozenset(INCIDENT.moves)

# Which assignment timestamp column each state stamps.
ASSIGNMENT_STAMP: dict[str, str] = {
    A.acknowledged: "acknowledged_at",
    A.en_route: "en_route_at",
    A.on_scene: "on_scene_at",
    A.transporting: "transporting_at",
    A.at_hospital: "at_hospital_at",
    A.cleared: "cleared_at",
    A.cancelled: "cleared_at",
}

# The unit's status while its assignment is in each state.
UNIT_FOR_ASSIGNMENT: dict[str, UnitStatus] = {
    A.dispatched: UnitStatus.dispatched,
    A.acknowledged: UnitStatus.acknowledged,
    A.en_route: UnitStatus.en_route,
    A.on_scene: UnitStatus.on_scene,
    A.transporting: UnitStatus.transporting,
    A.at_hospital: UnitStatus.at_hospital,
    A.cleared: UnitStatus.available,
    A.cancelled: UnitStatus.available,
}
