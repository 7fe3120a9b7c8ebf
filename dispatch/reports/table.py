"""The one shape every report returns: named columns, rows of plain values, and a few totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
