import itertools

import pytest

from dispatch.errors import InvalidTransition
from dispatch.lifecycle import ASSIGNMENT, CALL, INCIDENT


def test_assignment_cannot_skip_to_hospital() -> None:
    with pytest.raises(InvalidTransition, match="from 'dispatched' to 'at_hospital'"):
        ASSIGNMENT.check("dispatched", "at_hospital")


def test_final_states_say_so() -> None:
    with pytest.raises(InvalidTransition, match="none \\(final state\\)"):
        CALL.check("ended", "answered")


def test_full_ambulance_path_is_allowed() -> None:
    path = ["dispatched", "acknowledged", "en_route", "on_scene", "transporting", "at_hospital", "cleared"]
    for a, b in itertools.pairwise(path):
        ASSIGNMENT.check(a, b)
    INCIDENT.check("new", "dispatched")
