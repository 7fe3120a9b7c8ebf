"""What services need to know about where they run: the region pack, its geography and local policy.

Built once at start-up from settings by the entry point; tests build it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.clock import SKEW
from dispatch.errors import Invalid
from dispatch.regions import RegionPack

if TYPE_CHECKING:
    from geo.gazetteer import Gazetteer
    from geo.jurisdiction import Jurisdictions, Location
    from geo.travel import TravelModel


@dataclass(frozen=True)
class Policy:
    duplicate_radius_m: float = 500.0
    duplicate_window: timedelta = timedelta(minutes=60)
    abuse_threshold: int = 3
    abuse_window: timedelta = timedelta(hours=24)
    abuse_block: timedelta = timedelta(hours=24)
    # A point further than this outside the region belongs to no command center we serve.
    max_outside_m: float = 30_000.0
    ack_timeout_s: int = 90
    # A GPS fix older than this is not trusted for ETAs; the unit's home station is used instead.
    gps_fresh: timedelta = timedelta(minutes=5)
    # How far ahead of this server's clock a reported time may lie (dispatch.clock.not_ahead).
    clock_skew: timedelta = SKEW
    # How much later a choice-2 caller's turn in the queue comes (choice 3: twice): dispatch/calls/queue.py.
    priority_lead: timedelta = timedelta(minutes=5)


@dataclass
class Region:
    pack: RegionPack
    policy: Policy = field(default_factory=Policy)
    road_graph: Path | None = None
    # This region's imported landmark files (*.geojson); None or a missing folder: the pack's places only.
    landmark_dir: Path | None = None

    @cached_property
    def travel_model(self) -> TravelModel:
        """Road routing when a graph was imported for this region, else straight lines, island-aware."""
        if self.road_graph is not None:
            from geo.roadgraph import RoadGraph
            from geo.roads import RoadModel

            return RoadModel(RoadGraph.load(self.road_graph))
        from geo.travel import StraightLineModel

        places = self.jurisdictions
        return StraightLineModel(island_of=places.island_of, islands_of=places.islands_of)

    @cached_property
    def jurisdictions(self) -> Jurisdictions:
        from geo.jurisdiction import Jurisdictions

        return Jurisdictions.load(self.pack.geo_dir)

    @cached_property
    def gazetteer(self) -> Gazetteer:
        from geo.gazetteer import Gazetteer

        extra = sorted(self.landmark_dir.glob("*.geojson")) if self.landmark_dir and self.landmark_dir.is_dir() else []
        return Gazetteer.load(self.pack.geo_dir, extra=extra, locate=self._area_names)

    def _area_names(self, lat: float, lon: float) -> tuple[str | None, str | None]:
        """(kecamatan, kelurahan) of a point, for a street's point chosen near the incident."""
        where = self.jurisdictions.locate(lat, lon)
        return where.kecamatan_name, where.kelurahan_name

    def locate(self, lat: float, lon: float) -> Location:
        """Validate a point and find its kecamatan/kelurahan; reject points far from this region."""
        from geo.coords import validate_point
        from geo.errors import BadCoordinates

        try:
            lat, lon = validate_point(lat, lon, bbox=self.jurisdictions.bbox)
        except BadCoordinates as exc:
            raise Invalid(str(exc)) from None
        where = self.jurisdictions.locate(lat, lon)
        if not where.inside_region and (where.distance_m or 0) > self.policy.max_outside_m:
            km = (where.distance_m or 0) / 1000
            raise Invalid(
                f"({lat:.5f}, {lon:.5f}) is {km:.0f} km outside {self.pack.name}; this command center cannot take it"
            )
        return where
