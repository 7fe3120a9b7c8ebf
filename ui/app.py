"""The FastAPI application: routes, error table, middleware, and optional telephony in the same process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from fastapi import FastAPI

from config.settings import Settings, load_settings
from ui import errors
from ui.context import Ctx, build
from ui.middleware import BodyLimit, SecurityHeaders
from ui.routes import auth, calls, incidents, system, units
from ui.stream import router as stream_router

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, ctx: Ctx | None = None) -> FastAPI:
    settings = settings or (ctx.settings if ctx else load_settings())
    ctx = ctx or build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stops: list[Callable[[], object]] = []
        for starter in _extensions():
            stop = await starter(ctx)
            if stop is not None:
                stops.append(stop)
        try:
            yield
        finally:
            for stop in reversed(stops):
                result = stop()
                if hasattr(result, "__await__"):
                    await result  # type: ignore[misc]

    app = FastAPI(title="Tanggap 112", version="0.1.0", lifespan=lifespan)
    app.state.ctx = ctx
    errors.install(app)
    for module in (system, auth, calls, incidents, units):
        app.include_router(module.router)
    app.include_router(stream_router)
    for router in _optional_routers():
        app.include_router(router)
    tiles = settings.tile_url
    tile_origin = f"{urlsplit(tiles).scheme}://{urlsplit(tiles).netloc}" if tiles else None
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, tile_origin=tile_origin)
    return app


def _optional_routers() -> list[object]:
    """Routers of other areas, included when their modules are present."""
    found = []
    for name in ("ui.routes.geo", "ui.routes.telephony", "ui.routes.reports", "ui.pages"):
        try:
            module = __import__(name, fromlist=["router"])
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        found.append(module.router)
    return found


def _extensions() -> list[Callable[[Ctx], object]]:
    """Background services started with the app (the ARI bridge when configured)."""
    found = []
    try:
        from telephony.run import start_in_process
    except ModuleNotFoundError:
        return found
    found.append(start_in_process)
    return found  # type: ignore[return-value]
