"""The call-desk port: what a PBX bridge asks of the dispatch core, in-process or over the HTTP API.

`InProcessDesk` (telephony/desk_local.py) runs the dispatch services in worker threads on the server's own
sessions; `HttpDesk` reaches the same functions through the telephony endpoints of the API, with a bearer
token, when the bridge runs as its own process (`tanggap ari`). Both answer with the small frozen records of
dispatch/calls/records.py, never ORM objects; this module loads no ORM.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import aiohttp
import orjson

from dispatch.calls.records import CallBrief, FallbackCall, Match, Triage
from telephony.http import LazySession
from telephony.offer_stream import OfferStream

log = logging.getLogger(__name__)
T = TypeVar("T")
_PER_REQUEST = 500  # the most the batch endpoints of /api/v1/telephony take
_IN_FLIGHT = 2  # requests of one step out at once; the server writes one batch while the next comes in
Kick = Callable[[], None]
_JSON = {"Content-Type": "application/json"}


def _brief(body: dict[str, Any]) -> CallBrief:
    """A call as the telephony API answers it (`CallBrief` as JSON)."""
    return CallBrief(
        int(body["id"]), str(body["channel_id"]), str(body["status"]), bool(body["flagged"]), body.get("taker_id")
    )


def _at(body: dict[str, Any], at: datetime | None) -> dict[str, Any]:
    """`at` only when given: a server that records the time itself needs no field it does not know."""
    return {**body, "at": at.isoformat()} if at is not None else body


class DeskUnavailable(Exception):
    """The dispatch core could not be reached; the bridge keeps the caller on hold and retries."""


class DeskRefused(DeskUnavailable):
    """The server answered, and said no to this step (no such call, invalid): trying it again changes nothing, so
    the bridge's journal sets it aside instead of waiting on it (telephony/desk_journal.py)."""


_REFUSED = {400, 404, 409, 422}  # the server's own verdict on the step; 401, 403, 429 and 5xx may pass


def _refusal(status: object, detail: str) -> DeskUnavailable:
    return (DeskRefused if status in _REFUSED else DeskUnavailable)(f"{status} {detail}")


def _refused_on_stream(why: str) -> DeskUnavailable:
    """The call stream's 4xx (`"<status> <detail>"`), told apart as over HTTP."""
    status, _, detail = why.partition(" ")
    return _refusal(int(status) if status.isdigit() else status, detail)


class CallDesk(Protocol):
    provider: str

    async def offer(
        self, *, channel_id: str, caller: str | None, dialled: str | None, at: datetime | None
    ) -> CallBrief: ...

    async def settled(self) -> None:
        """Return once no new call is waiting to be recorded (lets a burst be written before comfort steps;
        in a flood that can take long, so the caller bounds the wait)."""
        ...

    async def queued(self, call_id: int) -> int | None:
        """The call waits for a call-taker; returns its place in the queue."""
        ...

    async def answered(self, call_id: int, taker_id: int, *, at: datetime | None = None) -> CallBrief:
        """A call-taker is talking to the caller; `at` is when (None: now, on the server's clock)."""
        ...

    async def finish(self, call_id: int, cause: str | None, *, at: datetime | None = None) -> CallBrief:
        """The call is over; `at` is when it ended (None: now). A journal replays it long after: hence `at`."""
        ...

    async def ended_unrecorded(self, channel_id: str, cause: str | None, at: datetime) -> bool:
        """A caller hung up before their call could be recorded (the core unreachable all along). True if the
        desk keeps the call and its end to record later (the bridge's journal, telephony/desk_journal.py): the
        bridge may then forget the caller. False: nothing is kept, the bridge keeps the caller and retries."""
        ...

    async def set_recording(self, call_id: int, ref: str) -> CallBrief: ...

    async def claim(self) -> list[Match]: ...

    async def requeue(self, call_id: int, taker_id: int, reason: str, taker_available: bool) -> None: ...

    async def ready_after_busy(self, taker_id: int) -> bool:
        """A busy desk's pause is over: ready again unless the call-taker changed their state meanwhile."""
        ...

    async def live(self) -> list[CallBrief]: ...

    async def triage(self, caller: str | None) -> Triage: ...

    async def record_fallback(self, trace: FallbackCall) -> CallBrief:
        """A call the dialplan took while no bridge was connected (dispatch/calls/fallback.py)."""
        ...

    async def lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `ttl_s`; True if `holder` holds it now (dispatch/leases.py)."""
        ...

    async def release(self, name: str, holder: str, why: str = "released") -> None:
        """Give the lease up now; `why` ("released" or "replaced") is what /healthz shows."""
        ...

    def on_taker_ready(self, kick: Kick) -> Callable[[], None]:
        """Call `kick` (from any thread) when a call-taker may have become ready; returns unsubscribe."""
        ...

    @property
    def notices_takers(self) -> bool:
        """True while `on_taker_ready` is known to be heard (the ACD may then poll rarely)."""
        ...

    async def close(self) -> None: ...


class HttpDesk:
    """The same steps through the server's telephony API (`/api/v1/telephony/...`), with retries.

    Every step is idempotent on the server, so retrying after a timeout can never record a call twice. On
    aiohttp, like the ARI client beside it in the bridge process: a caller costs several of these requests,
    and httpx spent ~1.45 ms of CPU on each (telephony/ari/client.py).
    """

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        provider: str = "asterisk",
        timeout: float = 5.0,
        attempts: int = 3,
        stream: bool = True,
    ) -> None:
        self.provider, self.attempts, self.timeout = provider, attempts, timeout
        self.base = api_url.rstrip("/") + "/api/v1/telephony"
        self._http = LazySession({"Authorization": f"Bearer {token}"}, connections=64, timeout=timeout)
        # Steps that come in floods after a burst go out together: what one event-loop turn asked for, in one
        # request. One HTTP request per caller and step was a backlog of hundreds on both sides, and new
        # calls waited behind it (sustained p99 ~0.5 s, scripts/bench_calls.py --remote).
        self._offers_by_http = _Together(self._poster("/calls/batch"), _brief)
        self._stream: OfferStream[CallBrief] | None = None
        if stream:  # new calls over the server's call stream, by HTTP when it fails (telephony/offer_stream.py)
            self._stream = OfferStream(
                self._http,
                self.base + "/calls/stream",
                _brief,
                self._offers_by_http,
                timeout=timeout,
                refused=_refused_on_stream,
            )
        self._queued = _Together(self._poster("/calls/queued/batch"), lambda row: row["position"])
        self._finished = _Together(self._poster("/calls/finish/batch"), _brief)

    def _poster(self, path: str) -> Callable[[dict[str, Any]], Awaitable[Any]]:
        return lambda body: self._call("POST", path, body)

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, params: dict[str, str] | None = None
    ) -> Any:
        delay = 0.2
        data = None if body is None else orjson.dumps(body)  # a burst's offers: ~10x less CPU than json.dumps
        headers = _JSON if data is not None else None
        for attempt in range(1, self.attempts + 1):
            try:
                async with asyncio.timeout(self.timeout):
                    async with self._http().request(
                        method, self.base + path, data=data, headers=headers, params=params
                    ) as response:
                        status, content = response.status, await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("dispatch API %s %s failed (%s), attempt %d", method, path, type(exc).__name__, attempt)
            else:
                if status < 500:
                    if status >= 400:
                        text = content[:200].decode(errors="replace")
                        raise _refusal(status, f"{method} {path}: {text}")
                    return orjson.loads(content) if content else None
                log.warning("dispatch API %s %s answered %s, attempt %d", method, path, status, attempt)
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        raise DeskUnavailable(f"{method} {path}: dispatch API unreachable")

    async def offer(
        self, *, channel_id: str, caller: str | None, dialled: str | None, at: datetime | None
    ) -> CallBrief:
        body = {
            "provider": self.provider,
            "channel_id": channel_id,
            "caller": caller,
            "dialled": dialled,
            "at": at.isoformat() if at else None,
        }
        return await (self._stream or self._offers_by_http)(body)

    async def settled(self) -> None:
        """As in the server: a burst's offers have all reached the server (the processes share the CPU)."""
        await (self._stream or self._offers_by_http).idle()  # the stream's calls sent by HTTP are its own

    async def queued(self, call_id: int) -> int | None:
        position: int | None = await self._queued({"call_id": call_id})
        return position

    async def answered(self, call_id: int, taker_id: int, *, at: datetime | None = None) -> CallBrief:
        body = _at({"taker_id": taker_id}, at)
        return _brief(await self._call("POST", f"/calls/{call_id}/answered", body))

    async def finish(self, call_id: int, cause: str | None, *, at: datetime | None = None) -> CallBrief:
        return await self._finished(_at({"call_id": call_id, "cause": cause}, at))

    async def ended_unrecorded(self, channel_id: str, cause: str | None, at: datetime) -> bool:
        return False  # nothing of its own to keep it in; JournaledDesk around this desk does

    async def set_recording(self, call_id: int, ref: str) -> CallBrief:
        return _brief(await self._call("POST", f"/calls/{call_id}/recording", {"ref": ref}))

    async def claim(self) -> list[Match]:
        rows = await self._call("POST", "/acd/claim", {"provider": self.provider})
        return [Match(**row) for row in rows]

    async def requeue(self, call_id: int, taker_id: int, reason: str, taker_available: bool) -> None:
        await self._call(
            "POST",
            "/acd/requeue",
            {"call_id": call_id, "taker_id": taker_id, "reason": reason, "taker_available": taker_available},
        )

    async def ready_after_busy(self, taker_id: int) -> bool:
        body = await self._call("POST", "/acd/ready-after-busy", {"taker_id": taker_id})
        return bool(body["ready"])

    async def live(self) -> list[CallBrief]:
        rows = await self._call("GET", "/calls/live", params={"provider": self.provider})
        return [_brief(row) for row in rows]

    async def triage(self, caller: str | None) -> Triage:
        body = await self._call("GET", "/triage", params={"caller": caller or ""})
        return Triage(**body)

    async def record_fallback(self, trace: FallbackCall) -> CallBrief:
        body = {
            "channel_id": trace.channel_id,
            "caller": trace.caller,
            "started_at": trace.started_at.isoformat(),
            "answered_at": trace.answered_at.isoformat() if trace.answered_at else None,
            "desk": trace.desk,
            "ended_at": trace.ended_at.isoformat() if trace.ended_at else None,
            "cause": trace.cause,
        }
        return _brief(await self._call("POST", "/calls/fallback", body))

    async def lease(self, name: str, holder: str, ttl_s: float) -> bool:
        body = await self._call("POST", "/lease", {"name": name, "holder": holder, "ttl_s": ttl_s})
        return bool(body["granted"])

    async def release(self, name: str, holder: str, why: str = "released") -> None:
        await self._call("POST", "/lease/release", {"name": name, "holder": holder, "ttl_s": 1, "why": why})

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Any step of the telephony API under `path`, with the desk's retries (the callbacks the bridge places,
        telephony/ari/callback.py)."""
        return await self._call(method, path, body)

    def on_notice(self, kind: str, listener: Kick) -> Callable[[], None]:
        """Call `listener` at every notice `kind` on the call stream; returns unsubscribe (a no-op without it)."""
        if self._stream is None:
            return lambda: None
        return self._stream.on_notice(kind, listener)

    @property
    def notices_takers(self) -> bool:
        return self._stream is not None and self._stream.connected

    def on_taker_ready(self, kick: Kick) -> Callable[[], None]:
        """The server tells the bridge over the call stream; without the stream the ACD's poll is the floor."""
        if self._stream is None:
            return lambda: None
        return self._stream.on_notice("taker.available", kick)

    async def close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
        for together in (self._offers_by_http, self._queued, self._finished):
            await together.close()
        await self._http.close()


R = TypeVar("R")


class _Together(Generic[R]):
    """One step for several calls in one request, to a batch endpoint that answers each call in order with
    its result or its own error. A call asked for while `_IN_FLIGHT` requests of the step are out waits for
    one of them to come back and goes with everything else that waited (500 a request at most): a burst
    arrives over many event-loop turns, and a request per turn was dozens of small requests."""

    def __init__(self, post: Callable[[dict[str, Any]], Awaitable[Any]], parse: Callable[[Any], R]) -> None:
        self._post, self._parse = post, parse
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[R]]] = []  # not sent yet
        self._sending: set[asyncio.Task[None]] = set()
        self._idle: asyncio.Event | None = None  # set when nothing waits or is out

    async def idle(self) -> None:
        """Return once no call of this step waits or is out."""
        while self._waiting or self._sending:
            self._idle = self._idle or asyncio.Event()
            self._idle.clear()
            await self._idle.wait()

    async def __call__(self, body: dict[str, Any]) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((body, future))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)  # after the rest of this turn's calls
        return await future

    def _flush(self) -> None:
        while self._waiting and len(self._sending) < _IN_FLIGHT:
            items, self._waiting = self._waiting[:_PER_REQUEST], self._waiting[_PER_REQUEST:]
            task = asyncio.ensure_future(self._send(items))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._flush()
        if self._idle is not None and not (self._waiting or self._sending):
            self._idle.set()

    async def _send(self, items: list[tuple[dict[str, Any], asyncio.Future[R]]]) -> None:
        try:
            rows = await self._post({"calls": [body for body, _ in items]})
        except Exception as exc:  # every caller in the batch hears why (DeskUnavailable, mostly)
            rows = [exc] * len(items)
        for (_, future), row in zip(items, rows, strict=True):
            if future.done():
                continue
            if isinstance(row, Exception):
                future.set_exception(row)
            elif isinstance(row, dict) and "error" in row:
                future.set_exception(_refusal(row["error"].get("status"), str(row["error"].get("detail"))))
            else:
                future.set_result(self._parse(row))

    async def close(self) -> None:
        waiting, self._waiting = self._waiting, []
        for _, future in waiting:
            if not future.done():
                future.set_exception(DeskUnavailable("the bridge is shutting down"))
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
