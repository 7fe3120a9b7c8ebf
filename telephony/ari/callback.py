"""Callbacks through the PBX: ring the call-taker's desk, then the abandoned caller, and bridge the two.

The desk rings first, so that nobody picks up a callback to find the line silent; it shows the caller's number.
Once the call-taker answers, the caller is dialled through the trunk (`AriOptions.callback_endpoint`) showing
the command center's number (TANGGAP_CALLBACK_CALLER_ID, sent with the job), and the two meet in a mixing
bridge of their own. Each step goes to the server (`CallbackPort`): ringing, answered, ended, or a final
busy / no_answer / failed with a reason in Bahasa Indonesia for the console. What Asterisk refuses (an
unregistered desk is a 500 "Allocation failed", a bad dial string a 400) fails the attempt; it never stops the
bridge, and the 112 queue never waits for it.

The legs are ours by their channel ids (`tanggap-callback-<id>-desk-...`), so their events never reach the
Stasis app of 112 callers (`take`). Events of one callback are handled in order, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from dispatch.calls.records import CallbackJob
from telephony.ari.client import AriClient, AriError, AriNotFound
from telephony.ari.settings import AriOptions
from telephony.desk import CallDesk, HttpDesk

log = logging.getLogger(__name__)
Json = dict[str, Any]
Kick = Callable[[], None]
PREFIX = "tanggap-callback-"
REQUESTED = "callback.requested"  # the server's notice and event (ui/routes/offer_stream.py)
_GONE = ("StasisEnd", "ChannelDestroyed")  # a leg in Stasis ends with the first, a ringing one with the second
_BUSY, _NO_ANSWER = {17}, {18, 19, 16}  # Q.850 causes of a leg that never answered
_BAD_NUMBER = {1, 3, 28}  # unallocated number, no route, invalid number format
_NETWORK = {27, 34, 38, 41, 42}  # destination out of order, no circuit, network out of order, temporary failure


class CallbackPort(Protocol):
    """What the dialer asks of the server: the callbacks to place, and how each went."""

    async def claim(self) -> list[CallbackJob]: ...

    async def report(
        self, callback_id: int, state: str, *, reason: str | None = None, ref: str | None = None,
        at: datetime | None = None,
    ) -> None: ...  # fmt: skip

    def on_requested(self, kick: Kick) -> Callable[[], None]:
        """Call `kick` (from any thread) when a callback is asked for; returns unsubscribe."""
        ...


class HttpCallbacks:
    """The port of a bridge in its own process: the telephony API, and the call stream's notices."""

    def __init__(self, desk: HttpDesk) -> None:
        self.desk = desk

    async def claim(self) -> list[CallbackJob]:
        rows = await self.desk.request("POST", "/callbacks/claim")
        return [CallbackJob(**row) for row in rows]

    async def report(
        self, callback_id: int, state: str, *, reason: str | None = None, ref: str | None = None,
        at: datetime | None = None,
    ) -> None:  # fmt: skip
        body = {"state": state, "reason": reason, "ref": ref, "at": at.isoformat() if at else None}
        await self.desk.request("POST", f"/callbacks/{callback_id}/state", body)

    def on_requested(self, kick: Kick) -> Callable[[], None]:
        return self.desk.on_notice(REQUESTED, kick)


def port_for(desk: CallDesk) -> CallbackPort | None:
    """The server's side of the callbacks for this desk: over HTTP (also behind the bridge's journal), in the
    server's own process, or none (a desk of a test or benchmark that knows no callbacks)."""
    inner = getattr(desk, "desk", desk)  # JournaledDesk keeps the HTTP desk it journals for
    if isinstance(inner, HttpDesk):
        return HttpCallbacks(inner)
    if type(desk).__name__ == "InProcessDesk":  # not imported here: it loads the ORM, which `tanggap ari` never does
        from telephony.ari.callback_local import LocalCallbacks

        return LocalCallbacks(desk)  # type: ignore[arg-type]
    return None


def national(number: str) -> str:
    """+6281234567890 -> 081234567890, as Indonesian trunks often want it; other numbers as they are."""
    return "0" + number[3:] if number.startswith("+62") else number


def _desk_refused(exc: AriError, desk: str) -> str:
    if exc.status == 0:
        return "PBX tidak dapat dihubungi"
    if exc.status == 500:  # "Allocation failed": the endpoint is unknown or has no registered phone
        return f"Telepon meja {desk} tidak terdaftar atau tidak tersambung ke PBX"
    return f"PBX menolak menelepon meja {desk} (ARI {exc.status}: {exc.message})"


def _caller_refused(exc: AriError) -> str:
    if exc.status == 0:
        return "PBX tidak dapat dihubungi"
    if exc.status == 500:
        return "PBX tidak dapat memanggil nomor penelepon (saluran keluar tidak tersedia)"
    return f"PBX menolak memanggil nomor penelepon (ARI {exc.status}: {exc.message})"


def caller_leg_ended(cause: int | None, text: str | None) -> tuple[str, str | None]:
    """The callback's state, and why, when the caller's phone stopped ringing without being answered."""
    if cause in _BUSY:
        return "busy", None
    if cause in _NO_ANSWER or cause is None:
        return "no_answer", None
    if cause in _BAD_NUMBER:
        return "failed", "Nomor penelepon tidak terdaftar atau salah"
    if cause == 21:
        return "failed", "Panggilan ditolak oleh penerima"
    if cause in _NETWORK:
        return "failed", f"Jaringan operator sedang gangguan (kode {cause})"
    return "failed", f"Panggilan ke penelepon gagal ({text or f'kode {cause}'})"


def _time(event: Json) -> datetime:
    try:
        at = datetime.fromisoformat(str(event["timestamp"]))
    except (KeyError, ValueError):
        return datetime.now(UTC)
    return at if at.tzinfo is not None else datetime.now(UTC)


@dataclass
class Attempt:
    """One callback on the PBX: its legs and how far it got."""

    job: CallbackJob
    desk_channel: str
    caller_channel: str | None = None
    bridge: str | None = None
    desk_up: bool = False  # the call-taker answered their desk
    connected: bool = False  # the caller answered too
    gone: set[str] = field(default_factory=set)
    watchdog: asyncio.Task[None] | None = field(default=None, repr=False)


class CallbackDialer:
    def __init__(self, client: AriClient, port: CallbackPort, options: AriOptions | None = None) -> None:
        self.client, self.port, self.options = client, port, options or AriOptions()
        self.attempts: dict[int, Attempt] = {}
        self.legs: dict[str, int] = {}  # channel id -> callback id
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._kick = asyncio.Event()
        self._unsubscribe: Callable[[], None] = lambda: None

    # -- running --------------------------------------------------------------------------------------------

    def start(self, ready: Callable[[], bool]) -> None:
        """Place callbacks while `ready()` (the bridge active and connected): at each request's notice, and
        every `callback_poll_s` in case a notice was lost."""
        loop = asyncio.get_running_loop()

        def kick() -> None:  # called from the thread that committed the request
            loop.call_soon_threadsafe(self._kick.set)

        self._unsubscribe = self.port.on_requested(kick)
        self._spawn(self._loop(ready))

    async def _loop(self, ready: Callable[[], bool]) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.callback_poll_s):
                    await self._kick.wait()
            self._kick.clear()
            if not ready():
                continue
            try:
                await self.place_claimed()
            except Exception as exc:  # the server away: asked again at the next notice or poll
                log.warning("callbacks: could not ask the server for callbacks: %s", exc)

    async def place_claimed(self) -> int:
        """Place every callback the server hands out now; returns how many."""
        jobs = await self.port.claim()
        for job in jobs:
            self._spawn(self._locked(job.id, partial(self.place, job)))
        return len(jobs)

    async def close(self) -> None:
        self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _locked(self, callback_id: int, work: Callable[[], Awaitable[None]]) -> None:
        lock = self._locks.setdefault(callback_id, asyncio.Lock())
        try:
            async with lock:
                await work()
        except Exception:
            log.exception("callback %s: a step failed", callback_id)
        finally:
            if callback_id not in self.attempts and not lock.locked():
                self._locks.pop(callback_id, None)

    # -- events ---------------------------------------------------------------------------------------------

    def take(self, event: Json) -> bool:
        """Handle `event` if it is about a leg of a callback (in order, in the background); False if not ours."""
        channel_id = str((event.get("channel") or {}).get("id", ""))
        if not channel_id.startswith(PREFIX):
            return False
        callback_id = self.legs.get(channel_id)
        if callback_id is None:
            if event.get("type") == "StasisStart":  # a leg of an attempt this bridge forgot (a restart): not left up
                self._spawn(self._hangup(channel_id))
            return True
        self._spawn(self._locked(callback_id, lambda: self.handle(callback_id, event)))
        return True

    async def handle(self, callback_id: int, event: Json) -> None:
        attempt = self.attempts.get(callback_id)
        channel_id = str((event.get("channel") or {}).get("id", ""))
        if attempt is None:
            return
        kind = event.get("type")
        if kind == "StasisStart" and channel_id == attempt.desk_channel:
            await self._desk_answered(attempt)
        elif kind == "StasisStart" and channel_id == attempt.caller_channel:
            await self._caller_answered(attempt, event)
        elif kind in _GONE and channel_id not in attempt.gone:
            attempt.gone.add(channel_id)
            await self._leg_gone(attempt, channel_id, event)

    # -- the steps ------------------------------------------------------------------------------------------

    async def place(self, job: CallbackJob) -> None:
        """Ring the call-taker's desk; the rest follows its events."""
        attempt = Attempt(job, f"{PREFIX}{job.id}-desk-{uuid.uuid4().hex[:8]}")
        self.attempts[job.id] = attempt
        self.legs[attempt.desk_channel] = job.id
        endpoint = job.desk if "/" in job.desk else f"PJSIP/{job.desk}"
        try:
            await self.client.originate(
                endpoint=endpoint,
                app_args=f"callback,{job.id},desk",
                channel_id=attempt.desk_channel,
                caller_id=f'"Panggil balik" <{job.number}>',
                timeout_s=self.options.ring_timeout_s,
            )
        except AriError as exc:
            log.warning("callback %s: could not ring desk %s: %s", job.id, job.desk, exc)
            await self._finish(attempt, "failed", _desk_refused(exc, job.desk))
            return
        await self._report(job.id, "ringing", ref=attempt.desk_channel)
        attempt.watchdog = asyncio.ensure_future(self._watch(attempt))

    async def _desk_answered(self, attempt: Attempt) -> None:
        """The call-taker picked up: into a bridge of its own, and the caller is dialled."""
        job = attempt.job
        attempt.desk_up = True
        attempt.bridge = f"{self.options.install}-callback-{job.id}"
        try:
            await self.client.ensure_bridge(attempt.bridge, "mixing", name=f"{self.options.install} callback {job.id}")
            await self.client.add_channel(attempt.bridge, attempt.desk_channel)
        except AriNotFound:
            return  # the desk hung up meanwhile: its hang-up ends the attempt
        except AriError as exc:
            await self._finish(attempt, "failed", f"PBX tidak dapat menyiapkan sambungan (ARI {exc.status})")
            return
        attempt.caller_channel = f"{PREFIX}{job.id}-caller-{uuid.uuid4().hex[:8]}"
        self.legs[attempt.caller_channel] = job.id
        endpoint = self.options.callback_endpoint.format(number=job.number, national=national(job.number))
        try:
            await self.client.originate(
                endpoint=endpoint,
                app_args=f"callback,{job.id},caller",
                channel_id=attempt.caller_channel,
                caller_id=job.caller_id,
                timeout_s=self.options.callback_ring_s,
            )
        except AriError as exc:
            log.warning("callback %s: could not dial the caller: %s", job.id, exc)
            await self._finish(attempt, "failed", _caller_refused(exc))

    async def _caller_answered(self, attempt: Attempt, event: Json) -> None:
        assert attempt.bridge is not None and attempt.caller_channel is not None
        try:
            await self.client.add_channel(attempt.bridge, attempt.caller_channel)
        except AriNotFound:
            return  # one side hung up while they were joined: its hang-up ends the attempt
        attempt.connected = True
        self._stop_watch(attempt)
        await self._report(attempt.job.id, "answered", at=_time(event))

    async def _leg_gone(self, attempt: Attempt, channel_id: str, event: Json) -> None:
        cause = event.get("cause") if isinstance(event.get("cause"), int) else None
        at = _time(event)
        if attempt.connected:
            await self._finish(attempt, "ended", at=at)  # either side hung up: the conversation is over
        elif channel_id == attempt.desk_channel and attempt.desk_up:
            await self._finish(attempt, "failed", "Petugas menutup telepon sebelum penelepon mengangkat", at)
        elif channel_id == attempt.desk_channel:
            desk = attempt.job.desk
            why = f"Telepon meja {desk} sedang sibuk" if cause in _BUSY else f"Telepon meja {desk} tidak diangkat"
            await self._finish(attempt, "failed", why, at)
        else:
            state, because = caller_leg_ended(cause, event.get("cause_txt"))
            await self._finish(attempt, state, because, at)

    async def _watch(self, attempt: Attempt) -> None:
        """Stop waiting for phones the PBX says nothing more about (an event lost with a dropped connection)."""
        await asyncio.sleep(self.options.ring_timeout_s + self.options.callback_ring_s + 10)
        self._spawn(self._locked(attempt.job.id, lambda: self._timed_out(attempt)))

    async def _timed_out(self, attempt: Attempt) -> None:
        if self.attempts.get(attempt.job.id) is attempt and not attempt.connected:
            await self._finish(attempt, "failed", "PBX tidak memberi kabar tentang panggilan balik ini")

    def _stop_watch(self, attempt: Attempt) -> None:
        if attempt.watchdog is not None and attempt.watchdog is not asyncio.current_task():
            attempt.watchdog.cancel()
        attempt.watchdog = None

    async def _finish(
        self, attempt: Attempt, state: str, reason: str | None = None, at: datetime | None = None
    ) -> None:
        """The attempt is over: every leg still up hung up, its bridge gone, the server told."""
        self._stop_watch(attempt)
        self.attempts.pop(attempt.job.id, None)
        for leg in (attempt.desk_channel, attempt.caller_channel):
            if leg is not None:
                self.legs.pop(leg, None)
                if leg not in attempt.gone:
                    await self._hangup(leg)
        if attempt.bridge is not None:
            with contextlib.suppress(AriError):
                await self.client.destroy_bridge(attempt.bridge)
        await self._report(attempt.job.id, state, reason=reason, at=at)  # a final state stamps the end too

    async def _hangup(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):
            await self.client.hangup(channel_id)

    async def _report(
        self, callback_id: int, state: str, *, reason: str | None = None, ref: str | None = None,
        at: datetime | None = None,
    ) -> None:  # fmt: skip
        try:
            await self.port.report(callback_id, state, reason=reason, ref=ref, at=at)
        except Exception as exc:  # the server away or refusing: the phones went as they went; logged, not retried
            log.warning("callback %s: could not tell the server %s: %s", callback_id, state, exc)
