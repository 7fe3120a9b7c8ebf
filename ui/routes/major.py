"""Major incidents (disaster mode): declaring one (by hand, from an alert, or accepting a burst of calls) and
standing it down, filing reports under it, the dispatchers' board (reports by priority, units staged or
committed per agency, casualties by triage colour), the supervisors' surge figures, and the shelters.

Who may do what is `ui.access.REACH`: declaring and standing down are supervisors', filing a report a
call-taker's, triage counts and staging a dispatcher's, reading staff's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dispatch.bounds import Id
from dispatch.major import board, burst, surge
from dispatch.major import service as major
from dispatch.major import shelters as shelter_list
from dispatch.major.schemas import MajorIn, ReportIn, StageIn, TriageIn
from ui import idempotent
from ui.context import Ctx
from ui.deps import DB, CtxDep, Dispatcher, Staff, Supervisor, Taker, shown
from ui.routes.incidents import full

router = APIRouter(prefix="/api/v1", tags=["major"])
Lat = Annotated[float | None, Query(ge=-90, le=90)]
Lon = Annotated[float | None, Query(ge=-180, le=180)]


def _shelters(ctx: Ctx) -> list[shelter_list.Shelter]:
    return shelter_list.load(ctx.region.pack.folder, ctx.region.landmark_dir)


@router.get("/major")
def list_major(db: DB, _user: Staff) -> list[dict[str, Any]]:
    """Major incidents, the newest first, the ended ones too."""
    return [major.data(m) for m in major.listing(session=db)]


@router.get("/major/active")
def active_major(db: DB, _user: Staff) -> dict[str, Any]:
    """The major incident in force (`major` null when none is): what the consoles load first."""
    found = major.active(session=db)
    return {"major": major.data(found) if found else None}


@router.post("/major", status_code=201)
def declare_major(body: MajorIn, request: Request, ctx: CtxDep, db: DB, user: Supervisor) -> Any:
    """Declare a major incident: by hand (name, type, kecamatan; none is the whole region), from an alert
    (`alert_id`: its headline and area unless given) or accepting a burst (`origin: "burst"` with its kecamatan)."""

    def action() -> Any:
        found = major.declare(session=db, region=ctx.region, body=body, user_id=user.id, actor=user.username)
        return major.data(found)

    return idempotent.run(request, db, user, action, status=201)


@router.get("/major/proposals")
def burst_proposals(ctx: CtxDep, db: DB, _user: Supervisor) -> list[dict[str, Any]]:
    """Kecamatan with a burst of calls now against their usual rate at this hour: proposals a supervisor may
    accept (declaring with `origin: "burst"`), never declared by themselves."""
    current = major.active(session=db)
    covered = current.kecamatan_codes if current is not None else None
    return [p.shown() for p in burst.proposals(session=db, region=ctx.region, covered=covered)]


@router.get("/major/surge")
def surge_figures(db: DB, _user: Supervisor) -> dict[str, Any]:
    """Calls per minute over the last hour against the same hour on the 28 days before, waiting, abandoned,
    and the callers' choices at the announcement."""
    return surge.figures(session=db).shown()


@router.get("/major/shelters")
def shelters(ctx: CtxDep, _user: Staff, lat: Lat = None, lon: Lon = None) -> list[dict[str, Any]]:
    """The shelters and evacuation points in force; with `lat` and `lon`, the nearest first, with distances."""
    found = _shelters(ctx)
    if lat is None or lon is None:
        return [asdict(s) for s in found]
    return [asdict(s) | {"distance_m": round(d)} for s, d in shelter_list.nearest(found, lat, lon, len(found))]


@router.get("/major/{major_id}")
def get_major(major_id: Id, db: DB, _user: Staff) -> dict[str, Any]:
    return major.data(major.get(session=db, major_id=major_id))


@router.get("/major/{major_id}/board")
def major_board(major_id: Id, db: DB, _user: Staff) -> dict[str, Any]:
    """Its reports by priority (with casualties and units), by kecamatan, and the units per agency."""
    return board.board(db, major.get(session=db, major_id=major_id))


@router.get("/major/{major_id}/information")
def public_information(major_id: Id, ctx: CtxDep, db: DB, _user: Staff, lat: Lat = None, lon: Lon = None) -> Any:
    """The public information message (Bahasa Indonesia and English) with the shelters nearest the point."""
    found = major.get(session=db, major_id=major_id)
    return shelter_list.public_message(_shelters(ctx), name=found.name, lat=lat, lon=lon)


@router.post("/major/{major_id}/stand-down")
def stand_down(major_id: Id, db: DB, user: Supervisor) -> dict[str, Any]:
    """End disaster mode: its reports stay open incidents; staged units are released."""
    return major.data(major.stand_down(session=db, major_id=major_id, user_id=user.id, actor=user.username))


@router.post("/major/{major_id}/reports", status_code=201)
def file_report(major_id: Id, body: ReportIn, request: Request, ctx: CtxDep, db: DB, user: Taker) -> Any:
    """'Terkait': file the call (or a field report) under the major incident, with its own place and needs."""

    def action() -> Any:
        incident = major.file_report(
            session=db, region=ctx.region, major_id=major_id, body=body, actor=user.username, user_id=user.id
        )
        return shown(ctx, user, full(db, incident.id))

    return idempotent.run(request, db, user, action, status=201)


@router.post("/major/{major_id}/staging")
def stage_unit(major_id: Id, body: StageIn, db: DB, user: Dispatcher) -> dict[str, Any]:
    """Stage a unit for the major incident (ready at the staging point), or release it (`staged: false`)."""
    unit = major.stage(session=db, major_id=major_id, unit_id=body.unit_id, staged=body.staged, actor=user.username)
    return {"unit_id": unit.id, "callsign": unit.callsign, "staged_for": unit.staged_for}


@router.post("/incidents/{incident_id}/triage")
def set_triage(incident_id: Id, body: TriageIn, db: DB, user: Dispatcher) -> dict[str, int]:
    """Casualties at a site by triage colour (merah, kuning, hijau, hitam): the colours given are set."""
    return major.set_triage(session=db, incident_id=incident_id, body=body, user_id=user.id, actor=user.username)
