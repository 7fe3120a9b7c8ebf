"""What each role may see: caller numbers masked for roles that do not need them (UU PDP No. 27/2022)."""

from __future__ import annotations

from typing import Any

from dispatch.phone import mask

# A call's extension is masked with its number: with the operator prefix and last digits that the mask keeps, an
# office's extension narrows down who called, and a role that does not call back has no use for it. One of up to
# six digits is masked whole (a longer one keeps its last two), so the console still shows that there was one.
PERSONAL = frozenset({"caller", "caller_raw", "caller_ext", "sms_number"})


def sees_caller(role: str, roles_seeing_caller: tuple[str, ...]) -> bool:
    return role in roles_seeing_caller


def masked(value: Any) -> Any:
    """A copy of a JSON-like value with every caller number masked."""
    if isinstance(value, dict):
        return {k: (mask(v) if k in PERSONAL and isinstance(v, str) else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
