"""The call desk in the server's own process: the dispatch services on a writer thread of the server.

Apart from telephony/desk.py (the port and the HTTP desk of a bridge in its own process) because it loads the
ORM and the services, which a bridge in its own process never needs: `tanggap ari` starts faster without
them, and that start-up is how long a crashed bridge leaves callers to the dialplan's fallback.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import queue as jobqueue
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dispatch import leases
from dispatch.calls import fallback, intake, queue
from dispatch.calls import service as calls
from dispatch.calls.records import CallBrief, FallbackCall, Match, Ringing, Triage
from dispatch.context import Policy
from dispatch.events.bus import EventBus, Published
from telephony.desk import DeskUnavailable, Kick

log = logging.getLogger(__name__)
T = TypeVar("T")
_GATHER_STEP_S, _GATHER_MAX_S = 0.0005, 0.015  # the writer waits for a burst to arrive (see _gather)
_CLOSE_WAIT_S = 10.0  # close() waits this long at most for the writes already handed to the writer

Outcome = tuple["asyncio.Future[CallBrief]", "CallBrief | None", "BaseException | None"]  # an offer's answer


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)  # type: ignore[arg-type]


class InProcessDesk:
    """Dispatch services in worker threads, one short session each."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        policy: Policy,
        bus: EventBus | None = None,
        *,
        provider: str = "asterisk",
        actor: str = "asterisk",
        region: str = "",
    ) -> None:
        self.sessions, self.policy, self.bus = sessions, policy, bus
        self.region = region  # the region pack's code: whose shelters a major incident's information names
        self.provider, self.actor = provider, actor
        # One writer thread: SQLite allows one writer at a time, and threads racing for its lock back off in
        # steps of up to 100 ms. In a queue of our own, a burst of calls is written back to back, and a new
        # call (priority 0) goes before bookkeeping of calls already on hold.
        self._jobs: jobqueue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = jobqueue.PriorityQueue()
        self._order = itertools.count()
        self._closed = False
        self._writer = threading.Thread(target=self._work, name="call-desk", daemon=True)
        self._writer.start()
        # New calls handed to the writer and written so far (touched on the event loop only).
        self._offers_issued = self._offers_written = 0
        self._offers_done: asyncio.Event | None = None
        # New calls waiting for the writer: (the call, who offers it, its answer). One writer job per batch,
        # not per call: in a burst, 200 wake-ups of the writer each took the GIL from the event loop.
        self._offer_batch: list[tuple[Ringing, str, asyncio.Future[CallBrief]]] = []
        self._batch_lock = threading.Lock()

    def _work(self) -> None:
        while (job := self._jobs.get()[2]) is not None:
            job()

    def _write_offers(self) -> None:
        """Write every new call handed over so far in one transaction of a few statements: a burst of 200
        callers costs one commit, not 200. If the batch fails, each call is written on its own, so one bad
        call cannot hold back the others. The answers go back to the event loop in one hop."""
        self._gather()
        with self._batch_lock:
            batch, self._offer_batch = self._offer_batch, []
        outcomes: list[Outcome] = []
        try:
            results = self._offer_now([(ringing, actor) for ringing, actor, _ in batch])
            outcomes = [(future, result, None) for (_, _, future), result in zip(batch, results, strict=True)]
        except Exception:
            log.warning("a batch of %d new calls failed; writing them one by one", len(batch))
            for ringing, actor, future in batch:
                try:
                    (result,) = self._offer_now([(ringing, actor)])
                except BaseException as exc:
                    outcomes.append((future, None, exc))
                else:
                    outcomes.append((future, result, None))
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, answers in by_loop.items():
            loop.call_soon_threadsafe(self._offers_written_now, answers)

    def _gather(self) -> None:
        """While calls keep arriving (a burst), sleep in short steps before writing (`_GATHER_MAX_S` at most):
        the event loop then receives the rest of the burst without fighting this thread for the GIL, and the
        burst is written in one transaction with one round of sends to the consoles, instead of three or four.
        A lone call waits one step."""
        deadline = time.monotonic() + _GATHER_MAX_S
        seen = -1
        while time.monotonic() < deadline:
            with self._batch_lock:
                waiting = len(self._offer_batch)
            if waiting == seen:
                return
            seen = waiting
            time.sleep(_GATHER_STEP_S)

    def _offers_written_now(self, outcomes: list[Outcome]) -> None:
        """On the event loop: answer each offer, and wake whoever waits for the desk to settle."""
        for future, result, error in outcomes:
            _settle(future, result, error)
        self._offers_written += len(outcomes)
        if self._offers_done is not None:
            self._offers_done.set()

    def _offer_now(self, batch: list[tuple[Ringing, str]]) -> list[CallBrief]:
        offered: list[CallBrief] = []
        with self.sessions() as session:
            for actor, group in itertools.groupby(batch, key=lambda item: item[1]):
                ringing = [r for r, _ in group]
                offered.extend(
                    calls.offer_many(session=session, ringing=ringing, actor=actor, skew=self.policy.clock_skew)
                )
            session.commit()
        return offered

    def _check_open(self) -> None:
        if self._closed:
            raise DeskUnavailable("the call desk is closed (server shutting down)")

    async def run(self, fn: Callable[[Session], T], priority: int = 2) -> T:
        """Run `fn` on the writer thread with a session of its own (and commit if `fn` does); lower
        `priority` first. The HTTP telephony API uses this too, so a burst from a remote bridge is written
        one transaction after another instead of 200 threads fighting for SQLite's lock."""
        self._check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def work() -> None:
            try:
                with self.sessions() as session:
                    result = fn(session)
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

        self._jobs.put((priority, next(self._order), work))
        return await future

    async def offer(
        self, *, channel_id: str, caller: str | None, dialled: str | None, at: datetime | None
    ) -> CallBrief:
        """A new call of the bridge in this process goes before any other work, in a batch with the others
        that arrived meanwhile."""
        (offered,) = await self.offer_many([Ringing(caller, self.provider, channel_id, dialled, at)], actor=self.actor)
        return offered

    async def offer_many(self, ringing: list[Ringing], *, actor: str) -> list[CallBrief]:
        """Calls that came together (the HTTP API's batch from a bridge in its own process) join the writer's
        batch at once: a task per call took a few milliseconds of the event loop in a burst, and the writer,
        seeing the batch still grow, waited that long before writing."""
        self._check_open()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[CallBrief]] = [loop.create_future() for _ in ringing]
        self._offers_issued += len(ringing)
        with self._batch_lock:
            first = not self._offer_batch
            self._offer_batch.extend((r, actor, f) for r, f in zip(ringing, futures, strict=True))
        if first and ringing:  # the calls after these join their batch until the writer takes it
            self._jobs.put((0, next(self._order), self._write_offers))
        return list(await asyncio.gather(*futures))

    async def settled(self) -> None:
        """Wait until no new call is waiting to be written. In a burst, the first callers' answer and music
        would otherwise take the event loop's CPU while the writer still records the callers behind them."""
        while self._offers_written < self._offers_issued:
            self._offers_done = self._offers_done or asyncio.Event()
            self._offers_done.clear()
            await self._offers_done.wait()

    # Each step below is the one definition of its job and priority, for the bridge in this process and, with the
    # bridge's `actor`, for the HTTP telephony API (a bridge in its own process).

    async def queued(self, call_id: int, *, actor: str | None = None) -> int | None:
        lead = self.policy.priority_lead
        return await self.run(lambda s: intake.queued(session=s, call_id=call_id, actor=actor or self.actor, lead=lead))

    async def answered(
        self, call_id: int, taker_id: int, *, at: datetime | None = None, actor: str | None = None
    ) -> CallBrief:
        return await self.run(
            lambda s: CallBrief.of(
                intake.answered(
                    session=s,
                    call_id=call_id,
                    taker_id=taker_id,
                    actor=actor or self.actor,
                    at=at,
                    skew=self.policy.clock_skew,
                )
            )
        )

    async def finish(
        self, call_id: int, cause: str | None, *, at: datetime | None = None, actor: str | None = None
    ) -> CallBrief:
        return await self.run(
            lambda s: CallBrief.of(
                intake.finish(
                    session=s,
                    call_id=call_id,
                    actor=actor or self.actor,
                    cause=cause,
                    at=at,
                    skew=self.policy.clock_skew,
                )
            ),
            1,
        )

    async def ended_unrecorded(self, channel_id: str, cause: str | None, at: datetime) -> bool:
        return False  # in the server's own process there is no server to wait for: the bridge retries

    async def set_recording(self, call_id: int, ref: str, *, actor: str | None = None) -> CallBrief:
        return await self.run(
            lambda s: CallBrief.of(calls.set_recording(session=s, call_id=call_id, ref=ref, actor=actor or self.actor))
        )

    async def claim(self, *, provider: str | None = None, actor: str | None = None) -> list[Match]:
        return await self.run(
            lambda s: queue.claim(
                session=s, provider=provider or self.provider, actor=actor or self.actor, lead=self.policy.priority_lead
            )
        )

    async def requeue(
        self, call_id: int, taker_id: int, reason: str, taker_available: bool, *, actor: str | None = None
    ) -> None:
        await self.run(
            lambda s: queue.requeue(
                session=s,
                call_id=call_id,
                taker_id=taker_id,
                reason=reason,
                taker_available=taker_available,
                actor=actor or self.actor,
            )
        )

    async def ready_after_busy(self, taker_id: int, *, actor: str | None = None) -> bool:
        return await self.run(lambda s: queue.ready_after_busy(session=s, taker_id=taker_id, actor=actor or self.actor))

    async def live(self) -> list[CallBrief]:
        return await self.run(lambda s: [CallBrief.of(c) for c in intake.live(session=s, provider=self.provider)])

    async def triage(self, caller: str | None) -> Triage:
        return await self.run(lambda s: intake.triage(session=s, caller=caller, policy=self.policy))

    async def record_fallback(self, trace: FallbackCall, *, actor: str | None = None) -> CallBrief:
        return await self.run(
            lambda s: fallback.record(
                session=s,
                provider=self.provider,
                trace=trace,
                actor=actor or self.actor,
                skew=self.policy.clock_skew,
            ),
            1,
        )

    async def lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """On a thread of its own, not the writer's: a renewal must not wait behind a burst of calls, or the
        active bridge would lose its lease to the standby in the middle of the burst."""
        return await asyncio.to_thread(self._lease_now, name, holder, ttl_s)

    def _lease_now(self, name: str, holder: str, ttl_s: float) -> bool:
        self._check_open()
        try:
            with self.sessions() as session:
                lease = leases.acquire(session=session, name=name, holder=holder, ttl=timedelta(seconds=ttl_s))
        except SQLAlchemyError as exc:  # the database blinked: the bridge decides what that means
            raise DeskUnavailable(f"bridge lease: {type(exc).__name__}") from exc
        return lease.granted

    async def release(self, name: str, holder: str, why: str = "released") -> None:
        def work() -> None:
            try:
                with self.sessions() as session:
                    leases.release(session=session, name=name, holder=holder, why=why)
            except SQLAlchemyError as exc:
                raise DeskUnavailable(f"bridge lease: {type(exc).__name__}") from exc

        await asyncio.to_thread(work)

    notices_takers = False  # the in-server bridge polls as before: the queue is in this process anyway

    def on_taker_ready(self, kick: Kick) -> Callable[[], None]:
        if self.bus is None:
            return lambda: None

        def handler(event: Published) -> None:
            if queue.frees_a_taker(event):
                kick()

        return self.bus.subscribe(handler)

    async def close(self) -> None:
        """Stop the writer once the writes already handed to it are done: a caller recorded a moment before a
        shutdown reaches the database, and nothing writes into a database its owner is about to close."""
        if not self._closed:
            self._closed = True
            self._jobs.put((99, next(self._order), None))
        await asyncio.to_thread(self._writer.join, _CLOSE_WAIT_S)
