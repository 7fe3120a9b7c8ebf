"""The FastAPI application: routes, error table, middleware, and optional telephony in the same process."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from urllib.parse import urlsplit

from fastapi import FastAPI

from config.settings import Settings, load_settings
from dispatch.clock import utcnow
from dispatch.incidents import escalation
from telephony.run import start_in_process
from ui import audit, errors, pages, stream
from ui.alert_feed import poll_forever as poll_cap_feed
from ui.context import Ctx, build
from ui.desk import close_desk, desk_of
from ui.middleware import BodyLimit, SecurityHeaders
from ui.recent_tokens import RecentTokens
from ui.routes import alerts as alert_routes
from ui.routes import audit as audit_routes
from ui.routes import (
    auth,
    calls,
    demo,
    geo,
    incidents,
    location_link,
    offer_stream,
    opd,
    reports,
    system,
    telephony,
    units,
)
from ui.routes import callbacks as callback_routes
from ui.routes import major as major_routes
from ui.routes import places as place_routes
from ui.simulator import Simulator, simulate_forever, simulator_of
from ui.twilio_journal import journal_of

log = logging.getLogger(__name__)
# How long a thread may hold the GIL while another waits for it. Database work runs in threads (the call desk's
# writer, the API's sync routes) while the event loop feeds the consoles and the PBX; at Python's default of
# 5 ms each statement of a new call could wait that long, which measured p99 ~95 ms to record a call in a
# burst instead of ~20 ms at 1 ms (scripts/bench_calls.py). The call desk's writer also serves a bridge in its
# own process, so this holds for every server, not only one with the bridge inside.
_SWITCH_S = 0.001


def settle_heap() -> None:
    """Put what start-up built (region pack, routes, ORM mappers: ~120k objects) out of the collector's way.

    A full collection walks every tracked object with the event loop stopped: under load it took 77-115 ms
    every ~20 s and held every console's events back by as much (scripts/bench_calls.py). Frozen objects are
    never collected, which is right for these: they live as long as the app. Later objects are collected as
    usual, and `gc.unfreeze()` at shutdown hands everything back (tests start many apps in one process).
    """
    gc.collect()
    gc.freeze()


async def escalate_forever(ctx: Ctx, stop: asyncio.Event, *, clock: Callable[[], datetime] = utcnow) -> None:
    """Escalate unacknowledged assignments every `escalation_check_s` until `stop` is set.

    The server decides, not the dispatcher's browser: with no console open a late unit is still escalated.
    Every server process runs this; the assignment's marker makes each escalation happen once. A pass that
    fails is logged and the next one tries again: the loop must outlive a database that blinked.
    """

    def one_pass() -> list[int]:
        with ctx.sessions() as session:
            return escalation.escalate_due(session=session, region=ctx.region, now=clock())

    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), ctx.settings.escalation_check_s)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(one_pass)  # a pass in progress finishes before shutdown goes on
        except Exception:
            log.exception("escalation pass failed; trying again in %.0f s", ctx.settings.escalation_check_s)


def create_app(settings: Settings | None = None, *, ctx: Ctx | None = None) -> FastAPI:
    settings = settings or (ctx.settings if ctx else load_settings())
    ctx = ctx or build(settings, server=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The ARI bridge, FastAGI and SMS alerts, when configured; the bridge shares the API's call desk.
        stop = await start_in_process(ctx, lambda: desk_of(app))
        stop_escalating = asyncio.Event()
        escalating = asyncio.create_task(escalate_forever(ctx, stop_escalating))
        # Twilio webhooks the database could not take, replayed once it can (ui/twilio_journal.py).
        stop_replaying = asyncio.Event()
        replaying = asyncio.create_task(journal_of(app).replay_forever(stop_replaying))
        # The demo's simulated calls (TANGGAP_SIMULATE=true, ui/simulator.py).
        stop_simulating = asyncio.Event()
        sim = simulator_of(app)
        simulating = asyncio.create_task(simulate_forever(sim, stop_simulating)) if sim is not None else None
        # Public alerts polled from a CAP feed (TANGGAP_CAP_FEED_URL, ui/alert_feed.py); a failed poll only warns.
        stop_polling = asyncio.Event()
        polling = asyncio.create_task(poll_cap_feed(ctx, stop_polling)) if settings.cap_feed_url else None
        # Rows of the access audit from views, written together once a second (ui/audit.py).
        stop_auditing = asyncio.Event()
        auditing = asyncio.create_task(audit.flush_forever(audit.buffer_of(app), stop_auditing))
        settle_heap()
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, _SWITCH_S))
        try:
            yield
        finally:
            stop_escalating.set()
            await escalating
            stop_replaying.set()
            await replaying
            stop_simulating.set()
            if simulating is not None:
                await simulating
            stop_polling.set()
            if polling is not None:
                await polling
            stop_auditing.set()
            await auditing  # after the requests: their last rows are written
            gc.unfreeze()
            sys.setswitchinterval(switch)
            stream.close(app)
            if stop is not None:
                await stop()
            await close_desk(app)

    # /docs is ui.pages' (local Swagger files, staff only); FastAPI's own would load them from a CDN, for anyone.
    app = FastAPI(title="Tanggap 112", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.ctx = ctx
    app.state.recent_tokens = RecentTokens()
    app.state.simulator = Simulator.for_region(ctx) if settings.simulate else None
    app.state.access_audit = audit.Buffer(ctx.sessions)
    errors.install(app)
    routers = (system, auth, audit_routes, calls, incidents, units, geo, reports, opd, telephony, offer_stream, pages)
    for module in routers:
        app.include_router(module.router)
    app.include_router(demo.router)
    app.include_router(location_link.router)
    app.include_router(callback_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(place_routes.router)
    app.include_router(major_routes.router)
    app.include_router(stream.router)
    tiles = settings.tile_url
    tile_origin = f"{urlsplit(tiles).scheme}://{urlsplit(tiles).netloc}" if tiles else None
    app.add_middleware(audit.AuditMiddleware)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, tile_origin=tile_origin)
    return app
