"""A thin ARI client: REST on httpx, the events websocket on `websockets`, every wait under `asyncio.timeout`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect

log = logging.getLogger(__name__)
_POOL = 16  # REST connections to Asterisk (see AriClient.__init__)

Json = dict[str, Any]


class AriError(Exception):
    """Asterisk refused a request (or could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"ARI {status}: {message}")
        self.status, self.message = status, message


class AriNotFound(AriError):
    """The channel, bridge or playback is gone: usually the caller hung up meanwhile."""


def ari_base(url: str) -> str:
    """`http://pbx:8088` and `http://pbx:8088/ari/` both mean `http://pbx:8088/ari`."""
    url = url.rstrip("/")
    return url if url.endswith("/ari") else url + "/ari"


class AriClient:
    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        app: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base, self.app, self.timeout = ari_base(url), app, timeout
        self._user, self._password = user, password
        # A small pool: httpcore looks at every pooled connection (and asks each socket whether it is
        # readable) for every request it assigns, so with 64 connections a burst of 200 callers spent more
        # of the event loop in the pool than anywhere else (measured with py-spy). With 8, requests queued so
        # long that ~70 of the 200 burst callers' answer/hold steps hit the 5 s timeout; 16 left ~6 at the
        # same latency (scripts/bench_calls.py).
        self._http = httpx.AsyncClient(
            base_url=self.base,
            auth=(user, password),
            transport=transport,
            limits=httpx.Limits(max_connections=_POOL, max_keepalive_connections=_POOL),
            timeout=timeout,
        )

    async def close(self) -> None:
        await self._http.aclose()

    # -- REST -------------------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **params: Any) -> Any:
        query = {k: _param(v) for k, v in params.items() if v is not None}
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http.request(method, path, params=query)
        except (httpx.TransportError, TimeoutError) as exc:
            raise AriError(0, f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code in (404, 422):  # 422: the channel left Stasis (hung up) meanwhile
            raise AriNotFound(response.status_code, _message(response))
        if response.status_code >= 400:
            raise AriError(response.status_code, _message(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

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
        """Create (or fetch, if it exists) the bridge with this id."""
        result: Json = await self._request("POST", f"/bridges/{quote(bridge_id)}", type=kind, name=name)
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
    async def recording_file(self, name: str) -> AsyncIterator[httpx.Response]:
        """Stream a stored recording (the caller reads `aiter_bytes()`); raises AriNotFound if there is none."""
        request = self._http.build_request("GET", f"/recordings/stored/{quote(name)}/file")
        async with asyncio.timeout(self.timeout):
            response = await self._http.send(request, stream=True)
        try:
            if response.status_code == 404:
                raise AriNotFound(404, "recording not found")
            if response.status_code >= 400:
                raise AriError(response.status_code, "recording not available")
            yield response
        finally:
            await response.aclose()

    # -- events -----------------------------------------------------------------------------------------

    def events_url(self) -> str:
        parts = urlsplit(self.base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        key = quote(f"{self._user}:{self._password}", safe=":")
        query = f"app={quote(self.app)}&api_key={key}&subscribeAll=false"
        return urlunsplit((scheme, parts.netloc, parts.path + "/events", query, ""))

    @asynccontextmanager
    async def events(self, *, open_timeout: float = 5.0) -> AsyncIterator[EventStream]:
        """One connection of the events websocket; leaving the block closes it."""
        async with asyncio.timeout(open_timeout):
            ws = await connect(
                self.events_url(), open_timeout=None, ping_interval=20, ping_timeout=20, max_size=2**22, close_timeout=1
            )
        try:
            yield EventStream(ws)
        finally:
            await ws.close()


class EventStream:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    def __aiter__(self) -> AsyncIterator[Json]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Json]:
        async for message in self._ws:
            try:
                event = json.loads(message)
            except ValueError:
                log.warning("ARI sent a frame that is not JSON; ignored")
                continue
            if isinstance(event, dict):
                yield event

    async def drop(self) -> None:
        await self._ws.close()


def _param(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or str(response.status_code)
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)
