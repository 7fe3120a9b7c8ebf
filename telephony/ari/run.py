"""Keeping the Stasis app connected: the events websocket with exponential backoff, reconcile on every
(re)connect and periodically, and the ACD loop. Runs inside the server or as `tanggap ari`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

import aiohttp

from config.settings import Settings
from telephony.ari.app import StasisApp
from telephony.ari.client import AriClient, AriError
from telephony.ari.settings import AriOptions
from telephony.desk import CallDesk, DeskUnavailable

log = logging.getLogger(__name__)
Stop = Callable[[], Awaitable[None]]


class Backoff:
    """0.5 s, 1 s, 2 s ... up to a ceiling, with jitter so that restarted bridges do not stampede."""

    def __init__(self, initial: float, ceiling: float) -> None:
        self.initial, self.ceiling, self.current = initial, ceiling, initial

    def next(self) -> float:
        delay = self.current
        self.current = min(self.current * 2, self.ceiling)
        return delay * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self.current = self.initial


class AriBridge:
    def __init__(self, client: AriClient, desk: CallDesk, options: AriOptions | None = None) -> None:
        self.client, self.desk = client, desk
        self.options = options or AriOptions()
        self.app = StasisApp(client, desk, self.options)
        self.connected = asyncio.Event()
        self.connections = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] = lambda: None
        self._stream_drop: Callable[[], Awaitable[None]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, desk: CallDesk, options: AriOptions | None = None) -> AriBridge:
        if not settings.ari_url:
            raise ValueError("TANGGAP_ARI_URL is not set")
        password = settings.ari_password.get_secret_value() if settings.ari_password else ""
        client = AriClient(settings.ari_url, settings.ari_user, password, settings.ari_app)
        return cls(client, desk, options)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def kick() -> None:  # called from the thread that committed the event
            loop.call_soon_threadsafe(self.app.kick)

        self._unsubscribe = self.desk.on_taker_ready(kick)
        self._tasks = [
            asyncio.create_task(self._events(), name="ari-events"),
            asyncio.create_task(self.app.acd_loop(), name="ari-acd"),
            asyncio.create_task(self._periodic_reconcile(), name="ari-reconcile"),
        ]

    async def stop(self) -> None:
        self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.app.close()
        await self.client.close()
        await self.desk.close()

    async def drop(self) -> None:
        """Close the current events connection (tests: the bridge must reconnect and reconcile)."""
        if self._stream_drop is not None:
            await self._stream_drop()

    async def _events(self) -> None:
        backoff = Backoff(self.options.backoff_initial_s, self.options.backoff_max_s)
        while True:
            try:
                async with self.client.events() as stream:
                    self._stream_drop = stream.drop
                    self.connections += 1
                    log.info("ARI events connected to %s (app %s)", self.client.base, self.client.app)
                    backoff.reset()
                    # Reconcile only once the websocket is up: from here on no event can slip between.
                    reconcile = asyncio.create_task(self._reconcile_once())
                    self.connected.set()
                    try:
                        async for event in stream:
                            self.app.dispatch(event)
                    finally:
                        self.connected.clear()
                        self._stream_drop = None
                        reconcile.cancel()
                log.warning("ARI events connection closed by Asterisk")
            except aiohttp.WSServerHandshakeError as exc:
                log.error(
                    "ARI refused the events connection (HTTP %s): check TANGGAP_ARI_USER/PASSWORD and ari.conf",
                    exc.status,
                )
            except (OSError, TimeoutError, aiohttp.ClientError) as exc:
                log.warning("ARI events connection lost: %s", type(exc).__name__)
            delay = backoff.next()
            log.info("reconnecting to ARI in %.1f s", delay)
            await asyncio.sleep(delay)

    async def _reconcile_once(self) -> None:
        try:
            await self.app.reconcile()
        except (AriError, DeskUnavailable) as exc:
            log.warning("reconcile failed: %s", exc)
        except Exception:
            log.exception("reconcile failed")

    async def _periodic_reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.options.reconcile_interval_s)
            if self.connected.is_set():
                await self._reconcile_once()


async def run_forever(bridge: AriBridge, stop: asyncio.Event) -> None:
    await bridge.start()
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await bridge.stop()
