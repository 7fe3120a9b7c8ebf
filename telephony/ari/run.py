"""Keeping the Stasis app connected: the events websocket with exponential backoff, reconcile on every
(re)connect and periodically, the fallback journal, and the ACD loop. Runs inside the server or as `tanggap ari`.

One bridge acts at a time. Asterisk gives an app to its newest events connection and tells the older one
`ApplicationReplaced` (and nothing else, ever again); so two bridges connected at once would take the app from
each other. The active bridge holds a lease in the database (dispatch/leases.py); another bridge waits as a
standby, not connected, until the lease runs out (the active one was killed), then connects and reconciles.
A bridge that is replaced anyway (a bridge of another installation, a misconfigured second server) stops
acting at once, says so in the log and `state`, gives the lease up and waits before trying again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable

import aiohttp

from config.settings import Settings
from telephony.ari.app import StasisApp
from telephony.ari.callback import CallbackDialer, port_for
from telephony.ari.client import AriClient, AriError
from telephony.ari.settings import AriOptions
from telephony.desk import CallDesk, DeskUnavailable, HttpDesk
from telephony.desk_journal import JournaledDesk
from telephony.spool import Spool

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
        port = port_for(desk)  # callbacks from the console (telephony/ari/callback.py), if the desk knows them
        self.callbacks = CallbackDialer(client, port, self.options) if port is not None else None
        self.connected = asyncio.Event()
        self.connections = 0
        self.reconciles = 0  # finished (or failed) reconciles: a test waits for the one each connection starts
        self.state = "starting"  # starting | active | standby | replaced | disconnected (for /healthz and the log)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_name = f"{self.options.install}-bridge"
        self._lease_lost = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] = lambda: None
        self._stream_drop: Callable[[], Awaitable[None]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, desk: CallDesk, options: AriOptions | None = None) -> AriBridge:
        """A bridge reaching the server over HTTP keeps what the server could not take in its journal
        (`TANGGAP_JOURNAL_DIR`/bridge.jsonl, telephony/desk_journal.py), replayed when the server answers again;
        one in the server's own process has no server to wait for."""
        if not settings.ari_url:
            raise ValueError("TANGGAP_ARI_URL is not set")
        password = settings.ari_password.get_secret_value() if settings.ari_password else ""
        client = AriClient(settings.ari_url, settings.ari_user, password, settings.ari_app)
        if isinstance(desk, HttpDesk):
            desk = JournaledDesk(desk, Spool(settings.journal_dir, "bridge"))
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
            asyncio.create_task(self._journal_loop(), name="ari-journal"),
        ]
        if self.callbacks is not None:
            self.callbacks.start(lambda: self.connected.is_set() and self.app.active)

    async def stop(self) -> None:
        self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.options.lease and self.state == "active":
            with contextlib.suppress(DeskUnavailable):
                await self.desk.release(self.lease_name, self.holder)  # a standby takes over at once
        await self.app.close()
        if self.callbacks is not None:
            await self.callbacks.close()
        await self.client.close()
        await self.desk.close()

    async def drop(self) -> None:
        """Close the current events connection (tests: the bridge must reconnect and reconcile)."""
        if self._stream_drop is not None:
            await self._stream_drop()

    async def _events(self) -> None:
        backoff = Backoff(self.options.backoff_initial_s, self.options.backoff_max_s)
        replaced = Backoff(max(self.options.lease_ttl_s, 1.0), self.options.backoff_max_s)
        while True:
            await self._until_leased()
            try:
                async with self.client.events() as stream:
                    self._stream_drop = stream.drop
                    self.connections += 1
                    log.info("ARI events connected to %s (app %s)", self.client.base, self.client.app)
                    backoff.reset()
                    self.state, self.app.active = "active", True
                    # Reconcile only once the websocket is up: from here on no event can slip between.
                    reconcile = asyncio.create_task(self._reconcile_once())
                    keeper = asyncio.create_task(self._keep_lease(stream.drop))
                    self.connected.set()
                    try:
                        async for event in stream:
                            if event.get("type") == "ApplicationReplaced":
                                await self._replaced()
                                break
                            if self.callbacks is None or not self.callbacks.take(event):
                                self.app.dispatch(event)
                    finally:
                        self.connected.clear()
                        self._stream_drop = None
                        reconcile.cancel()
                        keeper.cancel()
                if self.state == "replaced":
                    delay = replaced.next()
                    log.error(
                        "ARI app given to another connection: this bridge waits %.1f s before trying again", delay
                    )
                    await asyncio.sleep(delay)
                    continue
                if self._lease_lost.is_set():
                    continue  # another bridge holds the lease now: wait for it as a standby
                self.state = "disconnected"
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

    async def _until_leased(self) -> None:
        """Wait as a standby until this bridge holds the lease (at once when it is free)."""
        self._lease_lost.clear()
        if not self.options.lease:
            return
        poll = self.options.lease_ttl_s / 4
        announced = False
        while True:
            try:
                if await self.desk.lease(self.lease_name, self.holder, self.options.lease_ttl_s):
                    if announced:
                        log.warning("ARI bridge %s takes over: the active bridge stopped renewing", self.holder)
                    return
            except DeskUnavailable as exc:
                log.warning("bridge lease unavailable (%s); waiting", exc)
            except Exception:
                log.exception("asking for the bridge lease failed; waiting")  # never let the bridge die of it
            if not announced:
                announced = True
                self.state, self.app.active = "standby", False
                self.app.forget_all()
                log.info("ARI bridge %s is a standby: another bridge is active", self.holder)
            await asyncio.sleep(poll)

    async def _keep_lease(self, drop: Callable[[], Awaitable[None]]) -> None:
        """Renew the lease while active. Lost to another bridge (this one stalled past its time to live):
        stop acting and hang up the events connection, so the two never act on the same calls. A database
        that cannot be reached does not stop a connected bridge: callers come first."""
        if not self.options.lease:
            return
        while True:
            await asyncio.sleep(self.options.lease_ttl_s / 4)
            try:
                held = await self.desk.lease(self.lease_name, self.holder, self.options.lease_ttl_s)
            except DeskUnavailable as exc:
                log.warning("could not renew the bridge lease (%s); still acting", exc)
                continue
            except Exception:
                log.exception("renewing the bridge lease failed; still acting")
                continue
            if not held:
                log.error("ARI bridge %s lost its lease to another bridge: becoming a standby", self.holder)
                self.state, self.app.active = "standby", False
                self._lease_lost.set()
                await drop()
                return

    async def _replaced(self) -> None:
        """Asterisk gave our app to a newer connection: from now on this socket hears nothing, so act on
        nothing; let the lease go, so that a bridge of ours that replaced us holds it."""
        self.state, self.app.active = "replaced", False
        log.error(
            "ARI sent ApplicationReplaced: another connection took the app %s; this bridge stops acting on calls. "
            "Only one bridge may connect (TANGGAP_ARI_BRIDGE on one server, or `tanggap ari` standbys)",
            self.client.app,
        )
        self.app.forget_all()
        if self.options.lease:
            with contextlib.suppress(DeskUnavailable):
                await self.desk.release(self.lease_name, self.holder, "replaced")

    async def _journal_loop(self) -> None:
        """While calls the dialplan took are still going on, read the journal often, so their end is
        recorded within seconds of it."""
        while True:
            await asyncio.sleep(self.options.journal_interval_s)
            if self.connected.is_set() and self.app.active and self.app.fallback_open:
                with contextlib.suppress(Exception):
                    await self.app.read_journal()

    async def _reconcile_once(self) -> None:
        try:
            await self.app.reconcile()
        except (AriError, DeskUnavailable) as exc:
            log.warning("reconcile failed: %s", exc)
        except Exception:
            log.exception("reconcile failed")
        finally:
            self.reconciles += 1

    async def _periodic_reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.options.reconcile_interval_s)
            if self.connected.is_set() and self.app.active:
                await self._reconcile_once()


async def run_forever(bridge: AriBridge, stop: asyncio.Event) -> None:
    await bridge.start()
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await bridge.stop()
