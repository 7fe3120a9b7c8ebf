"""Health, the event log over HTTP, users and the region's metadata."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dispatch import leases
from dispatch.bounds import Seq
from dispatch.events import service as events
from dispatch.events.bus import health
from dispatch.users import service as users
from telephony.ari.settings import AriOptions
from ui.deps import DB, Admin, AnyUser, CtxDep, Staff, shown
from ui.routes.auth import me_data
from ui.routes.calls import sms_sender
from ui.simulator import simulator_of
from ui.twilio_journal import journal_of

log = logging.getLogger(__name__)
router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz(request: Request, ctx: CtxDep) -> Any:
    """Up; the database ("ok"/"down") and the event bus ("ok", "degraded": deaf to the other servers and
    delivering from the event log, "down") apart; the Twilio journal ("ok", "degraded": webhooks wait in it to
    be replayed, "down": it cannot be written, and a webhook the database cannot take is lost; with how many
    wait and why it cannot be written); and which ARI bridge acts: the holder of the bridge lease (a
    `tanggap ari` process or a server with TANGGAP_ARI_BRIDGE) and until when; none while every bridge is down,
    waiting, or was replaced. 200 while the database answers, 503 when it does not."""
    bus = health(ctx.bus)
    journal = journal_of(request.app).health()
    head = {"region": ctx.region.pack.code, "dialect": ctx.engine.dialect.name, "bus": bus,
            "bus_publish_failures": getattr(ctx.bus, "publish_failures", 0) + events.publish_failures,
            "journal": journal}  # fmt: skip
    try:
        with ctx.sessions() as db:
            db.execute(text("SELECT 1"))
            lease = leases.current(session=db, name=f"{AriOptions().install}-bridge")
    except SQLAlchemyError as exc:
        log.warning("health check: the database is down (%s)", type(exc).__name__)
        return JSONResponse({"status": "down", **head, "database": "down"}, status_code=503)
    bridge: dict[str, Any] = {"active": lease.holder if lease.live else None}
    if lease.live:
        bridge["until"] = lease.expires_at.isoformat()
    elif lease.holder:  # why nobody acts: the last bridge stopped, was replaced, or stopped renewing (died)
        bridge["last"] = {"holder": lease.holder, "state": lease.state if lease.state != "active" else "expired",
                          "since": lease.expires_at.isoformat()}  # fmt: skip
    status = "ok" if bus == "ok" and journal["status"] == "ok" else "degraded"
    return {"status": status, **head, "database": "ok", "bridge": bridge}


@router.get("/api/v1/events")
def list_events(ctx: CtxDep, db: DB, user: Staff, since: Seq = 0, limit: int = Query(500, ge=1, le=5000)) -> Any:
    return shown(
        ctx,
        user,
        [
            {"seq": e.seq, "type": e.type, "at": e.at.isoformat(), "data": e.data}
            for e in events.since(db, since, limit=limit)
        ],
    )


@router.get("/api/v1/region")
def region(request: Request, ctx: CtxDep, _user: AnyUser) -> dict[str, Any]:
    """The region and what this server can do that the console adapts to."""
    pack = ctx.region.pack
    simulating = simulator_of(request.app) is not None
    return {
        "code": pack.code,
        "name": pack.name,
        "kode": pack.kode,
        "timezone": str(pack.timezone),
        "tz_label": pack.tz_label,
        "center": list(pack.center),
        "tile_url": ctx.settings.tile_url,
        "ack_timeout_s": ctx.settings.ack_timeout_s,
        # Without Twilio SMS a text caller cannot be answered by text: the console says so instead of a reply box.
        # A simulated text caller can be: the simulator takes the reply (ui.simulator.delivered).
        "sms_replies": sms_sender(request.app, ctx) is not None or simulating,
        # The demo's call simulator runs: supervisors and admins get a button to ring a call.
        "simulator": simulating,
    }


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=200)
    role: str
    name: str | None = Field(None, max_length=200)
    unit_callsign: str | None = Field(None, max_length=64)
    agency_code: str | None = Field(None, max_length=32)  # an agency's desk (role opd)
    sip_endpoint: str | None = Field(None, max_length=128)


@router.post("/api/v1/users", status_code=201)
def add_user(body: UserIn, db: DB, _admin: Admin) -> dict[str, object]:
    user = users.create(session=db, **body.model_dump())
    return me_data(user)
