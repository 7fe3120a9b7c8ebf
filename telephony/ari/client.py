"""A thin ARI client: REST and the events websocket on aiohttp, every wait under `asyncio.timeout`."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import aiohttp
import orjson
from yarl import URL

from telephony.http import LazySession

log = logging.getLogger(__name__)
_POOL = 16  # REST connections to Asterisk (each is a thread in Asterisk's HTTP server)
_PING_S = 20  # the events websocket is pinged this often; no answer within half of it drops the connection

Json = dict[str, Any]


class AriError(Exception):
    """Asterisk refused a request (or could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"ARI {status}: {message}")
        self.status, self.message = status, message


class AriNotFound(AriError):
    """The channel, bridge or playback is gone: usually the caller hung up meanwhile."""


class AriConflict(AriError):
    """409: the thing exists already (a bridge id), or the channel is not in our Stasis app."""


def _gone(status: int, message: str) -> bool:
    """404, 422 (the channel left Stasis meanwhile) and 400 "Channel not found" (what Asterisk 22 answers to
    addChannel/removeChannel for a channel that hung up) all mean: it is gone."""
    return status in (404, 422) or (status == 400 and message == "Channel not found")


def ari_base(url: str) -> str:
    """`http://pbx:8088` and `http://pbx:8088/ari/` both mean `http://pbx:8088/ari`."""
    url = url.rstrip("/")
    return url if url.endswith("/ari") else url + "/ari"


class AriClient:
    """REST calls and the events connection of one Stasis application.

    REST goes through aiohttp: a caller costs about ten requests (answer, hold, greeting, ring, bridge,
    record, hang-ups), all on the event loop that also serves the consoles. httpx spent ~1.45 ms of CPU per
    request here (its pool looks at every connection for each request), aiohttp ~0.12 ms; in a burst of 200
    callers that was most of the server's time (measured with py-spy; scripts/bench_calls.py).
    """

    def __init__(self, url: str, user: str, password: str, app: str, *, timeout: float = 5.0) -> None:
        self.base, self.app, self.timeout = ari_base(url), app, timeout
        self._user, self._password = user, password
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        # One more connection than the REST pool: the events websocket holds one for as long as it is open.
        self._http = LazySession({"Authorization": f"Basic {token}"}, connections=_POOL + 1, timeout=timeout)

    def _url(self, path: str) -> URL:
        return URL(self.base + path, encoded=True)  # path parts are quoted by the callers

    async def close(self) -> None:
        await self._http.close()

    # -- REST -------------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **params: Any) -> Any:
        query = {k: _param(v) for k, v in params.items() if v is not None}
        try:
            async with asyncio.timeout(self.timeout):
                async with self._http().request(method, self._url(path), params=query) as response:
                    status, reason, body = response.status, response.reason, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AriError(0, f"{method} {path}: {type(exc).__name__}") from exc
        if status >= 400:
            message = _message(body, reason, status)
            if _gone(status, message):
                raise AriNotFound(status, message)
            raise (AriConflict if status == 409 else AriError)(status, message)
        if status == 204 or not body:
            return None
        return orjson.loads(body)

    async def channels(self) -> list[Json]:
        result: list[Json] = await self._request("GET", "/channels")
        return result

    async def channel(self, channel_id: str) -> Json:
        result: Json = await self._request("GET", f"/channels/{quote(channel_id)}")
        return result

    async def answer(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{quote(channel_id)}/answer")

    async def play(
        self, channel_id: str, media: str | Sequence[str], *, playback_id: str | None = None, lang: str | None = None
    ) -> Json:
        path = f"/channels/{quote(channel_id)}/play" + (f"/{quote(playback_id)}" if playback_id else "")
        result: Json = await self._request("POST", path, media=media, lang=lang)
        return result

    async def stop_playback(self, playback_id: str) -> None:
        await self._request("DELETE", f"/playbacks/{quote(playback_id)}")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self._request("DELETE", f"/channels/{quote(channel_id)}", reason=reason)

    async def originate(
        self, *, endpoint: str, app_args: str, channel_id: str, caller_id: str | None = None, timeout_s: int = 20
    ) -> Json:
        """Ring a phone; when it answers it enters our Stasis app with `app_args`."""
        result: Json = await self._request(
            "POST",
            "/channels",
            endpoint=endpoint,
            app=self.app,
            appArgs=app_args,
            channelId=channel_id,
            callerId=caller_id,
            timeout=timeout_s,
        )
        return result

    async def create_bridge(self, bridge_id: str, kind: str = "mixing", name: str | None = None) -> Json:
        """Create the bridge with this id; Asterisk answers 409 (AriConflict) if it exists already."""
        result: Json = await self._request("POST", f"/bridges/{quote(bridge_id)}", type=kind, name=name)
        return result

    async def ensure_bridge(self, bridge_id: str, kind: str = "mixing", name: str | None = None) -> Json:
        """The bridge with this id and type, made if missing. Asterisk answers 409 for an id that exists (it
        never returns the existing bridge), so a 409 is read back; one of another type (a mixing bridge where
        waiting callers would hear each other) is destroyed and made again."""
        for _ in range(3):
            try:
                return await self.create_bridge(bridge_id, kind, name)
            except AriConflict:
                try:
                    found = await self.bridge(bridge_id)
                except AriNotFound:
                    continue  # destroyed between the two requests: create it again
                if found.get("bridge_type") == kind:
                    return found
                log.error(
                    "bridge %s is a %s bridge, not %s: making it again", bridge_id, found.get("bridge_type"), kind
                )
                await self.destroy_bridge(bridge_id)
        raise AriError(409, f"bridge {bridge_id} could not be made")

    async def bridge(self, bridge_id: str) -> Json:
        result: Json = await self._request("GET", f"/bridges/{quote(bridge_id)}")
        return result

    async def bridges(self) -> list[Json]:
        result: list[Json] = await self._request("GET", "/bridges")
        return result

    async def variable(self, channel_id: str, name: str) -> str | None:
        """A channel variable or dialplan function read on a channel (`DB_KEYS(family)`...); None if unset."""
        try:
            result: Json = await self._request("GET", f"/channels/{quote(channel_id)}/variable", variable=name)
        except AriNotFound as exc:
            if exc.message == "Provided variable was not found":
                return None
            raise
        return str(result.get("value", ""))

    async def originate_dialplan(self, *, endpoint: str, context: str, extension: str, channel_id: str) -> Json:
        """A channel that runs our dialplan (not our Stasis app), e.g. a Local channel to read the journal."""
        result: Json = await self._request(
            "POST", "/channels", endpoint=endpoint, context=context, extension=extension, priority=1,
            channelId=channel_id,
        )  # fmt: skip
        return result

    async def add_channel(self, bridge_id: str, channels: str | Sequence[str]) -> None:
        await self._request("POST", f"/bridges/{quote(bridge_id)}/addChannel", channel=channels)

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        await self._request("POST", f"/bridges/{quote(bridge_id)}/removeChannel", channel=channel_id)

    async def start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self._request("POST", f"/bridges/{quote(bridge_id)}/moh", mohClass=moh_class)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._request("DELETE", f"/bridges/{quote(bridge_id)}")

    async def record_bridge(self, bridge_id: str, name: str, fmt: str = "wav") -> Json:
        """Record the whole conversation. (Recording a bridged channel fails: Asterisk wants the bridge.)"""
        result: Json = await self._request(
            "POST",
            f"/bridges/{quote(bridge_id)}/record",
            name=name,
            format=fmt,
            ifExists="fail",
            beep="false",
            terminateOn="none",
        )
        return result

    async def record_channel(self, channel_id: str, name: str, fmt: str = "wav") -> Json:
        result: Json = await self._request(
            "POST", f"/channels/{quote(channel_id)}/record", name=name, format=fmt, ifExists="fail"
        )
        return result

    @asynccontextmanager
    async def recording_file(self, name: str) -> AsyncIterator[Recording]:
        """Stream a stored recording; raises AriNotFound if there is none."""
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http().get(self._url(f"/recordings/stored/{quote(name)}/file"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AriError(0, f"recording {name}: {type(exc).__name__}") from exc
        try:
            if response.status == 404:
                raise AriNotFound(404, "recording not found")
            if response.status >= 400:
                raise AriError(response.status, "recording not available")
            yield Recording(response)
        finally:
            response.release()

    # -- events -----------------------------------------------------------------------------------------

    def events_url(self) -> str:
        parts = urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        key = quote(f"{self._user}:{self._password}", safe=":")
        query = f"app={quote(self.app)}&api_key={key}&subscribeAll=false"
        return urlunsplit((scheme, parts.netloc, parts.path + "/events", query, ""))

    @asynccontextmanager
    async def events(self, *, open_timeout: float = 5.0) -> AsyncIterator[EventStream]:
        """One connection of the events websocket; leaving the block closes it.

        On aiohttp, whose frame reader is compiled: each event cost ~45 us of the event loop's CPU with the
        `websockets` client and ~14 us here (both with json.loads), and a caller brings about ten events. Parsed
        by orjson: a StasisStart took ~5.6 us with json.loads and ~2.2 us with it.
        No permessage-deflate: the events are small JSON on a LAN."""
        async with asyncio.timeout(open_timeout):
            ws = await self._http().ws_connect(
                URL(self.events_url(), encoded=True),
                heartbeat=_PING_S,
                max_msg_size=2**22,
                compress=0,
                timeout=aiohttp.ClientWSTimeout(ws_close=1),
            )
        try:
            yield EventStream(ws)
        finally:
            await ws.close()


class EventStream:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws

    def __aiter__(self) -> AsyncIterator[Json]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Json]:
        async for message in self._ws:  # ends when the connection closes
            if message.type == aiohttp.WSMsgType.ERROR:
                raise ConnectionError(f"ARI events connection failed: {message.data!r}")
            try:
                event = orjson.loads(message.data) if message.type == aiohttp.WSMsgType.TEXT else None
            except ValueError:
                event = None
            if isinstance(event, dict):
                yield event
            else:
                log.warning("ARI sent a frame that is not a JSON object; ignored")

    async def drop(self) -> None:
        await self._ws.close()


def _param(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _message(body: bytes, reason: str | None, status: int) -> str:
    try:
        parsed = orjson.loads(body)
    except ValueError:
        return reason or str(status)
    return str(parsed.get("message", parsed)) if isinstance(parsed, dict) else str(parsed)


class Recording:
    """A stored recording on its way from Asterisk: its media type and its bytes, in chunks or whole."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.content_type = response.headers.get("Content-Type", "audio/wav")

    async def chunks(self, size: int = 64 * 1024) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_chunked(size):
            yield chunk

    async def read(self) -> bytes:
        return await self._response.read()
