"""Fractiles the way response-time standards state them: "90% of calls answered within N seconds"."""

from __future__ import annotations

import math
from collections.abc import Sequence


def fractile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank fractile: the smallest value such that at least `share` of the values are at or below it.

    So p90 reads directly as "90% within p90 seconds" (no interpolation between two real calls).
    """
    if not values:
        return None
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def share_within(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Percentage of (seconds, limit) pairs with seconds <= limit; None for no data."""
    if not pairs:
        return None
    return 100.0 * sum(1 for seconds, limit in pairs if seconds <= limit) / len(pairs)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
