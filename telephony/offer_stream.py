"""New calls from a bridge in its own process to the server over one websocket, with HTTP behind it.

Each HTTP request cost the server's event loop 1-3 ms, so the bridge kept two offer requests out at a time and
the rest of a burst waited for their answers. Over the server's call stream (`/api/v1/telephony/calls/stream`,
ui/routes/offer_stream.py) the calls of each event-loop turn leave at once as one message, and the server
writes them while the rest of the burst is still arriving (docs/telephony.md, stop 15).

The server also sends notices (`{"notice": "taker.available"}`: a call-taker is ready, so the ACD should look
at the queue now). While anybody listens for them (`on_notice`) the stream is kept open, calls or not, and
opened again after it drops; without it the ACD's poll is the floor.

Never lose a call: a call whose answer does not come, because the stream cannot be opened, drops, answers
"try again" (5xx) or stays silent for `timeout`, goes by HTTP instead (`fallback`, which retries). Recording a
call is idempotent by channel, so a call sent both ways is recorded once. After the stream fails to open, the
bridge uses HTTP for `retry_s` before trying the stream again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import aiohttp
import orjson

from dispatch import jsontext
from telephony.http import LazySession

log = logging.getLogger(__name__)
R = TypeVar("R")
_PER_MESSAGE = 500  # the most the server takes in one message, as in one request
_REOPEN_S = 1.0  # a dropped stream is opened again this long after, for its notices
Item = tuple[dict[str, Any], "asyncio.Future[Any]"]


class OfferStream(Generic[R]):
    def __init__(
        self,
        http: LazySession,
        url: str,
        parse: Callable[[Any], R],
        fallback: Callable[[dict[str, Any]], Awaitable[R]],
        *,
        timeout: float,
        refused: Callable[[str], Exception],
        retry_s: float = 30.0,
    ) -> None:
        """`refused(why)` is the error a call gets when the server refuses it (a 4xx, which sending it again
        would not change) or when the bridge shuts down."""
        self._http, self._url, self._parse, self._fallback = http, url, parse, fallback
        self._timeout, self._retry_s, self._refused = timeout, retry_s, refused
        self._waiting: list[Item] = []  # asked for in this turn, not sent yet
        self._parked: list[Item] = []  # waiting for the stream to open
        self._out: dict[int, list[Item]] = {}  # sent, by message id
        self._ids = itertools.count(1)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._opening: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._http_until = 0.0  # the stream failed to open: HTTP until then (loop time)
        self._open = 0  # calls asked for and not answered yet
        self._idle: asyncio.Event | None = None
        self._closed = False
        self._listeners: dict[str, list[Callable[[], None]]] = {}  # notice -> who wants it

    async def __call__(self, body: dict[str, Any]) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._open += 1
        future.add_done_callback(self._answered)
        self._waiting.append((body, future))
        if len(self._waiting) == 1:
            loop.call_soon(self._flush)  # after the rest of this turn's calls
        return await future

    async def idle(self) -> None:
        """Return once every call asked for has its answer."""
        while self._open:
            self._idle = self._idle or asyncio.Event()
            self._idle.clear()
            await self._idle.wait()

    def on_notice(self, kind: str, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` (on the event loop) at every notice `kind` from the server; returns unsubscribe.
        Opens the stream now if it is not open: a notice must not wait for the next call."""
        self._listeners.setdefault(kind, []).append(listener)
        self._keep_open()
        return lambda: self._listeners.get(kind, []).remove(listener)

    def _keep_open(self) -> None:
        """Open the stream if somebody listens for notices and it is neither open nor opening."""
        if self._closed or not any(self._listeners.values()) or self.connected or self._opening is not None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._http_until:
            loop.call_at(self._http_until, self._keep_open)
        else:
            self._opening = asyncio.ensure_future(self._open_stream())

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed

    def _answered(self, _future: asyncio.Future[Any]) -> None:
        self._open -= 1
        if not self._open and self._idle is not None:
            self._idle.set()

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _flush(self) -> None:
        items, self._waiting = self._waiting, []
        if self._closed or not items:
            return
        if self._ws is not None and not self._ws.closed:
            self._send(self._ws, items)
        elif asyncio.get_running_loop().time() < self._http_until:
            self._by_http(items)
        else:
            self._parked.extend(items)
            if self._opening is None:
                self._opening = asyncio.ensure_future(self._open_stream())

    def _send(self, ws: aiohttp.ClientWebSocketResponse, items: list[Item]) -> None:
        """The calls in messages of `_PER_MESSAGE` at most, each with its own id and deadline."""
        for start in range(0, len(items), _PER_MESSAGE):
            number, part = next(self._ids), items[start : start + _PER_MESSAGE]
            self._out[number] = part
            text = jsontext.dumps({"id": number, "calls": [body for body, _ in part]})
            self._spawn(self._write(ws, number, text))
            asyncio.get_running_loop().call_later(self._timeout, self._overdue, number)

    async def _write(self, ws: aiohttp.ClientWebSocketResponse, number: int, text: str) -> None:
        try:
            await ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            log.warning("call stream: sending failed (%s); these calls go by HTTP", type(exc).__name__)
            self._by_http(self._out.pop(number, []))

    def _overdue(self, number: int) -> None:
        items = self._out.pop(number, None)
        if items:
            log.warning("call stream: no answer for %d calls in %.0f s; they go by HTTP", len(items), self._timeout)
            self._by_http(items)
            if self._ws is not None:  # a stream that stays silent is stuck: open a new one
                self._spawn(self._ws.close())

    async def _open_stream(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                ws = await self._http().ws_connect(self._url, heartbeat=30.0, max_msg_size=0)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            why = f"{exc.status}" if isinstance(exc, aiohttp.WSServerHandshakeError) else type(exc).__name__
            # Said once per outage: behind a proxy that refuses websockets this repeats every `retry_s`.
            level = logging.DEBUG if self._http_until else logging.WARNING
            log.log(level, "call stream unavailable (%s); new calls go by HTTP for %.0f s", why, self._retry_s)
            self._http_until = asyncio.get_running_loop().time() + self._retry_s
            parked, self._parked = self._parked, []
            self._by_http(parked)
            if any(self._listeners.values()):
                asyncio.get_running_loop().call_at(self._http_until, self._keep_open)
            return
        finally:
            self._opening = None
        if self._closed:
            await ws.close()
            return
        if self._http_until:
            log.info("call stream open again; new calls go over it")
            self._http_until = 0.0
        self._ws = ws
        self._reader = asyncio.ensure_future(self._read(ws))
        parked, self._parked = self._parked, []
        if parked:
            self._send(ws, parked)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    try:
                        answer = orjson.loads(message.data)
                    except orjson.JSONDecodeError:
                        log.warning("call stream: an answer that is not JSON, ignored")
                    else:
                        self._answer(answer)
        finally:
            if self._ws is ws:
                self._ws = None
            out, self._out = list(self._out.values()), {}
            if out and not self._closed:
                log.warning("call stream closed with calls unanswered; they go by HTTP")
            for items in out:
                self._by_http(items)
            if not self._closed:
                asyncio.get_running_loop().call_later(_REOPEN_S, self._keep_open)

    def _answer(self, message: Any) -> None:
        if isinstance(message, dict) and isinstance(message.get("notice"), str):
            for listener in list(self._listeners.get(message["notice"], [])):
                listener()
            return
        number = message.get("id") if isinstance(message, dict) else None
        items = self._out.pop(number, None) if isinstance(number, int) else None
        if items is None:
            return  # answered already by HTTP after a timeout, or an answer to nothing we asked
        try:
            error = message.get("error")
            if error is None:
                for (_, future), row in zip(items, message["calls"], strict=True):
                    if not future.done():
                        future.set_result(self._parse(row))
            elif 400 <= int(error.get("status", 500)) < 500:
                failure = f"{error.get('status')} {error.get('detail')}"
                for _, future in items:
                    if not future.done():
                        future.set_exception(self._refused(failure))
            else:
                self._by_http(items)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("call stream: an answer the bridge cannot read; %d calls go by HTTP", len(items))
            self._by_http(items)  # those not answered yet

    def _by_http(self, items: list[Item]) -> None:
        for body, future in items:
            if future.done():
                continue
            if self._closed:
                future.set_exception(self._refused("the bridge is shutting down"))
            else:
                self._spawn(self._http_one(body, future))

    async def _http_one(self, body: dict[str, Any], future: asyncio.Future[Any]) -> None:
        try:
            result = await self._fallback(body)
        except asyncio.CancelledError:
            if not future.done():
                future.set_exception(self._refused("the bridge is shutting down"))
            raise
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        self._closed = True
        if self._opening is not None:
            self._opening.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, future in [*self._waiting, *self._parked, *(i for items in self._out.values() for i in items)]:
            if not future.done():
                future.set_exception(self._refused("the bridge is shutting down"))
