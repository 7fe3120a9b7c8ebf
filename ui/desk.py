"""The server's call desk (see `telephony.run.server_desk`), made on first use and closed with the app."""

from __future__ import annotations

from fastapi import FastAPI

from telephony.desk_local import InProcessDesk
from telephony.run import server_desk


def desk_of(app: FastAPI) -> InProcessDesk:
    desk: InProcessDesk | None = getattr(app.state, "desk", None)
    if desk is None:  # only ever called on the event loop, so two requests cannot both make one
        desk = app.state.desk = server_desk(app.state.ctx)
    return desk


async def close_desk(app: FastAPI) -> None:
    desk: InProcessDesk | None = getattr(app.state, "desk", None)
    if desk is not None:
        app.state.desk = None
        await desk.close()
