"""Errors raised by geo/: all are ValueErrors, so the API layer can map them to 422 in one place."""


class GeoError(ValueError):
    """Base class: the input (a point, a query, a file) cannot be used as given."""


class BadCoordinates(GeoError):
    """A latitude/longitude pair is not a usable WGS84 point (out of range, NaN, or swapped)."""


class BadQuery(GeoError):
    """A gazetteer query is empty, too long, or has nothing to search for."""


class BadOsmFile(GeoError):
    """An OpenStreetMap extract cannot be turned into a road graph."""


class BadRoadGraph(GeoError):
    """A file is not a road graph written by `geo.roads.import_osm`."""


class BadLocationText(GeoError):
    """Text typed as a location looks like a coordinate, Plus Code or map link but does not give one point
    (a shortened link, a Plus Code without a known locality, too few digits); the message says what would."""
