"""Where a map link points, taken apart offline: Google Maps (and the links WhatsApp sends), OpenStreetMap,
Apple Maps and geo: URIs.

A link holds its point in different places: a pin (`?q=`, `/place/`, `!3d..!4d..`, `mlat`, `ll`) or only the
centre of the map view (`@lat,lon,17z`, `#map=17/lat/lon`), which may be hundreds of metres from what the
caller meant. read_link() lists the candidate texts, best first, for geo.pointtext to read. A shortened link
(maps.app.goo.gl, bit.ly...) holds nothing until a server far away expands it, so it is refused with a
message saying what to ask the caller for instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

from geo.errors import BadLocationText

# Hosts whose links say nothing until expanded over the internet.
SHORTENERS = frozenset(
    "goo.gl maps.app.goo.gl app.goo.gl g.co share.google maps.apple apple.co bit.ly tinyurl.com s.id t.co t.ly "
    "is.gd ow.ly cutt.ly rb.gy shorturl.at rebrand.ly buff.ly lnkd.in tiny.cc".split()
)
# A link's text: with a scheme, or a bare host we know ("maps.app.goo.gl/...", "www.google.com/maps/...").
URL = re.compile(
    r"(?i)(?:\b(?:https?|comgooglemaps)://|\bgeo:|\bwww\.|\b(?:maps\.google\.[a-z.]+|google\.[a-z.]+/maps|"
    + "|".join(
        re.escape(h) for h in sorted(SHORTENERS | {"osm.org", "openstreetmap.org", "maps.apple.com", "plus.codes"})
    )
    + r")/)\S+"
)
# Half the width of a phone's map, in pixels: how far from a view's centre the caller's point may be.
VIEW_HALF_PX = 200
METRES_PER_PX_Z0 = 156_543.03  # Web Mercator at the equator; Indonesia lies within 11° of it
STREET_VIEW_M = 10.0  # a Street View link is where the camera stood
NEEDS_INTERNET = (
    "Tautan pendek ({host}) baru berisi lokasi setelah dibuka lewat internet. Minta penelepon membuka "
    "tautannya dan membacakan koordinatnya, atau tempel tautan lengkapnya. / A shortened link ({host}) only "
    "gives a location once expanded over the internet: ask for the coordinates or paste the full link."
)


@dataclass(frozen=True, slots=True)
class Spot:
    """A coordinate text inside a link, latitude first. `view_m` > 0: the centre of a map view, not a pin,
    so the point may lie that far from it."""

    text: str
    view_m: float = 0.0


@dataclass(frozen=True, slots=True)
class Link:
    form: str  # "Google Maps", "OpenStreetMap", "Apple Maps", "geo:"
    spots: list[Spot] = field(default_factory=list)
    label: str | None = None  # a place name the link searches for, when it holds no coordinates


def find_url(text: str) -> str | None:
    """The first map-like link in a pasted text ("Lokasi saya: https://maps.google.com/?q=...")."""
    found = URL.search(text)
    if not found:
        return None
    url = found.group().rstrip(".,;>]\"'")
    while url.endswith(")") and url.count(")") > url.count("("):  # "(lihat https://...)" keeps "(label)"
        url = url[:-1]
    return url


def read_link(url: str) -> Link:
    """The candidate points of a link, best first. Raises BadLocationText for a shortened or unknown link."""
    if url.lower().startswith("geo:"):
        return _geo_uri(url)
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = (parts.hostname or "").removeprefix("www.")
    query = {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}
    if host in SHORTENERS:
        raise BadLocationText(NEEDS_INTERNET.format(host=host))
    if host in ("openstreetmap.org", "osm.org"):
        return _osm(parts.path, query, parts.fragment)
    if host == "plus.codes":
        return Link("Plus Code", [Spot(unquote(parts.path.strip("/")))])
    if host == "maps.apple.com":
        return _apple(query)
    if parts.scheme == "comgooglemaps" or re.fullmatch(r"(maps\.)?google(\.[a-z]{2,3}){1,2}", host):
        return _google(url, parts.path, query)
    raise BadLocationText(
        f"Tautan {host or url[:40]} bukan tautan peta yang dikenal (Google Maps, OpenStreetMap, Apple Maps). "
        f"/ The link {host or url[:40]} is not a known map link."
    )


def _google(url: str, path: str, query: dict[str, str]) -> Link:
    spots: list[Spot] = []
    segments = [unquote_plus(s) for s in path.split("/")]
    pin = re.search(r"!3d(-?[\d.]+)!4d(-?[\d.]+)", url)
    if pin and "place" in segments:
        spots.append(Spot(f"{pin[1]},{pin[2]}"))
    for key in ("q", "query", "destination", "daddr", "ll"):
        if key in query:
            spots.append(Spot(_unlabel(query[key])))
    for marker in ("place", "search"):
        if marker in segments[:-1]:
            spots.append(Spot(segments[segments.index(marker) + 1]))
    if "dir" in segments:  # directions: the destination is the last stop
        stops = [s for s in segments[segments.index("dir") + 1 :] if s and not s.startswith(("@", "data="))]
        spots += [Spot(s) for s in reversed(stops)]
    if "viewpoint" in query:
        spots.append(Spot(query["viewpoint"], STREET_VIEW_M))
    if "center" in query:
        spots.append(Spot(query["center"], _zoom_m(query.get("zoom"))))
    view = re.search(r"@(-?[\d.]+),(-?[\d.]+)(?:,([\d.]+)([zma]))?", path)
    if view:
        size, unit = view[3], view[4]
        view_m = STREET_VIEW_M if unit == "a" else float(size) / 2 if unit == "m" else _zoom_m(size)
        spots.append(Spot(f"{view[1]},{view[2]}", view_m))
    return Link("Google Maps", spots, label=query.get("q") or query.get("query") or _place_name(segments))


def _osm(path: str, query: dict[str, str], fragment: str) -> Link:
    spots: list[Spot] = []
    if "mlat" in query and "mlon" in query:
        spots.append(Spot(f"{query['mlat']},{query['mlon']}"))
    if "query" in query:
        spots.append(Spot(query["query"]))
    view = re.search(r"map=([\d.]+)/(-?[\d.]+)/(-?[\d.]+)", fragment)
    if view:
        spots.append(Spot(f"{view[2]},{view[3]}", _zoom_m(view[1])))
    if "lat" in query and "lon" in query:
        spots.append(Spot(f"{query['lat']},{query['lon']}", _zoom_m(query.get("zoom"))))
    if path.startswith("/go/"):
        spots.append(osm_shortlink(path.removeprefix("/go/")))
    return Link("OpenStreetMap", spots, label=query.get("query"))


def _apple(query: dict[str, str]) -> Link:
    keys = ("coordinate", "ll", "q", "daddr", "sll", "near", "center")
    spots = [Spot(_unlabel(query[k])) for k in keys if k in query]
    return Link("Apple Maps", spots, label=query.get("q") or query.get("address") or query.get("name"))


def _geo_uri(uri: str) -> Link:
    """RFC 5870 `geo:lat,lon[,alt][;u=metres]`, and Android's `geo:0,0?q=lat,lon(label)`."""
    body, _, params = uri[4:].partition("?")
    point, *options = body.split(";")
    uncertainty = next((o[2:] for o in options if o.lower().startswith("u=")), "0")
    spots = []
    query = {k.lower(): v[0] for k, v in parse_qs(params).items()}
    if "q" in query:
        spots.append(Spot(_unlabel(query["q"])))
    lat, _, rest = point.partition(",")
    lon = rest.split(",")[0]
    if (lat, lon) not in (("0", "0"), ("0.0", "0.0")) or not spots:
        spots.append(Spot(f"{lat},{lon}", _float(uncertainty)))
    return Link("geo:", spots, label=query.get("q"))


def osm_shortlink(code: str) -> Spot:
    """Decode an osm.org/go/ short code: 6 bits a character, longitude and latitude bits interleaved, and a
    trailing '-' per zoom step the last character does not use (openstreetmap-website, lib/short_link.rb)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~"
    x = y = bits = dashes = 0
    for char in code.split("?")[0].replace("@", "~"):
        if char == "-":
            dashes += 1
            continue
        digit = alphabet.find(char)
        if digit < 0 or bits >= 30:  # 10 characters hold zoom 22, the most there is
            raise BadLocationText(f"Kode osm.org/go/{code} tidak terbaca. / The OSM short code {code} is unreadable.")
        for shift in (5, 3, 1):
            x, y, bits = (x << 1) | (digit >> shift) & 1, (y << 1) | (digit >> (shift - 1)) & 1, bits + 1
    if bits == 0:
        raise BadLocationText(f"Kode osm.org/go/{code} kosong. / The OSM short code {code} is empty.")
    cell_x, cell_y = 360.0 / 2**bits, 180.0 / 2**bits
    lon, lat = x * cell_x - 180 + cell_x / 2, y * cell_y - 90 + cell_y / 2
    zoom = bits - 8 - (-dashes) % 3
    return Spot(f"{lat:.7f},{lon:.7f}", max(_zoom_m(str(zoom)), cell_y * 111_320))


def _zoom_m(zoom: str | None) -> float:
    """How far a pin may be from the centre of a map view at this zoom (half a phone screen)."""
    z = _float(zoom or "15")
    return METRES_PER_PX_Z0 / 2 ** min(max(z, 0.0), 22.0) * VIEW_HALF_PX


def _unlabel(value: str) -> str:
    """`-0.94,100.41(Rumah)` and `loc:-0.94+100.41` hold the coordinate only."""
    return re.sub(r"\(.*$", "", value).removeprefix("loc:").strip()


def _place_name(segments: list[str]) -> str | None:
    for marker in ("place", "search"):
        if marker in segments[:-1]:
            return segments[segments.index(marker) + 1] or None
    return None


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0
