"""Coverage: for each kelurahan, how soon the nearest available unit of each agency kind could arrive.

A supervisor looks at this when units are busy to see which areas are uncovered right now.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dispatch.clock import utcnow
from dispatch.context import Region
from dispatch.recommend.service import candidates, fleet


def coverage(
    *, session: Session, region: Region, kinds: tuple[str, ...] = ("damkar", "psc119", "polisi", "bpbd", "basarnas")
) -> dict[str, Any]:
    from geo.coverage import coverage as compute

    points = region.jurisdictions.kelurahan_points()
    found = candidates(session, set(kinds), region, utcnow())
    model = region.travel_model
    origins = fleet(model, found)
    table = compute(points.lat, points.lon, origins, model, priority=1).by_agency()
    rows = []
    for i, code in enumerate(points.codes):
        etas = {
            kind: (round(v) if (v := table.get(kind, [None] * len(points.codes))[i]) is not None else None)
            for kind in kinds
        }
        rows.append(
            {
                "kelurahan_code": code,
                "kelurahan": points.names[i],
                "lat": float(points.lat[i]),
                "lon": float(points.lon[i]),
                "eta_s": etas,
            }
        )
    return {"kinds": list(kinds), "available_units": len(found), "areas": rows}
