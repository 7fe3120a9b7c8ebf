"""What the safety properties share: Hypothesis settings that keep them fast and reproducible."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fast(max_examples: int = 60) -> settings:
    """derandomize: the same examples on every run, so a red CI run is red again on a laptop; no deadline, since
    the databases vary. Properties that drive the database run inside a test and share its database across
    examples (each example cleans up), hence the function-scoped fixture check is off."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
