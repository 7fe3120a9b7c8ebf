"""The refusal of an illegal step reads well: every allowed next state, comma-separated, or that none is left."""

import pytest

from dispatch.errors import InvalidTransition
from dispatch.lifecycle import ASSIGNMENT, CALL


def test_the_message_lists_every_allowed_next_state() -> None:
    with pytest.raises(InvalidTransition) as refused:
        ASSIGNMENT.check("on_scene", "dispatched")
    assert str(refused.value) == (
        "assignment cannot go from 'on_scene' to 'dispatched'; allowed from 'on_scene': cleared, transporting"
    )


def test_a_final_state_says_nothing_is_allowed() -> None:
    with pytest.raises(InvalidTransition) as refused:
        CALL.check("ended", "answered")
    assert str(refused.value).endswith("allowed from 'ended': none (final state)")


def test_a_table_of_moves_becomes_a_machine_with_those_moves_and_its_name() -> None:
    """_m builds every lifecycle at import, before mutmut can switch a mutant on; called here, a broken _m shows."""
    from dispatch.lifecycle import Machine, _m

    built = _m("pump", {"idle": {"running", "broken"}, "running": {"idle"}})
    assert built == Machine("pump", {"idle": frozenset({"running", "broken"}), "running": frozenset({"idle"})})
    assert all(isinstance(v, frozenset) for v in built.moves.values())
