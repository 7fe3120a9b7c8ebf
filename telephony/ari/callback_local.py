"""The callback port of a bridge in the server's own process: the callback service on the call desk's writer
thread, and the event bus for new requests. Apart from telephony/ari/callback.py because it loads the ORM, which
a bridge in its own process (`tanggap ari`) never does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from dispatch.calls import callbacks
from dispatch.calls.records import CallbackJob
from dispatch.events.bus import Published
from telephony.desk_local import InProcessDesk


class LocalCallbacks:
    def __init__(self, desk: InProcessDesk) -> None:
        self.desk = desk

    async def claim(self) -> list[CallbackJob]:
        return await self.desk.run(lambda s: callbacks.claim(session=s, actor=self.desk.actor))

    async def report(
        self, callback_id: int, state: str, *, reason: str | None = None, ref: str | None = None,
        at: datetime | None = None,
    ) -> None:  # fmt: skip
        skew = self.desk.policy.clock_skew
        await self.desk.run(
            lambda s: callbacks.advance(
                session=s, callback_id=callback_id, state=state, reason=reason, ref=ref, at=at,
                actor=self.desk.actor, skew=skew,
            ).id
        )  # fmt: skip

    def on_requested(self, kick: Callable[[], None]) -> Callable[[], None]:
        if self.desk.bus is None:
            return lambda: None

        def handler(event: Published) -> None:
            if event.type == "callback.requested" and event.data.get("route") == "pbx":
                kick()

        return self.desk.bus.subscribe(handler)
