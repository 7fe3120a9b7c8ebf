"""The Stasis application: take each 112 call, keep the caller on hold, ring a call-taker, bridge and record.

Events for one call are handled one at a time, in arrival order (a lock per caller channel); different calls
are handled concurrently, so a burst of callers does not queue behind each other's REST round trips. Every
handler is idempotent: hang-up events arrive as ChannelHangupRequest, StasisEnd and ChannelDestroyed in
several combinations, and reconnecting replays what we might have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from dispatch.calls.records import DESK_BUSY, CallBrief, Match
from telephony.ari import channels, choice
from telephony.ari.channels import TAKER_PREFIX, Leg
from telephony.ari.client import AriClient, AriError, AriNotFound
from telephony.ari.journal import Journal
from telephony.ari.settings import AriOptions
from telephony.desk import CallDesk, DeskUnavailable

log = logging.getLogger(__name__)
Json = dict[str, Any]
T = TypeVar("T")
_HANGUP = {"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"}
_USER_BUSY = 17  # Q.850 cause of a desk phone that answered 486 Busy Here
_SETTLE_MAX_S = 1.0  # the longest a caller's answer and music wait for other callers to be recorded


@dataclass
class CallState:
    """What the bridge knows about one caller's channel."""

    channel_id: str
    channel: Json
    seen: int  # order of creation, to tell what a channel listing can know about
    call_id: int | None = None
    flagged: bool = False
    hold_bridge: str | None = None
    mix_bridge: str | None = None
    playback_id: str | None = None
    taker_channel: str | None = None
    taker_id: int | None = None
    connected: bool = False
    ended: bool = False
    ended_at: datetime | None = None  # when the caller hung up, kept for the retries of a core that was away
    watchdog: asyncio.Task[None] | None = field(default=None, repr=False)


def _event_time(event: Json) -> datetime:
    """When Asterisk says the event happened (`timestamp`, `2026-11-22T08:00:38.327+0000`), else now: the time
    a step is recorded with, also when the bridge's journal delivers it to the server long after."""
    try:
        at = datetime.fromisoformat(str(event["timestamp"]))
    except (KeyError, ValueError):
        return datetime.now(UTC)
    return at if at.tzinfo is not None else datetime.now(UTC)


class StasisApp:
    def __init__(self, client: AriClient, desk: CallDesk, options: AriOptions | None = None) -> None:
        self.client, self.desk, self.options = client, desk, options or AriOptions()
        self.calls: dict[str, CallState] = {}  # caller channel id -> state
        self.by_call: dict[int, CallState] = {}
        self.taker_legs: dict[str, str] = {}  # taker channel id -> caller channel id
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, int] = {}  # events waiting per key, so an idle key's lock can be dropped
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.Future[None]] = set()  # pauses before a busy desk is rung again
        self._counter = itertools.count()
        self._kick = asyncio.Event()
        self._route_lock = asyncio.Lock()
        self._hold_lock = asyncio.Lock()
        self._hold_ready = False
        self.hold_bridge = f"{self.options.install}-hold"
        self.mix_prefix = f"{self.options.install}-mix-"
        self._failed_media: set[str] = set()  # prompts that failed to play, logged once each
        self.active = True  # False while another bridge acts (a standby, or after ApplicationReplaced)
        self.journal = Journal(client, self.options.install)
        self.fallback_open: set[str] = set()  # channels of fallback calls still going on at the last reading
        self._journal_lock = asyncio.Lock()
        self._journal_warned = False
        self.on_offered: Callable[[str, CallBrief], None] | None = None  # for the benchmark and tests
        # During a major incident: the announcement and the caller's choice (telephony/ari/choice.py).
        self.choice = choice.MajorChoice(client, choice.port_for(desk), self.options, self._later)

    # -- dispatching ------------------------------------------------------------------------------------

    def dispatch(self, event: Json) -> None:
        """Handle an event in the background, after earlier events of the same call."""
        key = self._key(event)
        if key is None:
            return
        self._spawn(self._serialised(key, partial(self.handle, event), str(event.get("type"))))

    def _later(self, key: str, work: Callable[[], Awaitable[Any]]) -> None:
        self._spawn(self._serialised(key, work, "major incident choice"))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serialised(self, key: str, work: Callable[[], Awaitable[Any]], what: str) -> None:
        """Run `work` after everything queued earlier for the same call (asyncio locks are FIFO)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._pending[key] = self._pending.get(key, 0) + 1
        try:
            async with lock:
                await work()
        except AriError as exc:
            log.warning("%s for channel %s: %s", what, key, exc)
        except Exception:
            log.exception("%s for channel %s failed", what, key)
        finally:
            self._pending[key] -= 1
            if not self._pending[key]:
                del self._pending[key]
                self._locks.pop(key, None)

    def _key(self, event: Json) -> str | None:
        """The caller channel an event belongs to; taker legs and playbacks map to their caller."""
        if "channel" in event:
            channel_id = str(event["channel"].get("id", ""))
            return self.taker_legs.get(channel_id, channel_id)
        target = str((event.get("playback") or event.get("recording") or {}).get("target_uri", ""))
        if target.startswith("channel:"):
            return target[len("channel:") :]
        if target.startswith("bridge:"):
            return "bridge:" + target[len("bridge:") :]
        return None

    async def drain(self) -> None:
        """Wait until every event handed to `dispatch` so far has been handled (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def handle(self, event: Json) -> None:
        kind = event.get("type")
        if kind == "StasisStart":
            await self._stasis_start(event)
        elif kind in _HANGUP:
            await self._gone(event)
        elif kind == "PlaybackFinished":
            self._playback_finished(event)
        elif kind == "ChannelDtmfReceived":
            state = self.calls.get(str(event["channel"].get("id", "")))
            if state is not None:
                await self.choice.digit(state, str(event.get("digit", "")))
        elif kind == "RecordingFailed":
            recording = event.get("recording") or {}
            log.error(
                "recording %s of %s failed: %s",
                recording.get("name"),
                recording.get("target_uri"),
                recording.get("cause"),
            )

    # -- a caller arrives -------------------------------------------------------------------------------

    async def _stasis_start(self, event: Json) -> None:
        channel: Json = event["channel"]
        leg = channels.classify([str(a) for a in event.get("args", [])], channel)
        if leg.kind == "caller":
            await self._caller(channel, leg)
        elif leg.kind == "taker":
            await self._taker_answered(channel, leg, _event_time(event))
        else:
            log.debug("ignoring StasisStart of channel %s (not a caller)", channel.get("id"))

    async def _caller(self, channel: Json, leg: Leg, *, recovered: bool = False) -> None:
        channel_id = str(channel["id"])
        if channel_id in self.calls:
            return  # StasisStart seen again after a reconnect
        state = CallState(channel_id, channel, next(self._counter))
        self.calls[channel_id] = state
        await self._ensure_offered(state)
        if state.call_id is not None and recovered and await self._resume(state):
            return
        # In a burst, record every caller before spending the CPU on answering and music: the writer thread
        # then does not wait for the GIL behind our REST calls (measured: a 200-call burst in ~0.5 s, not ~4 s).
        # A flood of callers holds nobody's answer back for longer than _SETTLE_MAX_S.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SETTLE_MAX_S):
                await self.desk.settled()
        try:
            if channel.get("state") != "Up":
                await self.client.answer(channel_id)
            try:
                await self._hold(channel_id)
                state.hold_bridge = self.hold_bridge
            except AriNotFound:
                raise
            except AriError as exc:
                # Music is comfort; the call is recorded and stays in the queue either way, the greeting is still
                # played, and the next reconcile puts the caller on hold (_check_hold).
                log.error("could not put the caller on channel %s on hold: %s", channel_id, exc)
            if not recovered:
                await self._greet(state, leg.language)
        except AriNotFound:
            return  # the caller hung up already; the hang-up events end the call
        except AriError as exc:
            log.error("could not answer or greet the caller on channel %s: %s", channel_id, exc)
        if state.call_id is not None:
            with contextlib.suppress(DeskUnavailable):
                await self.desk.queued(state.call_id)
        self.kick()

    async def _hold(self, channel_id: str) -> None:
        """Into the one holding bridge every waiting caller shares, with music on hold. Raises AriNotFound only
        for a caller who has hung up; a holding bridge that vanishes twice is an AriError like any refusal."""
        for attempt in (1, 2):
            await self.ensure_hold()
            try:
                await self.client.add_channel(self.hold_bridge, channel_id)
                return
            except AriNotFound as exc:
                # 400 "Channel not found": the caller hung up. 404: the bridge is gone (Asterisk restarted).
                if exc.status != 404 or await self._channel_gone(channel_id):
                    raise
                self._hold_ready = False
                if attempt == 2:
                    raise AriError(exc.status, f"holding bridge {self.hold_bridge} gone twice") from exc

    async def ensure_hold(self) -> None:
        """Find or make the holding bridge and start its music, once per Asterisk run.

        Asterisk answers 409 to creating a bridge whose id exists (after our own restart, or with a second
        bridge process), so the bridge is found or made (`ensure_bridge`)."""
        if self._hold_ready:
            return
        async with self._hold_lock:
            if not self._hold_ready:
                await self.client.ensure_bridge(self.hold_bridge, "holding", name=f"{self.options.install} queue")
                await self.client.start_moh(self.hold_bridge, self.options.moh_class)
                self._hold_ready = True

    async def _check_hold(self) -> None:
        """On a reconcile: is the holding bridge still there (Asterisk may have restarted while we were away),
        and is every caller who waits in it? One GET; the music is started again only with a new bridge."""
        try:
            bridge = await self.client.bridge(self.hold_bridge)
        except AriNotFound:
            self._hold_ready = False
            bridge = None
        if bridge is not None and bridge.get("bridge_type") != "holding":
            self._hold_ready = False
            bridge = None  # made again: whoever is in it now is in no bridge once it is
        await self.ensure_hold()
        holding = set(bridge.get("channels", [])) if bridge is not None else set()
        for state in list(self.calls.values()):
            if state.ended or state.connected or state.taker_channel or state.channel_id in holding:
                continue
            # Also a caller who could not be put on hold when they came (hold_bridge still None): nobody waits in
            # silence outside the holding bridge.
            log.warning("caller on channel %s was not in the holding bridge: putting them back", state.channel_id)
            await self._under_lock(state.channel_id, partial(self._rehold, state))

    async def _rehold(self, state: CallState) -> None:
        if state.ended or state.connected or state.taker_channel:
            return
        with contextlib.suppress(AriNotFound):
            await self._hold(state.channel_id)
            state.hold_bridge = self.hold_bridge

    async def _channel_gone(self, channel_id: str) -> bool:
        try:
            await self.client.channel(channel_id)
        except AriNotFound:
            return True
        return False

    async def _ensure_offered(self, state: CallState) -> bool:
        if state.call_id is not None:
            return True
        channel = state.channel
        try:
            call = await self.desk.offer(
                channel_id=state.channel_id,
                caller=channels.caller_number(channel),
                dialled=channels.dialled(channel),
                at=channels.created_at(channel),
            )
        except DeskUnavailable as exc:
            # The caller stays on hold either way; the periodic reconcile offers the call again.
            log.error("could not record call on channel %s: %s", state.channel_id, exc)
            return False
        state.call_id, state.flagged = call.id, call.flagged
        self.by_call[call.id] = state
        if self.on_offered is not None:
            self.on_offered(state.channel_id, call)
        if call.status == "ended":
            state.ended = True
        return True

    async def _greet(self, state: CallState, language: str | None) -> None:
        """The greeting (after the short warning for a flagged caller) in the caller's language: the channel's
        own language is Asterisk's default (`en`) unless the dialplan set it, so it is always named."""
        greeting = self.options.greeting
        media = [self.options.warning, greeting] if state.flagged else [greeting]
        state.playback_id = await self.choice.announce(state, language or self.options.language, media[:-1])
        if state.playback_id is not None:
            return  # a major incident: its announcement instead of the greeting
        state.playback_id = f"{self.options.install}-greet-{uuid.uuid4().hex[:12]}"
        await self.client.play(
            state.channel_id, media, playback_id=state.playback_id, lang=language or self.options.language
        )

    async def _resume(self, state: CallState) -> bool:
        """After a restart: a call already answered keeps its conversation; an ended one is hung up."""
        call = next((c for c in await self.desk.live() if c.id == state.call_id), None)
        if state.ended or call is None:
            with contextlib.suppress(AriError):
                await self.client.hangup(state.channel_id)
            return True
        if call.status == "answered":
            state.connected, state.taker_id = True, call.taker_id
            state.mix_bridge = f"{self.mix_prefix}{call.id}"
            return True
        return False

    def _playback_finished(self, event: Json) -> None:
        """A greeting ended. `failed` within moments of starting means the prompt is missing on the PBX (or the
        caller hung up mid-greeting): the caller waits on hold either way, and a missing prompt is logged once,
        not for every caller."""
        playback = event.get("playback") or {}
        target = str(playback.get("target_uri", ""))[len("channel:") :]
        state = self.calls.get(target)
        if playback.get("state") == "failed" and state is not None and not state.ended:
            media = f"{playback.get('media_uri')} ({playback.get('language')})"
            if media not in self._failed_media:
                self._failed_media.add(media)
                log.error("prompt %s could not be played: is it installed on the PBX? (config/asterisk/sounds)", media)
        if state is not None and state.playback_id == playback.get("id"):
            state.playback_id = None
        if state is not None:
            self.choice.played(state, playback.get("id"))

    # -- routing to a call-taker ------------------------------------------------------------------------

    def kick(self) -> None:
        """Ask the ACD loop to look at the queue now (safe from any thread via call_soon_threadsafe)."""
        self._kick.set()

    async def acd_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._acd_wait()):
                    await self._kick.wait()
            self._kick.clear()
            if not self.active:
                continue  # a standby, or replaced: the active bridge rings the call-takers
            try:
                await self.route()
            except DeskUnavailable as exc:
                log.warning("ACD: dispatch core unavailable (%s)", exc)
            except Exception:
                log.exception("ACD round failed")

    def _acd_wait(self) -> float:
        """How long the ACD waits for a kick before looking at the queue anyway. A bridge in its own process
        hears of ready call-takers on the server's call stream and of new callers itself, so while that
        stream is up it looks only every `acd_idle_s` (a safety net), instead of asking the server every second."""
        if self.desk.notices_takers:
            return max(self.options.acd_interval_s, self.options.acd_idle_s)
        return self.options.acd_interval_s

    async def route(self) -> None:
        async with self._route_lock:
            for match in await self.desk.claim():
                state = self._caller_of(match)
                if state is None:
                    await self.desk.requeue(match.call_id, match.taker_id, "not_on_this_bridge", True)
                    continue
                ring = partial(self._ring, state, match)
                self._spawn(self._serialised(state.channel_id, ring, "ringing a call-taker"))

    def _caller_of(self, match: Match) -> CallState | None:
        """The caller on this bridge a claimed call is for, found by channel, which the bridge knows from the
        first event on: the ACD can claim a call between the server recording it and the bridge learning its id,
        and giving it back then sent the longest-idle call-taker to the back of the line."""
        state = self.calls.get(match.channel_id)
        if state is None or state.call_id not in (None, match.call_id):
            return None
        state.call_id = match.call_id
        self.by_call[match.call_id] = state
        return state

    async def _ring(self, state: CallState, match: Match) -> None:
        if state.ended or state.connected or state.taker_channel is not None:
            await self.desk.requeue(match.call_id, match.taker_id, "call_not_waiting", True)
            return
        taker_channel = f"{TAKER_PREFIX}{match.call_id}-{uuid.uuid4().hex[:8]}"
        endpoint = match.endpoint if "/" in match.endpoint else f"PJSIP/{match.endpoint}"
        state.taker_channel, state.taker_id = taker_channel, match.taker_id
        self.taker_legs[taker_channel] = state.channel_id
        try:
            await self.client.originate(
                endpoint=endpoint,
                app_args=f"taker,{match.call_id},{match.taker_id}",
                channel_id=taker_channel,
                caller_id=f"112 <{channels.caller_number(state.channel) or 'anonim'}>",
                timeout_s=self.options.ring_timeout_s,
            )
        except AriError as exc:
            log.warning("could not ring %s for call %s: %s", endpoint, match.call_id, exc)
            self._forget_taker(state)
            await self.desk.requeue(match.call_id, match.taker_id, "originate_failed", False)
            self.kick()
            return
        state.watchdog = asyncio.ensure_future(self._ring_watchdog(state, taker_channel))

    async def _ring_watchdog(self, state: CallState, taker_channel: str) -> None:
        """If neither StasisStart nor ChannelDestroyed arrives for a ringing phone, stop waiting for it."""
        await asyncio.sleep(self.options.ring_timeout_s + 5)
        self.dispatch(
            {
                "type": "ChannelDestroyed",
                "cause_txt": "ring watchdog",
                "channel": {"id": taker_channel},
                "watchdog": True,
            }
        )

    async def _taker_answered(self, channel: Json, leg: Leg, at: datetime | None = None) -> None:
        taker_channel = str(channel["id"])
        caller_channel = self.taker_legs.get(taker_channel)
        state = self.calls.get(caller_channel) if caller_channel else None
        if state is None or state.ended or state.taker_channel != taker_channel or state.call_id is None:
            log.info("call-taker leg %s answered but its call is gone; hanging up", taker_channel)
            with contextlib.suppress(AriError):
                await self.client.hangup(taker_channel)
            if leg.call_id is not None and leg.taker_id is not None:
                await self.desk.requeue(leg.call_id, leg.taker_id, "caller_gone", True)
            return
        self._cancel_watchdog(state)
        state.mix_bridge = f"{self.mix_prefix}{state.call_id}"
        try:
            if state.playback_id:
                with contextlib.suppress(AriNotFound):
                    await self.client.stop_playback(state.playback_id)
                state.playback_id = None
            await self.client.create_bridge(state.mix_bridge, "mixing", name=f"tanggap112 call {state.call_id}")
            if state.hold_bridge:
                with contextlib.suppress(AriError):
                    await self.client.remove_channel(state.hold_bridge, state.channel_id)
            await self.client.add_channel(state.mix_bridge, [state.channel_id, taker_channel])
        except AriNotFound:
            return  # one side hung up while we connected them; its hang-up event cleans up
        state.connected = True
        self.choice.forget(state.channel_id)
        await self.desk.answered(state.call_id, state.taker_id or 0, at=at)
        state.hold_bridge = None
        if self.options.record:
            await self._record(state)

    async def _record(self, state: CallState) -> None:
        assert state.mix_bridge is not None and state.call_id is not None
        name = f"{self.options.install}-call-{state.call_id}-{int(time.time())}"
        try:
            await self.client.record_bridge(state.mix_bridge, name, self.options.record_format)
        except AriError as exc:
            log.error("could not record call %s: %s", state.call_id, exc)
            return
        await self.desk.set_recording(state.call_id, name)

    # -- hang-ups ---------------------------------------------------------------------------------------

    async def _gone(self, event: Json) -> None:
        channel_id = str(event["channel"].get("id", ""))
        cause = event.get("cause_txt") or (f"cause {event['cause']}" if "cause" in event else None)
        at = _event_time(event)
        if channel_id in self.taker_legs:
            await self._taker_gone(
                channel_id,
                cause or str(event.get("type")),
                watchdog=bool(event.get("watchdog")),
                busy=event.get("cause") == _USER_BUSY,
                at=at,
            )
            return
        state = self.calls.get(channel_id)
        if state is not None:
            await self._caller_gone(state, cause or "caller hung up", at)

    async def _caller_gone(self, state: CallState, cause: str, at: datetime | None = None) -> None:
        if self.calls.get(state.channel_id) is not state:
            return  # closed already: hang-up events come in threes
        state.ended = True
        state.ended_at = state.ended_at or at or datetime.now(UTC)  # a retry records the first hang-up's time
        if state.call_id is None and not await self._ensure_offered(state):
            # Never recorded, the core still away. A journal keeps the call and its end for when it is back (then
            # the caller is forgotten here); without one the state stays and the next reconcile retries.
            if await self.desk.ended_unrecorded(state.channel_id, cause, state.ended_at):
                await self._close(state)
            return
        assert state.call_id is not None
        try:
            await self.desk.finish(state.call_id, cause, at=state.ended_at)
        except DeskUnavailable as exc:
            log.error("could not end call %s: %s (reconcile retries)", state.call_id, exc)
            return
        if state.taker_channel:
            ringing = not state.connected
            with contextlib.suppress(AriError):
                await self.client.hangup(state.taker_channel)
            if ringing and state.taker_id is not None:
                try:
                    await self.desk.requeue(state.call_id, state.taker_id, "caller_hung_up", True)
                except DeskUnavailable as exc:  # the end is recorded (or journaled): the caller's state goes
                    log.warning("call %s: could not free call-taker %s: %s", state.call_id, state.taker_id, exc)
        await self._close(state)
        self.kick()

    async def _taker_gone(
        self,
        taker_channel: str,
        cause: str,
        *,
        watchdog: bool = False,
        busy: bool = False,
        at: datetime | None = None,
    ) -> None:
        state = self.calls.get(self.taker_legs.get(taker_channel, ""))
        if state is not None and watchdog and state.connected:
            return  # the phone was answered just as the watchdog fired
        self.taker_legs.pop(taker_channel, None)
        if state is None or state.taker_channel != taker_channel or state.ended:
            return
        self._cancel_watchdog(state)
        if state.connected:
            await self._conversation_over(state, at)
            return
        taker_id = state.taker_id
        self._forget_taker(state)
        if state.call_id is not None and taker_id is not None:
            with contextlib.suppress(AriError):
                await self.client.hangup(taker_channel)  # the watchdog's case: still ringing somewhere
            if busy:
                # The desk phone is in use (a call on it outside the queue, e.g. rung by the dialplan's fallback):
                # the call-taker is not ready for now, and is told so; after a pause the desk is rung again.
                await self.desk.requeue(state.call_id, taker_id, DESK_BUSY, False)
                timer = asyncio.ensure_future(self._after_busy(taker_id))  # not a handler: drain() does not wait
                self._timers.add(timer)
                timer.add_done_callback(self._timers.discard)
            else:
                await self.desk.requeue(state.call_id, taker_id, f"no_answer ({cause})", False)
        self.kick()

    async def _conversation_over(self, state: CallState, at: datetime | None) -> None:
        """The call-taker hung up mid-conversation: the call is over for the caller too."""
        await self._caller_gone(state, "call-taker hung up", at)
        with contextlib.suppress(AriError):
            await self.client.hangup(state.channel_id)

    async def _after_busy(self, taker_id: int) -> None:
        await asyncio.sleep(self.options.busy_retry_s)
        try:
            if await self.desk.ready_after_busy(taker_id):
                self.kick()
        except DeskUnavailable as exc:
            log.warning("could not make call-taker %s ready after a busy desk: %s", taker_id, exc)

    def _forget_taker(self, state: CallState) -> None:
        if state.taker_channel:
            self.taker_legs.pop(state.taker_channel, None)
        state.taker_channel, state.taker_id = None, None

    def _cancel_watchdog(self, state: CallState) -> None:
        if state.watchdog is not None and state.watchdog is not asyncio.current_task():
            state.watchdog.cancel()
        state.watchdog = None

    async def _close(self, state: CallState) -> None:
        self._cancel_watchdog(state)
        self.choice.forget(state.channel_id)
        await self._destroy(state.mix_bridge)  # the shared holding bridge stays; Asterisk removes the caller
        if state.taker_channel:
            self.taker_legs.pop(state.taker_channel, None)
        self.calls.pop(state.channel_id, None)
        if state.call_id is not None:
            self.by_call.pop(state.call_id, None)

    async def _destroy(self, bridge: str | None) -> None:
        if bridge:
            with contextlib.suppress(AriError):
                await self.client.destroy_bridge(bridge)

    # -- reconciling after a reconnect ------------------------------------------------------------------

    async def reconcile(self) -> dict[str, int]:
        """Compare what Asterisk has with what we believe, so no caller waits forgotten.

        Channels in our app that we do not know are offered and put on hold; calls we think are live whose
        channels are gone are ended. The call list is read before the channel list, so a call offered
        between the two reads cannot be mistaken for a vanished one.
        """
        counts = {"offered": 0, "ended": 0, "orphans": 0, "bridges": 0, "fallback": 0}
        await self._step("checking the holding bridge", self._check_hold())
        counts["fallback"] = await self.read_journal()
        horizon = next(self._counter)
        live = await self.desk.live()
        listing = await self.client.channels()
        ours: dict[str, tuple[Json, list[str]]] = {}
        for channel in listing:
            args = channels.args_on_reconnect(channel, self.client.app)
            if args is not None:
                ours[str(channel["id"])] = (channel, args)
        for channel_id, (channel, args) in ours.items():
            leg = channels.classify(args, channel)
            if leg.kind == "caller" and channel_id not in self.calls:
                counts["offered"] += 1
                await self._under_lock(channel_id, partial(self._caller, channel, leg, recovered=True))
        for channel_id, (channel, args) in ours.items():
            leg = channels.classify(args, channel)
            if leg.kind == "taker" and channel_id not in self.taker_legs and not self._adopt_taker(channel_id, leg):
                counts["orphans"] += 1
                with contextlib.suppress(AriError):
                    await self.client.hangup(channel_id)
                if leg.call_id is not None and leg.taker_id is not None:
                    with contextlib.suppress(DeskUnavailable):
                        await self.desk.requeue(leg.call_id, leg.taker_id, "orphan_leg", True)
        # A conversation whose call-taker's leg is gone (hung up while no bridge was connected, or while this one's
        # events connection was down) is over for the caller too, as when a call-taker hangs up mid-conversation:
        # never left alone and silent in the conversation bridge.
        for state in list(self.calls.values()):
            if state.connected and not state.ended and state.channel_id in ours and await self._leg_gone(state, ours):
                counts["ended"] += 1
                await self._under_lock(state.channel_id, partial(self._conversation_over, state, None))
        gone = [s for s in list(self.calls.values()) if s.seen < horizon and s.channel_id not in ours]
        known = {s.call_id for s in self.calls.values()}
        for state in gone:
            counts["ended"] += 1
            await self._under_lock(state.channel_id, partial(self._caller_gone, state, "channel gone (reconciled)"))
        for call in live:
            if call.channel_id not in ours and call.id not in known and call.channel_id not in self.fallback_open:
                counts["ended"] += 1
                with contextlib.suppress(DeskUnavailable):
                    await self.desk.finish(call.id, "channel gone (reconciled)")
        # Calls that could not be recorded earlier (core unreachable) get another chance.
        for state in list(self.calls.values()):
            if state.call_id is None and not state.ended:
                await self._under_lock(state.channel_id, partial(self._ensure_offered, state))
        counts["bridges"] = await self._step("clearing orphan bridges", self._destroy_orphan_bridges()) or 0
        if any(counts.values()):
            log.warning("ARI reconcile: %s", counts)
        self.kick()
        return counts

    async def _leg_gone(self, state: CallState, ours: dict[str, tuple[Json, list[str]]]) -> bool:
        """Is the call-taker's leg of this conversation gone? None was adopted after a restart, or it is neither
        listed nor found: asked once, as a desk that answered after the listing was read is not in it."""
        if state.taker_channel is None:
            return True
        if state.taker_channel in ours:
            return False
        try:
            return await self._channel_gone(state.taker_channel)
        except AriError:
            return False  # not known now: the next reconcile asks again

    async def _step(self, what: str, work: Awaitable[T]) -> T | None:
        """One step of a reconcile that may fail without holding the others back (callers first)."""
        try:
            return await work
        except AriError as exc:
            log.warning("reconcile: %s failed: %s", what, exc)
            return None

    async def read_journal(self) -> int:
        """Record the calls the dialplan took while no bridge was connected (telephony/ari/journal.py); a call
        still going on is recorded as far as it got and read again until it has ended. Returns how many
        traces were read. A PBX without the journal's dialplan is logged once and changes nothing else."""
        async with self._journal_lock:
            try:
                async with self.journal.reader() as reader:
                    traces = await reader.traces()
                    still_open = set()
                    for trace in traces:
                        try:
                            await self.desk.record_fallback(trace)
                        except DeskUnavailable as exc:
                            log.error("could not record fallback call %s: %s (read again later)", trace.channel_id, exc)
                            still_open.add(trace.channel_id)
                            continue
                        if trace.over:
                            await reader.forget(trace.channel_id)
                        else:
                            still_open.add(trace.channel_id)
            except AriError as exc:
                if not self._journal_warned:
                    self._journal_warned = True
                    log.error(
                        "fallback journal unreadable (%s): is [tanggap-journal] in the PBX's dialplan? "
                        "Calls taken while the bridge was away cannot reach the record",
                        exc,
                    )
                return 0
        if traces:
            log.warning("fallback journal: %d call(s) taken by the dialplan while no bridge was connected", len(traces))
        self.fallback_open = still_open
        return len(traces)

    def forget_all(self) -> None:
        """Drop what this bridge believed (it became a standby: the active bridge owns the calls now; a
        reconcile rebuilds it all if this one becomes active again)."""
        for state in self.calls.values():
            self._cancel_watchdog(state)
        self.calls.clear()
        self.by_call.clear()
        self.taker_legs.clear()
        self._hold_ready = False

    async def _destroy_orphan_bridges(self) -> int:
        """Conversation bridges of ours that no live call uses: left behind by a crash of this process (its
        calls were ended above). Read after the calls were settled, so a conversation made meanwhile has
        its state already."""
        listed = [str(b.get("id", "")) for b in await self.client.bridges()]
        in_use = {s.mix_bridge for s in self.calls.values() if s.mix_bridge}  # after the listing: no race
        orphans = [b for b in listed if b.startswith(self.mix_prefix) and b not in in_use]
        for bridge_id in orphans:
            await self._destroy(bridge_id)
        return len(orphans)

    def _adopt_taker(self, taker_channel: str, leg: Leg) -> bool:
        state = self.by_call.get(leg.call_id or -1)
        if state is None or state.ended or not state.connected:
            return False  # only a conversation in progress keeps its call-taker leg
        state.taker_channel, state.taker_id = taker_channel, leg.taker_id
        state.mix_bridge = state.mix_bridge or f"{self.mix_prefix}{leg.call_id}"
        self.taker_legs[taker_channel] = state.channel_id
        return True

    async def _under_lock(self, key: str, work: Callable[[], Awaitable[Any]]) -> None:
        await self._serialised(key, work, "reconcile")

    async def close(self) -> None:
        for state in self.calls.values():
            self._cancel_watchdog(state)
        for task in [*self._tasks, *self._timers]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._timers, return_exceptions=True)
