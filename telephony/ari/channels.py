"""Reading ARI channel snapshots: who is a caller, who is a call-taker leg we rang, what to ignore."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

TAKER_PREFIX = "tanggap-taker-"


@dataclass(frozen=True)
class Leg:
    kind: str  # "caller", "taker" or "other" (snoop, a channel of someone else's)
    call_id: int | None = None
    taker_id: int | None = None
    language: str | None = None


def classify(args: list[str], channel: dict[str, Any]) -> Leg:
    """Decide from `StasisStart.args` (or the dialplan app data on reconnect) what this channel is.

    Our dialplan enters with `incoming`, and we originate call-taker legs with `taker,<call>,<taker>`. A snoop
    channel, or one we originated, also gets a StasisStart: treating it as a new caller would recurse.
    """
    name = str(channel.get("name", ""))
    if args and args[0] == "taker":
        return Leg("taker", _int(args, 1), _int(args, 2))
    if args and args[0] == "incoming":
        language = args[2] if len(args) > 2 and args[2] in ("id", "en") else None
        return Leg("caller", language=language)
    if name.startswith("Snoop/") or str(channel.get("id", "")).startswith(TAKER_PREFIX):
        return Leg("other")
    if not args:
        return Leg("caller")  # a dialplan that forgot the args must still reach a person
    return Leg("other")


def args_on_reconnect(channel: dict[str, Any], app: str) -> list[str] | None:
    """The Stasis args of a channel listed by `GET /channels`, or None if it is not in our app."""
    plan = channel.get("dialplan") or {}
    if plan.get("app_name") != "Stasis":
        return None
    data = str(plan.get("app_data", "")).split(",")
    if not data or data[0] != app:
        return None
    return data[1:]


def caller_number(channel: dict[str, Any]) -> str | None:
    return (channel.get("caller") or {}).get("number") or None


def dialled(channel: dict[str, Any]) -> str | None:
    return (channel.get("dialplan") or {}).get("exten") or None


def created_at(channel: dict[str, Any]) -> datetime | None:
    """When Asterisk created the channel (`2026-11-22T07:53:58.652+0000`), or None if absent, unreadable or
    without an offset. `fromisoformat`, not `strptime`: strptime took ~12 us a call and, with its locale
    lookups, a sixth of the bridge's CPU in a burst of callers (py-spy, `scripts/bench_calls.py --remote`)."""
    raw = channel.get("creationtime")
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _int(args: list[str], i: int) -> int | None:
    return int(args[i]) if len(args) > i and args[i].isdigit() else None
