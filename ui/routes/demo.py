"""The demo's call simulator on demand: a supervisor or admin rings one simulated call (ui/simulator.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict

from dispatch.calls import service as calls
from ui import idempotent
from ui.deps import DB, CtxDep, Supervisor, shown
from ui.simulator import simulator_of

router = APIRouter(prefix="/api/v1/demo", tags=["demo"])
OFF = "the call simulator is off: start the server with TANGGAP_SIMULATE=true (tanggap demo --simulate)"


class RingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["emergency", "prank", "silent", "information", "complaint"] | None = None  # None: by the mix


@router.post("/ring", status_code=201)
def ring(request: Request, ctx: CtxDep, db: DB, user: Supervisor, body: RingIn | None = None) -> Any:
    """Ring one simulated call now, of the kind asked for or drawn by the call mix (409 when the server does
    not simulate calls). It rings for the call-takers like any call."""
    sim = simulator_of(request.app)
    if sim is None:
        raise HTTPException(409, OFF)
    kind = body.kind if body else None

    def action() -> Any:
        return shown(ctx, user, calls.data(sim.ring(session=db, kind=kind)))

    return idempotent.run(request, db, user, action, status=201)
