"""Geography for the console: locate a point, gazetteer type-ahead, boundaries for the offline map,
unit recommendations and coverage."""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

from dispatch.bounds import Id
from dispatch.errors import Invalid
from dispatch.places import service as places
from dispatch.recommend import coverage as coverage_service
from dispatch.recommend import service as recommend_service
from ui.deps import DB, AnyUser, CtxDep, Dispatcher, Staff

router = APIRouter(prefix="/api/v1", tags=["geo"])


@router.get("/geo/locate")
def locate(ctx: CtxDep, _user: AnyUser, lat: float = Query(...), lon: float = Query(...)) -> dict[str, Any]:
    """Kecamatan and kelurahan of a point, or how far outside the region it is."""
    return asdict(ctx.region.locate(lat, lon))


@router.get("/geo/search")
def search(
    ctx: CtxDep,
    db: DB,
    _user: AnyUser,
    q: str = Query(..., max_length=600),
    limit: int = Query(10, ge=1, le=50),
    near_lat: float | None = Query(None, ge=-90, le=90, description="where the incident seems to be: a street"),
    near_lon: float | None = Query(None, ge=-180, le=180, description="is answered with its point nearest it"),
) -> list[dict[str, Any]]:
    """Places by name; or the one point a typed coordinate, Plus Code or map link gives, placed like a place
    (422 for a coordinate attempt that fails, and for text that is neither a name nor a coordinate)."""
    from geo.errors import GeoError
    from geo.pointtext import parse_point

    region = ctx.region
    try:
        point = parse_point(q, bbox=region.jurisdictions.bbox, localities=region.gazetteer)
        if point is None:
            near = (near_lat, near_lon) if near_lat is not None and near_lon is not None else None
            found = places.search(session=db, region=region, query=q, limit=limit, near=near)  # with learned ones
            return [asdict(p) for p in found]
    except GeoError as exc:
        raise Invalid(str(exc)) from None
    return [point.as_place(region.locate(point.lat, point.lon))]


@lru_cache(maxsize=8)
def _boundary_bytes(path: Path) -> bytes:
    doc = json.loads(path.read_text(encoding="utf-8"))
    return json.dumps(doc, separators=(",", ":")).encode()


@router.get("/geo/boundaries/{level}")
def boundaries(level: str, ctx: CtxDep, _user: AnyUser) -> Response:
    """The region's polygons as GeoJSON, so the map works without internet."""
    if level not in ("kecamatan", "kelurahan", "boundary"):
        raise HTTPException(404, "level must be kecamatan, kelurahan or boundary")
    body = _boundary_bytes(ctx.region.pack.geo_dir / f"{level}.geojson")
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "max-age=3600"})


@router.get("/incidents/{incident_id}/recommendations")
def recommendations(incident_id: Id, ctx: CtxDep, db: DB, _user: Dispatcher) -> dict[str, Any]:
    slots = recommend_service.recommend(session=db, region=ctx.region, incident_id=incident_id)
    return {"incident_id": incident_id, "slots": [asdict(s) for s in slots]}


@router.get("/geo/coverage")
def coverage(ctx: CtxDep, db: DB, _user: Staff) -> dict[str, Any]:
    return coverage_service.coverage(session=db, region=ctx.region)
