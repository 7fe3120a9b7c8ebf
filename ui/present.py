"""What each role may see: caller numbers masked for roles that do not need them (UU PDP No. 27/2022)."""

from __future__ import annotations

from typing import Any

from dispatch.phone import mask

_PERSONAL = {"caller", "caller_raw", "sms_number"}


def sees_caller(role: str, roles_seeing_caller: tuple[str, ...]) -> bool:
    return role in roles_seeing_caller


def masked(value: Any) -> Any:
    """A copy of a JSON-like value with every caller number masked."""
    if isinstance(value, dict):
        return {k: (mask(v) if k in _PERSONAL and isinstance(v, str) else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
