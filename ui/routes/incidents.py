"""Incidents and their assignments: create from a call, locate, duplicates, assign, lifecycle, history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from dispatch.bounds import Id
from dispatch.calls.schemas import CallOut
from dispatch.errors import Forbidden
from dispatch.events import service as events
from dispatch.incidents import assignments, duplicates
from dispatch.incidents import service as incidents
from dispatch.incidents.schemas import (
    AssignIn,
    CloseIn,
    IncidentIn,
    IncidentPatch,
    IncidentTypeOut,
    LinkIn,
    StatusIn,
)
from dispatch.phone import normalise
from ui import idempotent
from ui.deps import DB, AnyUser, CtxDep, Dispatcher, Field, Staff, Taker, shown

router = APIRouter(prefix="/api/v1", tags=["incidents"])


def full(db: DB, incident_id: int) -> dict[str, Any]:
    incident = incidents.get(session=db, incident_id=incident_id)
    body = incidents.data(incident)
    body["type"] = IncidentTypeOut.model_validate(incident.type).model_dump(mode="json")
    body["assignments"] = [
        incidents.assignment_data(a) for a in incidents.assignments(session=db, incident_id=incident_id)
    ]
    body["calls"] = [
        CallOut.model_validate(c).model_dump(mode="json")
        for c in incidents.linked_calls(session=db, incident_id=incident_id)
    ]
    return body


@router.get("/incident-types")
def incident_types(db: DB, _user: AnyUser) -> list[dict[str, Any]]:
    return [IncidentTypeOut.model_validate(t).model_dump(mode="json") for t in incidents.catalogue(session=db)]


@router.get("/incidents")
def list_incidents(ctx: CtxDep, db: DB, user: Staff, open: bool = True, limit: int = Query(100, ge=1, le=500)) -> Any:
    rows = incidents.open_incidents(session=db) if open else incidents.recent(session=db, limit=limit)
    return shown(ctx, user, [incidents.data(i) for i in rows])


@router.get("/incidents/duplicates")
def find_duplicates(
    ctx: CtxDep,
    db: DB,
    _user: Staff,
    type_code: str | None = None,
    lat: float | None = Query(None, ge=-90, le=90),
    lon: float | None = Query(None, ge=-180, le=180),
    caller: str | None = None,
) -> list[dict[str, Any]]:
    """'Probably the same as #N': check before creating."""
    found = duplicates.find(
        session=db, policy=ctx.region.policy, type_code=type_code, lat=lat, lon=lon, caller=normalise(caller)
    )
    return [d.model_dump(mode="json") for d in found]


@router.post("/incidents", status_code=201)
def create_incident(body: IncidentIn, request: Request, ctx: CtxDep, db: DB, user: Taker) -> Any:
    def action() -> Any:
        incident = incidents.create(session=db, region=ctx.region, body=body, actor=user.username, user_id=user.id)
        out = full(db, incident.id)
        out["probable_duplicates"] = [
            d.model_dump(mode="json")
            for d in duplicates.find(
                session=db,
                policy=ctx.region.policy,
                type_code=incident.type_code,
                lat=incident.lat,
                lon=incident.lon,
                caller=incident.caller,
                exclude_id=incident.id,
            )
        ]
        return shown(ctx, user, out)

    return idempotent.run(request, db, user, action, status=201)


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: Id, ctx: CtxDep, db: DB, user: AnyUser) -> Any:
    if user.role == "responder":
        mine = {a.incident_id for a in assignments.for_unit(session=db, unit_id=user.unit_id or -1)}
        if incident_id not in mine:
            raise Forbidden("a responder sees only incidents its unit is assigned to")
    return shown(ctx, user, full(db, incident_id))


@router.patch("/incidents/{incident_id}")
def update_incident(incident_id: Id, body: IncidentPatch, ctx: CtxDep, db: DB, user: Taker) -> Any:
    incidents.update(session=db, region=ctx.region, incident_id=incident_id, body=body, actor=user.username)
    return shown(ctx, user, full(db, incident_id))


@router.post("/incidents/{incident_id}/close")
def close_incident(incident_id: Id, body: CloseIn, ctx: CtxDep, db: DB, user: Dispatcher) -> Any:
    incidents.close(session=db, incident_id=incident_id, closure=body.closure, actor=user.username)
    return shown(ctx, user, full(db, incident_id))


@router.post("/incidents/{incident_id}/calls/{call_id}")
def link_call(incident_id: Id, call_id: Id, ctx: CtxDep, db: DB, user: Taker, body: LinkIn | None = None) -> Any:
    """One-step link of a duplicate call to this incident, with what its caller said (`notes`, optional)."""
    notes = body.notes if body else None
    incidents.link_call(session=db, incident_id=incident_id, call_id=call_id, actor=user.username, notes=notes)
    return shown(ctx, user, full(db, incident_id))


@router.post("/incidents/{incident_id}/duplicate-of/{other_id}")
def mark_duplicate(incident_id: Id, other_id: Id, ctx: CtxDep, db: DB, user: Taker) -> Any:
    incidents.mark_duplicate(session=db, incident_id=incident_id, of_id=other_id, actor=user.username)
    return shown(ctx, user, full(db, other_id))


@router.get("/incidents/{incident_id}/events")
def incident_events(incident_id: Id, ctx: CtxDep, db: DB, user: Staff) -> Any:
    incidents.get(session=db, incident_id=incident_id)
    rows = events.for_incident(db, incident_id)
    return shown(
        ctx,
        user,
        [{"seq": e.seq, "type": e.type, "at": e.at.isoformat(), "actor": e.actor, "data": e.data} for e in rows],
    )


@router.get("/incidents/{incident_id}/rebuild")
def rebuild_incident(incident_id: Id, ctx: CtxDep, db: DB, user: Staff) -> Any:
    """The incident as it follows from its events alone (an audit check against the stored row)."""
    return shown(ctx, user, incidents.rebuild(session=db, incident_id=incident_id))


@router.post("/incidents/{incident_id}/assignments", status_code=201)
def assign_unit(incident_id: Id, body: AssignIn, request: Request, ctx: CtxDep, db: DB, user: Dispatcher) -> Any:
    def action() -> Any:
        row = assignments.assign(
            session=db,
            incident_id=incident_id,
            unit_id=body.unit_id,
            actor=user.username,
            user_id=user.id,
            reason=body.reason,
            eta_s=body.eta_s,
        )
        return incidents.assignment_data(row)

    return idempotent.run(request, db, user, action, status=201)


@router.get("/assignments/mine")
def my_assignments(ctx: CtxDep, db: DB, user: AnyUser) -> Any:
    """A responder's assignments (current first) with the incident each belongs to."""
    if user.unit_id is None:
        return []
    out = []
    for row in assignments.for_unit(session=db, unit_id=user.unit_id):
        item = incidents.assignment_data(row)
        incident = incidents.get(session=db, incident_id=row.incident_id)
        item["incident"] = incidents.data(incident)
        item["incident"]["type_name_id"], item["incident"]["type_name_en"] = (
            incident.type.name_id,
            incident.type.name_en,
        )
        out.append(item)
    return shown(ctx, user, out)


@router.post("/assignments/{assignment_id}/status")
def assignment_status(assignment_id: Id, body: StatusIn, request: Request, db: DB, user: Field) -> Any:
    unit_id = user.unit_id if user.role == "responder" else None
    if user.role == "responder" and unit_id is None:
        raise Forbidden("this responder account is not bound to a unit")

    def action() -> Any:
        row = assignments.step(
            session=db,
            assignment_id=assignment_id,
            status=body.status,
            actor=user.username,
            unit_id=unit_id,
            at=body.at,
            reason=body.reason,
            skew=request.app.state.ctx.region.policy.clock_skew,
        )
        return incidents.assignment_data(row)

    return idempotent.run(request, db, user, action)
