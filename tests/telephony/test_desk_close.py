"""Closing the in-server call desk (a server shutting down) waits for the writes already handed to its writer
thread: a caller recorded a moment before the shutdown reaches the database, and nothing writes into a database
after its owner has let go of it."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy.orm import Session

from telephony.desk_local import InProcessDesk
from ui.context import Ctx


async def test_close_waits_for_the_writes_handed_over(ctx: Ctx) -> None:
    desk = InProcessDesk(ctx.sessions, ctx.region.policy)
    gate, written = threading.Event(), threading.Event()

    def slow(_session: Session) -> None:
        gate.wait(10)  # the writer is busy with it when close() is called
        written.set()

    work = asyncio.ensure_future(desk.run(slow))
    await asyncio.sleep(0)  # run() hands the job to the writer
    threading.Timer(0.2, gate.set).start()
    await desk.close()
    assert written.is_set()
    await work
