"""The caller's announcement and choice during a major incident (issue 25), for the Stasis app.

While a major incident is active, a new caller hears, instead of the greeting, a short announcement and a choice:
1 = people trapped, injured or in danger now, 2 = damage or a hazard to report, 3 = information. The choice is
kept on the call (`dispatch.major.service.record_choice`) and orders the queue (`dispatch.calls.queue.turn`).
Nobody is ever dropped: every caller waits in the holding bridge from the first moment, whatever they press.
A key other than 1, 2 or 3 counts as 1; a caller who presses nothing keeps no choice, which the queue counts as 1.
3 hears the public information (what to do, the region's shelters) and may then press 0, or wait, for a person;
1 or 2 pressed during it changes the choice.

The major incident in force is asked of the server at most every `AriOptions.major_check_s` and answered from
memory in between (a flood of callers must not wait on it); a server that does not answer leaves the last answer.
A choice the server could not take is logged and lost: the caller then counts as 1, never lower.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from telephony.ari.client import AriClient, AriError
from telephony.ari.settings import AriOptions
from telephony.desk import CallDesk, DeskUnavailable, HttpDesk

log = logging.getLogger(__name__)
CHOICES = {"1": 1, "2": 2, "3": 3}
NOISE = 1  # any other key at the announcement: treated as people in danger
INFORMATION = 3
PERSON = "0"  # after the information: a person, please (the caller waits in the queue either way)
Run = Callable[[str, Callable[[], Awaitable[None]]], None]  # run work after the caller's earlier events


@dataclass(frozen=True)
class MajorNow:
    """The major incident in force, as the bridge needs it: which one, and the region whose shelters to name."""

    id: int
    name: str
    region: str


class MajorPort(Protocol):
    """What the choice asks of the server."""

    async def active(self) -> MajorNow | None: ...

    async def choose(self, call_id: int, choice: int) -> None: ...


class HttpMajor:
    """The port of a bridge in its own process: the telephony API."""

    def __init__(self, desk: HttpDesk) -> None:
        self.desk = desk

    async def active(self) -> MajorNow | None:
        body = await self.desk.request("GET", "/major")
        return MajorNow(int(body["id"]), str(body["name"]), str(body["region"])) if body else None

    async def choose(self, call_id: int, choice: int) -> None:
        await self.desk.request("POST", f"/calls/{call_id}/choice", {"choice": choice})


def port_for(desk: CallDesk) -> MajorPort | None:
    """Over HTTP (also behind the bridge's journal), in the server's own process, or none (a desk of a test or
    benchmark that knows no major incident: callers are greeted as always)."""
    inner = getattr(desk, "desk", desk)  # JournaledDesk keeps the HTTP desk it journals for
    if isinstance(inner, HttpDesk):
        return HttpMajor(inner)
    if type(desk).__name__ == "InProcessDesk":  # not imported here: it loads the ORM, which `tanggap ari` never does
        from telephony.ari.choice_local import LocalMajor

        return LocalMajor(desk)  # type: ignore[arg-type]
    return None


def chosen(digit: str) -> int:
    """The choice a key at the announcement means: 1, 2 or 3, and 1 for anything else (noise, a wrong key)."""
    return CHOICES.get(digit, NOISE)


@dataclass
class Asking:
    """A caller between the announcement and their choice, or listening to the information."""

    call_id: int | None
    language: str
    region: str
    stage: str = "announcement"  # or "information"
    playback_id: str | None = None
    timer: asyncio.TimerHandle | None = None


class MajorChoice:
    def __init__(self, client: AriClient, port: MajorPort | None, options: AriOptions, run: Run) -> None:
        self.client, self.port, self.options, self.run = client, port, options, run
        self.asking: dict[str, Asking] = {}  # caller channel -> where they are
        self._known: MajorNow | None = None
        self._checked = -1e9  # monotonic time of the last answer
        self._refresh: asyncio.Task[None] | None = None

    # -- is a major incident in force? ------------------------------------------------------------------

    async def major(self) -> MajorNow | None:
        """The major incident in force: from memory, asked again in the background once `major_check_s` old.
        Only the first caller after start-up waits for the server's answer."""
        if self.port is None:
            return None
        if self._checked < 0:
            await self._ask()
        elif time.monotonic() - self._checked > self.options.major_check_s and self._refresh is None:
            self._refresh = asyncio.ensure_future(self._ask())
            self._refresh.add_done_callback(self._refreshed)
        return self._known

    def _refreshed(self, _task: asyncio.Task[None]) -> None:
        self._refresh = None

    async def _ask(self) -> None:
        assert self.port is not None
        try:
            self._known = await self.port.active()
        except DeskUnavailable as exc:
            log.warning("could not ask whether a major incident is active: %s", exc)
        self._checked = time.monotonic()

    # -- the caller's side ------------------------------------------------------------------------------

    async def announce(self, state: Any, language: str, first: list[str]) -> str | None:
        """Play `first` (the flagged caller's warning), then the announcement and its choice, if a major incident
        is active; returns the playback id (the app stops it when a call-taker answers), else None."""
        major = await self.major()
        if major is None:
            return None
        asking = Asking(state.call_id, language, major.region)
        self.asking[state.channel_id] = asking
        asking.playback_id = await self._play(state.channel_id, [*first, *self.options.announcement.split(",")], asking)
        self._wait(state.channel_id, self.options.choice_max_s)  # if the announcement's end is never told
        return asking.playback_id

    async def digit(self, state: Any, digit: str) -> None:
        """A key the caller pressed (ChannelDtmfReceived). Ignored unless they are being asked."""
        asking = self.asking.get(state.channel_id)
        if asking is None:
            return
        if asking.stage == "information":
            if digit == PERSON:
                await self._done(state, asking)
            elif digit in ("1", "2"):
                await self._choose(state, asking, CHOICES[digit])
            return
        choice = chosen(digit)
        if choice == NOISE and digit not in CHOICES:
            log.info("call %s: key %r at the announcement counts as 1", asking.call_id, digit)
        await self._choose(state, asking, choice)

    def played(self, state: Any, playback_id: str | None) -> None:
        """A playback ended: after the announcement the caller has `choice_wait_s` to press a key; after the
        information they simply wait for a person."""
        asking = self.asking.get(state.channel_id)
        if asking is None or playback_id is None or asking.playback_id != playback_id:
            return
        asking.playback_id = None
        if asking.stage == "announcement":
            self._wait(state.channel_id, self.options.choice_wait_s)
        else:
            self.forget(state.channel_id)

    def forget(self, channel_id: str) -> None:
        """The caller is with a call-taker, or gone: no more asking."""
        asking = self.asking.pop(channel_id, None)
        if asking is not None and asking.timer is not None:
            asking.timer.cancel()

    # -- steps ------------------------------------------------------------------------------------------

    async def _choose(self, state: Any, asking: Asking, choice: int) -> None:
        await self._stop(asking)
        state.playback_id = None
        call_id = asking.call_id or state.call_id
        if call_id is not None and self.port is not None:
            try:
                await self.port.choose(call_id, choice)
            except DeskUnavailable as exc:  # the call keeps no choice: the queue counts it as 1
                log.warning("call %s: choice %s not recorded: %s", call_id, choice, exc)
        if choice != INFORMATION:  # (during the information only 1 and 2 reach here: `digit`)
            self.forget(state.channel_id)
            return
        asking.stage = "information"
        if asking.timer is not None:
            asking.timer.cancel()
        # The region's shelters are named in a prompt of their own (`bencana-tempat-<region>`); without a region
        # known, the rest is played.
        items = [m for m in self.options.information.split(",") if asking.region or "{region}" not in m]
        media = [m.replace("{region}", asking.region) for m in items]
        asking.playback_id = await self._play(state.channel_id, media, asking)
        state.playback_id = asking.playback_id
        if asking.playback_id is None:
            self.forget(state.channel_id)

    async def _done(self, state: Any, asking: Asking) -> None:
        await self._stop(asking)
        state.playback_id = None
        self.forget(state.channel_id)

    async def _play(self, channel_id: str, media: list[str], asking: Asking) -> str | None:
        playback_id = f"{self.options.install}-major-{uuid.uuid4().hex[:12]}"
        try:
            await self.client.play(channel_id, media, playback_id=playback_id, lang=asking.language)
        except AriError as exc:  # comfort only: the caller is on hold in the queue either way
            log.warning("could not play the major incident's prompts on channel %s: %s", channel_id, exc)
            return None
        return playback_id

    async def _stop(self, asking: Asking) -> None:
        if asking.playback_id is not None:
            with contextlib.suppress(AriError):  # AriNotFound among them: the prompt had ended meanwhile
                await self.client.stop_playback(asking.playback_id)
            asking.playback_id = None

    def _wait(self, channel_id: str, seconds: float) -> None:
        asking = self.asking.get(channel_id)
        if asking is None:
            return
        if asking.timer is not None:
            asking.timer.cancel()
        loop = asyncio.get_running_loop()
        asking.timer = loop.call_later(seconds, self.run, channel_id, lambda: self._silent(channel_id, asking))

    async def _silent(self, channel_id: str, asking: Asking) -> None:
        """No key in time: the caller keeps no choice (the queue counts it as 1) and waits for a person."""
        if self.asking.get(channel_id) is not asking or asking.stage != "announcement":
            return
        log.debug("call %s: no key at the announcement", asking.call_id)
        await self._stop(asking)
        self.forget(channel_id)
