"""Starting the telephony services: inside `tanggap serve`, or as their own process (`tanggap ari`).

`start_in_process(ctx)` is called from the app's lifespan with the server's context; it starts what the
settings enable (the ARI bridge and FastAGI when TANGGAP_ARI_BRIDGE is true, SMS alerts when Twilio is
configured)
and returns an async stop function, or None when nothing is enabled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from config.settings import Settings
from dispatch.events.bus import EventBus
from telephony import twilio_voice
from telephony.agi import FastAgiServer, lookup_via
from telephony.ari.run import AriBridge
from telephony.desk import CallDesk, HttpDesk

if TYPE_CHECKING:  # the server's side; `tanggap ari` (main_remote) loads no ORM, so it starts faster
    from sqlalchemy.orm import Session, sessionmaker

    from dispatch.context import Region
    from telephony.desk_local import InProcessDesk

log = logging.getLogger(__name__)
Stop = Callable[[], Awaitable[None]]


class ServerContext(Protocol):
    settings: Settings
    region: Region
    sessions: sessionmaker[Session]
    bus: EventBus


def server_desk(ctx: ServerContext) -> InProcessDesk:
    """The server's one call desk: its writer thread serves the in-process bridge and the HTTP telephony API
    (a bridge in its own process), so every call, however it arrives, is written by one thread in batches."""
    from telephony.desk_local import InProcessDesk

    return InProcessDesk(ctx.sessions, ctx.region.policy, ctx.bus, region=ctx.region.pack.code)


async def start_in_process(ctx: ServerContext, desk: Callable[[], InProcessDesk] | None = None) -> Stop | None:
    """`desk` gives the server's call desk, made only if the bridge needs it (a writer thread each)."""
    settings = ctx.settings
    stops: list[Stop] = []
    twilio_voice.log_status(settings)
    if twilio_voice.sms_enabled(settings):
        from telephony.sms import SmsNotifier

        topics = {t.code: t.name for t in ctx.region.pack.topics}
        notifier = SmsNotifier.from_settings(settings, ctx.sessions, topics=topics)
        notifier.start(ctx.bus)
        stops.append(notifier.stop)
    if settings.ari_bridge and settings.ari_url:
        stops.extend(await _start_pbx(settings, desk() if desk else server_desk(ctx)))
    elif settings.ari_bridge:
        log.error("TANGGAP_ARI_BRIDGE is set but TANGGAP_ARI_URL is not: no Asterisk bridge in this server")
    else:
        log.info("no Asterisk bridge in this server (TANGGAP_ARI_BRIDGE off; `tanggap ari` runs it on its own)")
    if not stops:
        return None

    async def stop() -> None:
        for step in reversed(stops):
            with contextlib.suppress(Exception):
                await step()

    return stop


async def _start_pbx(settings: Settings, desk: CallDesk) -> list[Stop]:
    bridge = AriBridge.from_settings(settings, desk)
    await bridge.start()
    stops: list[Stop] = [bridge.stop]
    agi = start_agi(settings, desk)
    if agi is not None:

        async def stop_agi() -> None:
            await asyncio.to_thread(agi.stop)

        stops.append(stop_agi)
    return stops


def start_agi(settings: Settings, desk: CallDesk) -> FastAgiServer | None:
    """FastAGI next to the bridge; a port already taken is logged, never fatal for the server."""
    try:
        server = FastAgiServer(
            settings.agi_host, settings.agi_port, lookup_via(desk.triage, asyncio.get_running_loop())
        )
    except OSError as exc:
        log.error("FastAGI not started on %s:%s: %s", settings.agi_host, settings.agi_port, exc)
        return None
    server.start()
    return server


def main_remote(settings: Settings, api_url: str, token: str) -> None:
    """Run the ARI bridge and FastAGI as their own process, talking to the server at `api_url`.

    On uvloop where it is installed (uvicorn[standard] brings it; the server runs on it too): the bridge is all
    event-loop work, and the benchmark's own processes kept up far better on it than on asyncio's loop.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(_remote(settings, api_url, token))
    else:
        uvloop.run(_remote(settings, api_url, token))


async def _remote(settings: Settings, api_url: str, token: str) -> None:
    if not settings.ari_url:
        raise SystemExit("TANGGAP_ARI_URL is not set")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    desk = HttpDesk(api_url, token)
    stops = await _start_pbx(settings, desk)
    log.info("telephony bridge running against %s", api_url)
    try:
        await stop.wait()
    finally:
        for step in reversed(stops):
            with contextlib.suppress(Exception):
                await step()
