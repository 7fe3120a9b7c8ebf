"""The demo's telephone network: a realistic 112 call every 20-60 s through the intake the bridges use.

On only with TANGGAP_SIMULATE=true (`tanggap demo --simulate`). A simulated call is a call like any other (queue,
abuse flags, triage, reports); only its provider is `simulator`. What its caller does (config/simulator/):
- a voice call rings (offer, queued). Nobody answers in 60-90 s: the caller hangs up (abandoned, on the callback
  list). Answered: the caller's words are said (a `call.transcript` line, dispatch/calls/transcript.py); a silent
  call ends itself 20-40 s later, any other stays until the call-taker ends it.
- a text call is an SMS to 112, taken as Twilio's SMS webhook takes it; nobody answered in 10 minutes: ended.
- a handset that sends AML reports a fix near the place it names 5-20 s after dialling, read by the AML parser.
The server's own event loop runs `simulate_forever`; tests build a `Simulator` with their clock and seed and call
`tick()` (or `ring()`) themselves.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import threading
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.orm import Session

from dispatch.calls import intake, locations, messages, transcript
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import as_utc, utcnow
from dispatch.lifecycle import CallStatus
from telephony import aml
from ui import scenarios
from ui.context import Ctx
from ui.scenarios import Draw, Script

log = logging.getLogger(__name__)
PROVIDER = ACTOR = "simulator"
SILENT = "silent"


@dataclass
class OnLine:
    """A simulated caller on the line: one per call this simulator rang."""

    call_id: int
    draw: Draw
    gives_up_at: datetime  # still ringing then: hangs up
    aml_at: datetime | None  # the handset's AML SMS arrives then
    hangs_up_after: timedelta | None  # after being answered (a silent call)
    answered_seen: datetime | None = None


class Simulator:
    """Rings calls and plays their callers. `ring` may be called from any thread (the on-demand route) while
    `tick` runs in another: the callers on the line and the random draws are kept under a lock."""

    def __init__(
        self, ctx: Ctx, script: Script, *, rng: random.Random | None = None, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.ctx, self.script, self.clock = ctx, script, clock
        self.rng = rng or random.Random()
        self.places = scenarios.places_of(ctx.region.gazetteer)
        self._lock = threading.Lock()
        self._on_line: dict[int, OnLine] = {}
        self.started_at = utcnow()
        self.next_ring = clock() + self._after(script.timing.ring_every_s)

    @classmethod
    def for_region(cls, ctx: Ctx) -> Simulator:
        codes = {str(t["code"]) for t in ctx.region.pack.catalogue}
        return cls(ctx, scenarios.load(type_codes=codes))

    def _after(self, span: tuple[float, float]) -> timedelta:
        with self._lock:
            return timedelta(seconds=self.rng.uniform(*span))

    def on_line(self) -> list[OnLine]:
        with self._lock:
            return list(self._on_line.values())

    # ---- ringing -------------------------------------------------------------------------------------------

    def ring(self, *, session: Session, kind: str | None = None) -> Call:
        """Ring one call now (of this kind, else one drawn by the mix). Commits."""
        now, timing = self.clock(), self.script.timing
        with self._lock:
            busy = {c.draw.caller for c in self._on_line.values() if c.draw.caller}
            drawn = scenarios.draw(self.script, self.places, self.rng, kind=kind, busy=busy)
        channel = f"sim-{uuid.uuid4().hex}"
        if drawn.scenario.text:
            call, _ = messages.receive(
                session=session, provider=PROVIDER, message_id=channel, caller=drawn.caller, dialled="112",
                text=drawn.words, actor=ACTOR,
            )  # fmt: skip
            gives_up = timedelta(seconds=timing.text_gives_up_after_s)
        else:
            call = intake.offer(
                session=session, provider=PROVIDER, channel_id=channel, caller=drawn.caller, dialled="112", at=None,
                actor=ACTOR,
            )  # fmt: skip
            intake.queued(session=session, call_id=call.id, actor=ACTOR)
            gives_up = self._after(timing.gives_up_after_s)
        silent = drawn.scenario.kind == SILENT and not drawn.scenario.text
        caller = OnLine(
            call_id=call.id,
            draw=drawn,
            gives_up_at=now + gives_up,
            aml_at=now + self._after(timing.aml_after_s) if drawn.aml else None,
            hangs_up_after=self._after(timing.silent_hangs_up_after_s) if silent else None,
        )
        with self._lock:
            self._on_line[call.id] = caller
        log.info("simulated %s call %s rings (%s)", drawn.scenario.kind, call.id, "text" if call.is_text else "voice")
        return call

    def tick(self) -> int | None:
        """One step of every simulated caller, and the next call if it is due (its id)."""
        now = self.clock()
        with self.ctx.sessions() as session:
            self.follow(session=session, now=now)
            if now < self.next_ring:
                return None
            self.next_ring = now + self._after(self.script.timing.ring_every_s)
            return self.ring(session=session).id

    def start(self, *, session: Session) -> int:
        """Hang up the simulated calls still ringing from an earlier run: nobody plays their callers any more.
        Answered ones stay with their call-taker. Returns how many were ended."""
        left = [
            c
            for c in calls.active(session=session)
            if c.provider == PROVIDER and c.status == CallStatus.offered and as_utc(c.offered_at) < self.started_at
        ]
        for call in left:
            intake.finish(session=session, call_id=call.id, actor=ACTOR, cause="simulator restarted")
        return len(left)

    # ---- the callers on the line ---------------------------------------------------------------------------

    def follow(self, *, session: Session, now: datetime) -> None:
        for caller in self.on_line():
            call = session.get(Call, caller.call_id)
            if call is None or call.status == CallStatus.ended or self._step(session, caller, call, now):
                with self._lock:
                    self._on_line.pop(caller.call_id, None)

    def _step(self, session: Session, caller: OnLine, call: Call, now: datetime) -> bool:
        """What the caller does now; True once they have hung up."""
        if caller.aml_at is not None and now >= caller.aml_at:
            caller.aml_at = None
            self._send_aml(session, caller.draw)
        if call.status == CallStatus.offered:
            if now < caller.gives_up_at:
                return False
            intake.finish(session=session, call_id=call.id, actor=ACTOR, cause="simulated caller hung up")
            log.info("simulated call %s: the caller hung up before anyone answered", call.id)
            return True
        if caller.answered_seen is None:
            caller.answered_seen = now
            if not call.is_text:  # a text caller's words are their SMS, already on the call
                self._say(session, caller)
        if caller.hangs_up_after is not None and now >= caller.answered_seen + caller.hangs_up_after:
            intake.finish(session=session, call_id=call.id, actor=ACTOR, cause="simulated silent caller hung up")
            log.info("simulated call %s: the silent caller hung up", call.id)
            return True
        return False

    def _say(self, session: Session, caller: OnLine) -> None:
        scenario = caller.draw.scenario
        hint = {"scenario": {"kind": scenario.kind, "type_code": scenario.type_code}}
        transcript.add(
            session=session, call_id=caller.call_id, words=caller.draw.words, source=PROVIDER, actor=ACTOR, extra=hint
        )

    def _send_aml(self, session: Session, drawn: Draw) -> None:
        """The handset's AML SMS, read by the parser that reads the real ones and kept like them (by number)."""
        with self._lock:
            distance = self.rng.uniform(0, min(drawn.place.accuracy_m / 2, 400))
            bearing = self.rng.uniform(0, 2 * math.pi)
            radius = self.rng.uniform(5, 50)  # 90% of AML fixes lie within 50 m
        lat = drawn.place.lat + distance * math.cos(bearing) / 111_320
        lon = drawn.place.lon + distance * math.sin(bearing) / (111_320 * math.cos(math.radians(drawn.place.lat)))
        text = aml_sms(lat, lon, radius_m=radius, at=utcnow())
        fix = aml.parse(text)
        locations.report(
            session=session, caller=drawn.caller, source="aml", lat=fix.lat, lon=fix.lon, accuracy_m=fix.accuracy_m,
            fix_at=fix.fix_at, raw=text, actor=ACTOR,
        )  # fmt: skip


def aml_sms(lat: float, lon: float, *, radius_m: float, at: datetime) -> str:
    """An AML version 1 SMS as a handset writes it (no IMSI or IMEI: the simulator has none)."""
    body = f'A"ML=1;lt={lat:+.6f};lg={lon:+.6f};rd={radius_m:.0f};top={at:%Y%m%d%H%M%S};lc=68;pm=G;mcc=510;ml='
    digits = next(d for d in range(1, 5) if len(str(len(body) + d)) == d)  # `ml` counts the whole text, itself too
    return body + str(len(body) + digits)


def delivered(_to: str, _body: str, _callback: str | None) -> str:
    """The "SMS provider" of a reply to a simulated text caller: the simulator's handset gets it, nobody's phone."""
    return f"sim-{uuid.uuid4().hex[:16]}"


def simulator_of(app: FastAPI) -> Simulator | None:
    sim: Simulator | None = getattr(app.state, "simulator", None)
    return sim


async def simulate_forever(sim: Simulator, stop: asyncio.Event, *, every_s: float = 1.0) -> None:
    """Play the simulated callers every `every_s` until `stop` is set. A tick that fails is logged and the next
    one tries again: the demo must outlive a database that blinked."""

    def start() -> int:
        with sim.ctx.sessions() as session:
            return sim.start(session=session)

    try:
        ended = await asyncio.to_thread(start)
    except Exception:
        log.exception("call simulator: the calls left ringing by an earlier run could not be ended")
    else:
        if ended:
            log.info("call simulator: %s simulated calls left ringing by an earlier run hung up", ended)
    log.info("call simulator on: a call every %g-%g s", *sim.script.timing.ring_every_s)
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(sim.tick)
        except Exception:
            log.exception("call simulator: a tick failed; trying again in %g s", every_s)
