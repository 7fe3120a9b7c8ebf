"""Coverage: for every kelurahan, how soon the nearest available unit of each agency could be there.

The question behind a coverage map ("if a fire starts in Pasie Nan Tigo now, how long until a
damkar arrives?"), answered with any TravelModel: one vectorised travel() per area point, asking
only for the nearest unit of each agency so road models can bound their search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo.arrays import FloatArray
from geo.travel import Origins, TravelModel


@dataclass(frozen=True, slots=True, eq=False)
class Coverage:
    """ETA in seconds per area point (rows) and agency (columns); NaN where no unit can get there."""

    agencies: tuple[str, ...]
    eta_s: FloatArray

    def eta(self, point: int, agency: str) -> float | None:
        value = float(self.eta_s[point, self.agencies.index(agency)])
        return None if math.isnan(value) else value

    def by_agency(self) -> dict[str, list[float | None]]:
        """Columns as plain lists with None for 'no reachable unit', ready for JSON."""
        return {
            name: [None if math.isnan(v) else v for v in self.eta_s[:, g].tolist()]
            for g, name in enumerate(self.agencies)
        }


def coverage(
    lat: npt.ArrayLike, lon: npt.ArrayLike, origins: Origins, model: TravelModel, *, priority: int = 3
) -> Coverage:
    """Nearest-unit ETA per point and agency of `origins` (prepared by the same `model`)."""
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    out = np.full((len(la), len(origins.agencies)), np.nan)
    if not len(origins):
        return Coverage(origins.agencies, out)
    order = np.argsort(origins.agency, kind="stable")
    present = np.unique(origins.agency)  # an agency may have no unit in this snapshot
    starts = np.searchsorted(origins.agency[order], present)
    for p, (a, b) in enumerate(zip(la.tolist(), lo.tolist(), strict=True)):
        travel = model.travel(a, b, origins, priority=priority, nearest=1)
        eta = np.where(travel.reachable, travel.eta_s, np.inf)[order]
        best = np.minimum.reduceat(eta, starts)
        out[p, present] = np.where(np.isfinite(best), best, np.nan)
    return Coverage(origins.agencies, out)
