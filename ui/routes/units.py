"""Agencies, stations and units; unit positions and service status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dispatch.agencies import service as agencies
from dispatch.agencies.schemas import AgencyOut, PositionIn, StationOut, UnitOut, UnitStatusIn
from dispatch.bounds import Id
from dispatch.errors import Forbidden
from dispatch.users.models import User
from ui import idempotent
from ui.deps import DB, AnyUser, Dispatcher, Field

router = APIRouter(prefix="/api/v1", tags=["units"])


@router.get("/agencies")
def list_agencies(db: DB, _user: AnyUser) -> list[dict[str, Any]]:
    return [AgencyOut.model_validate(a).model_dump(mode="json") for a in agencies.agencies(session=db)]


@router.get("/stations")
def list_stations(db: DB, _user: AnyUser) -> list[dict[str, Any]]:
    return [StationOut.model_validate(s).model_dump(mode="json") for s in agencies.stations(session=db)]


@router.get("/units")
def list_units(db: DB, _user: AnyUser) -> list[dict[str, Any]]:
    return [UnitOut.model_validate(u).model_dump(mode="json") for u in agencies.units(session=db)]


def _own_unit(user: User, unit_id: int) -> None:
    if user.role == "responder" and user.unit_id != unit_id:
        raise Forbidden("a responder can only report for its own unit")


@router.post("/units/{unit_id}/position")
def report_position(unit_id: Id, body: PositionIn, request: Request, db: DB, user: Field) -> Any:
    _own_unit(user, unit_id)

    def action() -> Any:
        unit = agencies.report_position(
            session=db,
            unit_id=unit_id,
            lat=body.lat,
            lon=body.lon,
            accuracy_m=body.accuracy_m,
            at=body.at,
            actor=user.username,
            skew=request.app.state.ctx.region.policy.clock_skew,
        )
        return UnitOut.model_validate(unit).model_dump(mode="json")

    return idempotent.run(request, db, user, action)


@router.post("/units/{unit_id}/status")
def unit_status(unit_id: Id, body: UnitStatusIn, db: DB, user: Dispatcher) -> dict[str, Any]:
    unit = agencies.set_status(session=db, unit_id=unit_id, status=body.status, actor=user.username)
    return UnitOut.model_validate(unit).model_dump(mode="json")
