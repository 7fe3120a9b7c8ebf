"""The bridge's side of "nothing lost": what the server could not take is kept on the bridge's disk and replayed.

`JournaledDesk` wraps the call desk of a bridge in its own process (`tanggap ari`, an `HttpDesk`). A new call,
its answer, its recording and its end that the server does not take (`DeskUnavailable`) are appended, fsync'd,
to `Spool(journal_dir, "bridge")` (telephony/spool.py) with the times they happened; the caller stays on hold
as before. The journal is replayed, in order, as soon as the server answers again, and by a restarted bridge
from what the earlier process wrote. Each step is idempotent on the server (a call is found by its channel, an
answered call is not answered again, an ended one not ended again), so an entry applied twice, after a crash in
the middle of a replay, changes nothing; and the times recorded are the journaled ones, not the replay's.
This module loads no ORM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TypeVar

from dispatch.calls.records import CallBrief, FallbackCall, Match, Triage
from telephony.desk import CallDesk, DeskRefused, DeskUnavailable, Kick
from telephony.spool import Entry, Spool, SpoolUnwritable

log = logging.getLogger(__name__)
T = TypeVar("T")
_APPLY_TIMEOUT_S = 60.0  # one entry's replay; HttpDesk gives up on its own well before
_RETRY_S = 1.0  # after a replay that stopped, the next one waits at least this long


def _iso(at: datetime) -> str:
    return at.isoformat()


def _time(raw: object) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) else None


def _key(entry: Entry) -> str:
    """The call an entry is about: its id once the server gave one, else its channel (never recorded)."""
    call_id = entry.get("call_id")
    return f"call {call_id}" if call_id is not None else f"channel {entry.get('channel_id')}"


def _keys_waiting(spool: Spool) -> Counter[str]:
    """The calls with entries an earlier process left, so that their later steps queue behind them."""
    keys: Counter[str] = Counter()
    for path in (spool.replaying, spool.path):
        with contextlib.suppress(OSError):
            for line in path.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    keys[_key(json.loads(line))] += 1
    return keys


class JournaledDesk:
    """Any `CallDesk`, with what it could not deliver kept in a journal until it can."""

    def __init__(self, desk: CallDesk, spool: Spool) -> None:
        self.desk, self.spool = desk, spool
        self.provider = desk.provider
        self.rejected = Spool(spool.folder, f"{spool.path.stem}.rejected")  # for a person to read, never replayed
        # Offers journaled for callers still on the line, by channel: their end goes with the same call fields.
        self._unrecorded: dict[str, Entry] = {}
        # Entries not applied yet, per call: a later step of such a call is journaled behind them, so the
        # server hears a call's steps in their order (an end replayed before the answer would lose the answer).
        self._waiting = _keys_waiting(spool)
        self._appending = 0  # appends under way: their entries are counted in `_waiting` before they are on disk
        self._flush_lock = asyncio.Lock()
        self._flushing: asyncio.Task[int] | None = None
        self._applying: Future[None] | None = None
        self._next_try = 0.0
        self._closed = False

    # -- the steps a journal keeps ------------------------------------------------------------------------------

    async def offer(
        self, *, channel_id: str, caller: str | None, dialled: str | None, at: datetime | None
    ) -> CallBrief:
        """Raises `DeskUnavailable` as before when the server does not answer (the bridge keeps the caller on
        hold and offers again on its reconcile), with the call journaled."""
        try:
            call = await self._direct(self.desk.offer(channel_id=channel_id, caller=caller, dialled=dialled, at=at))
        except DeskRefused:
            raise  # the server answered: no outage to wait out
        except DeskUnavailable:
            if channel_id not in self._unrecorded:
                entry: Entry = {"step": "offer", "channel_id": channel_id, "caller": caller, "dialled": dialled}
                entry["offered_at"] = _iso(at or datetime.now(UTC))  # the real time, not the replay's
                if await self._append(entry):
                    self._unrecorded[channel_id] = entry
            raise
        self._unrecorded.pop(channel_id, None)
        return call

    async def ended_unrecorded(self, channel_id: str, cause: str | None, at: datetime) -> bool:
        offer = self._unrecorded.pop(channel_id, None)
        if offer is None:
            return False  # its offer could not be journaled either (or never failed): the bridge retries
        if await self._append({**offer, "step": "finish", "cause": cause, "at": _iso(at)}):
            return True
        self._unrecorded[channel_id] = offer
        return False

    async def answered(self, call_id: int, taker_id: int, *, at: datetime | None = None) -> CallBrief:
        at = at or datetime.now(UTC)
        entry = {"step": "answered", "call_id": call_id, "taker_id": taker_id, "at": _iso(at)}
        kept = CallBrief(call_id, "", "answered", False, taker_id)
        return await self._step(entry, lambda: self.desk.answered(call_id, taker_id, at=at), kept)

    async def set_recording(self, call_id: int, ref: str) -> CallBrief:
        entry = {"step": "recording", "call_id": call_id, "ref": ref}
        kept = CallBrief(call_id, "", "answered", False, None)
        return await self._step(entry, lambda: self.desk.set_recording(call_id, ref), kept)

    async def finish(self, call_id: int, cause: str | None, *, at: datetime | None = None) -> CallBrief:
        at = at or datetime.now(UTC)
        entry = {"step": "finish", "call_id": call_id, "cause": cause, "at": _iso(at)}
        kept = CallBrief(call_id, "", "ended", False, None)
        return await self._step(entry, lambda: self.desk.finish(call_id, cause, at=at), kept)

    async def _step(self, entry: Entry, send: Callable[[], Awaitable[CallBrief]], kept: CallBrief) -> CallBrief:
        """Send a step of a recorded call, or keep it: when the server does not take it, and while an earlier
        step of the same call waits in the journal. Kept, it answers `kept`, what the server will record."""
        if not self._waiting[_key(entry)]:
            try:
                return await self._direct(send())
            except DeskRefused:
                raise
            except DeskUnavailable as exc:
                log.warning("%s: %s not taken by the server (%s)", _key(entry), entry["step"], exc)
        if not await self._append(entry):
            raise DeskUnavailable(f"{_key(entry)}: {entry['step']} neither delivered nor journaled")
        return kept

    async def _append(self, entry: Entry) -> bool:
        """Keep `entry`; False (and an ERROR in the log, from the spool) when the disk refuses: the bridge then
        goes on as without a journal, the caller held and the step retried while this process lives."""
        key = _key(entry)
        self._waiting[key] += 1  # before the write: a replay running meanwhile may apply it at once
        self._appending += 1
        try:
            await asyncio.to_thread(self.spool.append, entry)
        except SpoolUnwritable:
            self._applied(key)
            return False
        finally:
            self._appending -= 1
        log.warning("%s: %s kept in the bridge's journal until the server answers", key, entry["step"])
        return True

    def _applied(self, key: str) -> None:
        if self._waiting[key] > 1:
            self._waiting[key] -= 1
        else:
            self._waiting.pop(key, None)

    # -- replaying -----------------------------------------------------------------------------------------------

    async def flush(self) -> int:
        """Replay the journal now, oldest entry first; returns how many entries were done with. An entry the
        server cannot be reached for stops the replay there, to be tried again (the spool keeps it and the rest);
        one it refuses is set aside."""
        async with self._flush_lock:
            if self._closed:
                return 0
            loop = asyncio.get_running_loop()
            try:
                done = await asyncio.to_thread(self.spool.replay, lambda entry: self._apply_from_thread(loop, entry))
            except OSError as exc:  # the journal's folder itself failed: kept entries stay where they are
                log.error("bridge journal %s cannot be replayed: %s", self.spool.path, exc)
                done = 0
            if not self._appending and not self.spool.pending():
                self._waiting.clear()  # also what another process on this host replayed (a standby beside us)
            if self._waiting:
                self._next_try = time.monotonic() + _RETRY_S
            if done:
                log.warning("bridge journal: %d step(s) replayed to the server", done)
            return done

    def _apply_from_thread(self, loop: asyncio.AbstractEventLoop, entry: Entry) -> None:
        """The spool replays on a worker thread; the desk's requests belong to the event loop."""
        if self._closed:
            raise DeskUnavailable("the bridge is shutting down")
        self._applying = asyncio.run_coroutine_threadsafe(self._apply(entry), loop)
        self._applying.result(timeout=_APPLY_TIMEOUT_S)

    async def _apply(self, entry: Entry) -> None:
        try:
            await self._deliver(entry)
        except DeskRefused as exc:
            # Waiting would change nothing (no such call, not valid), and every call journaled after it would wait
            # too: set aside for a person, in `<name>.rejected.jsonl`, and the replay goes on.
            log.error(
                "bridge journal: the server refused %s of %s (%s): set aside", entry.get("step"), _key(entry), exc
            )
            with contextlib.suppress(SpoolUnwritable):
                await asyncio.to_thread(self.rejected.append, entry)
        self._applied(_key(entry))

    async def _deliver(self, entry: Entry) -> None:
        step, call_id = entry.get("step"), entry.get("call_id")
        if call_id is None:  # a call the server never heard of: its offer makes it (or finds it made)
            call = await self.desk.offer(
                channel_id=str(entry["channel_id"]),
                caller=entry.get("caller"),
                dialled=entry.get("dialled"),
                at=_time(entry.get("offered_at")),
            )
            call_id = call.id
        if step == "answered":
            await self.desk.answered(call_id, int(entry["taker_id"]), at=_time(entry.get("at")))
        elif step == "recording":
            await self.desk.set_recording(call_id, str(entry["ref"]))
        elif step == "finish":
            await self.desk.finish(call_id, entry.get("cause"), at=_time(entry.get("at")))
        elif step != "offer":
            log.error("bridge journal: unknown step %r skipped", step)

    async def _direct(self, work: Awaitable[T]) -> T:
        """A step that reached the server: the server answers again, so whatever waits in the journal goes now
        (in the background; at most once a second while an entry keeps failing)."""
        result = await work
        if self._waiting and not self._closed and self._flushing is None and time.monotonic() >= self._next_try:
            self._flushing = asyncio.ensure_future(self.flush())
            self._flushing.add_done_callback(self._flushed)
        return result

    def _flushed(self, task: asyncio.Task[int]) -> None:
        self._flushing = None
        if not task.cancelled() and task.exception() is not None:
            log.error("bridge journal: replay failed: %s", task.exception())

    # -- the other steps, as the wrapped desk does them ----------------------------------------------------------

    async def live(self) -> list[CallBrief]:
        """What the server has live, once the journal is replayed: the reconcile after a reconnect must not end
        a journaled call as "channel gone" at the reconcile's time when its real end waits in the journal."""
        if self._waiting:
            await self.flush()
        return await self._direct(self.desk.live())

    async def settled(self) -> None:
        await self.desk.settled()

    async def queued(self, call_id: int) -> int | None:
        return await self._direct(self.desk.queued(call_id))

    async def claim(self) -> list[Match]:
        return await self._direct(self.desk.claim())

    async def requeue(self, call_id: int, taker_id: int, reason: str, taker_available: bool) -> None:
        await self._direct(self.desk.requeue(call_id, taker_id, reason, taker_available))

    async def ready_after_busy(self, taker_id: int) -> bool:
        return await self._direct(self.desk.ready_after_busy(taker_id))

    async def triage(self, caller: str | None) -> Triage:
        return await self._direct(self.desk.triage(caller))

    async def record_fallback(self, trace: FallbackCall) -> CallBrief:
        return await self._direct(self.desk.record_fallback(trace))

    async def lease(self, name: str, holder: str, ttl_s: float) -> bool:
        return await self._direct(self.desk.lease(name, holder, ttl_s))

    async def release(self, name: str, holder: str, why: str = "released") -> None:
        await self.desk.release(name, holder, why)

    def on_taker_ready(self, kick: Kick) -> Callable[[], None]:
        return self.desk.on_taker_ready(kick)

    @property
    def notices_takers(self) -> bool:
        return self.desk.notices_takers

    async def close(self) -> None:
        """What was not replayed stays in the journal for the next start."""
        self._closed = True
        if self._applying is not None:
            self._applying.cancel()
        if self._flushing is not None:
            self._flushing.cancel()
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self.desk.close()
