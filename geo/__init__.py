"""Geography for Tanggap 112: where a point is, what a caller's place name means, how far units are.

Pure functions and small immutable objects over region data files; no database, no network, and no
imports from dispatch/, ui/, telephony/ or config/. The caller passes the region folder or parsed data.

Entry points: geo.coords.validate_point, geo.jurisdiction.Jurisdictions, geo.gazetteer.Gazetteer,
geo.travel (TravelModel, StraightLineModel, nearest_by_agency), geo.roads (import_osm, RoadGraph,
RoadModel) and geo.coverage.coverage. See docs/geo.md.
"""
