"""A supervisor's view of the places the center learned from closed incidents: list, correct, remove."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from dispatch.bounds import Id
from dispatch.places import service as places
from dispatch.places.schemas import LearnedPlacePatch
from ui.deps import DB, CtxDep, Supervisor

router = APIRouter(prefix="/api/v1", tags=["places"])


@router.get("/places/learned")
def learned(
    db: DB,
    _user: Supervisor,
    limit: int = Query(200, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=1_000_000),
    hidden: bool = Query(False, description="the removed entries instead"),
) -> dict[str, Any]:
    """Learned places, most used first. `searchable` says whether the search offers one yet (used at least
    twice, or corrected by a supervisor, and not removed)."""
    return {
        "min_uses": places.MIN_USES,
        "places": places.listing(session=db, limit=limit, offset=offset, hidden=hidden),
    }


@router.patch("/places/learned/{place_id}")
def correct(place_id: Id, body: LearnedPlacePatch, ctx: CtxDep, db: DB, user: Supervisor) -> dict[str, Any]:
    """Correct a learned place's name or point (the point must lie in or near the region), or bring a removed
    one back with `hidden: false`."""
    row = places.correct(session=db, region=ctx.region, place_id=place_id, body=body, actor=user.username)
    return places.out(row)


@router.delete("/places/learned/{place_id}")
def remove(place_id: Id, db: DB, user: Supervisor) -> dict[str, Any]:
    """Take a learned place out of the search; it is kept, hidden, so that it is not learned again."""
    return places.out(places.remove(session=db, place_id=place_id, actor=user.username))
