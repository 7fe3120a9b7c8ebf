"""The small records the call desk passes between the dispatch core and a PBX bridge: frozen, no ORM.

They live apart from the services that make them so that a bridge in its own process (`tanggap ari`, talking
to the server over HTTP) imports none of SQLAlchemy: its start-up time is how long callers wait for the
dialplan's fallback after a crash (scripts/bench_faults.py). The services re-export them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.calls.models import Call

QUEUE = "tanggap112"
# Why a call-taker's desk is not ready (the reason of their `taker.available` event): it answered busy, and the
# pause after it is over. The bridge sends the first, the queue answers with the second.
DESK_BUSY, DESK_FREE_AGAIN = "desk_busy", "desk_free_again"


@dataclass(frozen=True)
class Ringing:
    """A call the PBX (or a webhook, or the API) offers: what `offer_many` needs to know of it."""

    caller: str | None
    provider: str
    channel_id: str | None = None
    dialled: str | None = "112"
    at: datetime | None = None
    text: str | None = None
    source: str | None = None  # "fallback": taken by the dialplan while the bridge was away


@dataclass(frozen=True)
class CallBrief:
    """What a PBX bridge needs to know of a call, without an ORM object: what `offer_many` answers, and what
    the call desk (`telephony.desk`) answers for every step."""

    id: int
    channel_id: str
    status: str
    flagged: bool
    taker_id: int | None

    @classmethod
    def of(cls, call: Call) -> CallBrief:
        return cls(call.id, call.channel_id, call.status, call.flagged, call.taker_id)


@dataclass(frozen=True)
class Match:
    """A waiting call and the call-taker whose phone should ring for it."""

    call_id: int
    provider: str
    channel_id: str
    taker_id: int
    endpoint: str


@dataclass(frozen=True)
class Triage:
    """What the PBX should know about a caller before the call is queued. Never a reason to drop it."""

    flagged: bool
    priority: str  # high (calling back about an emergency in the last hour), normal, low (flagged)
    language: str  # id or en: the greeting to play
    queue: str
    calls_total: int

    def variables(self) -> dict[str, str]:
        return {
            "TANGGAP_FLAGGED": "1" if self.flagged else "0",
            "TANGGAP_PRIORITY": self.priority,
            "TANGGAP_LANG": self.language,
            "TANGGAP_QUEUE": self.queue,
        }


DEFAULT_TRIAGE = Triage(flagged=False, priority="normal", language="id", queue=QUEUE, calls_total=0)


@dataclass(frozen=True)
class FallbackCall:
    """One call as the dialplan's trace tells it."""

    channel_id: str  # the caller channel's uniqueid
    caller: str | None
    started_at: datetime
    answered_at: datetime | None = None
    desk: str | None = None  # the endpoint that answered, e.g. "taker1"
    ended_at: datetime | None = None
    cause: str | None = None

    @property
    def over(self) -> bool:
        return self.ended_at is not None


@dataclass(frozen=True)
class CallbackJob:
    """A callback the PBX bridge is to place (dispatch/calls/callbacks.py): ring `desk`, the call-taker's phone,
    then `number`, the abandoned caller, showing `caller_id`, the command center's number (None: the trunk's)."""

    id: int
    call_id: int
    number: str
    desk: str
    caller_id: str | None
