"""Coordinates in the forms callers give them: typed decimals and DMS, Plus Codes, map links, and what is refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openlocationcode import openlocationcode as olc

from geo.coords import BBox
from geo.errors import BadCoordinates, BadLocationText, BadQuery, GeoError
from geo.maplinks import osm_shortlink
from geo.pointtext import ParsedPoint, parse_point

# The region boxes of config/regions (Jurisdictions.bbox).
PADANG = BBox(south=-1.137027, west=100.137915, north=-0.726059, east=100.56561)
BANGGAI = BBox(south=-1.62166, west=121.851419, north=-0.420474, east=123.459504)
# A house in Lubuk Begalung/Padang Timur, as Google Maps shows it: decimal and DMS.
LAT, LON = -0.9471, 100.4172


@dataclass(frozen=True)
class _Place:
    lat: float
    lon: float


class Towns:
    """A gazetteer stand-in: the only method parse_point uses."""

    PLACES: ClassVar[dict[str, _Place]] = {"padang": _Place(-0.8989, 100.4376), "luwuk": _Place(-0.9389, 122.7917)}

    def search(self, query: str, limit: int = 10) -> Sequence[_Place]:
        if len(query) > 100:
            raise BadQuery("too long")
        found = self.PLACES.get(query.strip().lower().removeprefix("kota "))
        return [found] if found else []


def parse(text: str, bbox: BBox = PADANG) -> ParsedPoint | None:
    return parse_point(text, bbox=bbox, localities=Towns())


def point(text: str, bbox: BBox = PADANG) -> ParsedPoint:
    got = parse(text, bbox)
    assert got is not None, text
    return got


def near(got: ParsedPoint, lat: float = LAT, lon: float = LON, metres: float = 20.0) -> bool:
    return abs(got.lat - lat) * 111_320 < metres and abs(got.lon - lon) * 111_320 < metres


@pytest.mark.parametrize(
    "text",
    [
        "-0.9471, 100.4172",  # Google Maps' copy of a dropped pin
        "-0.9471,100.4172",
        "-0,9471 100,4172",  # comma decimals, as an Indonesian phone shows them
        "-0,9471, 100,4172",
        "-0,9471;100,4172",
        "-0,9471,100,4172",  # four comma groups: two comma-decimal numbers
        "100,4172 -0,9471",  # longitude first: only this reading is near Padang
        "100.4172, -0.9471",
        "  −0.9471 / 100.4172  ",  # a typographic minus
        "lat -0.9471 lon 100.4172",
        "Lat: -0.9471, Long: 100.4172",
        "lon 100.4172 lat -0.9471",
        "lintang -0,9471 bujur 100,4172",
        "koordinat: -0.9471, 100.4172",
        "0.9471 S 100.4172 E",
        "0.9471S, 100.4172E",
        "S 0.9471 E 100.4172",
        "0,9471 LS 100,4172 BT",
        "100,4172 BT 0,9471 LS",
        "-0.9471 LS 100.4172 BT",  # minus and LS say the same thing
        "0,9471° LS 100,4172° BT",
        "0.9471 lintang selatan 100.4172 bujur timur",
        "📍 -0.9471, 100.4172",
        "-0.9471, 100.4172 (rumah saya, dekat masjid)",
    ],
)
def test_decimal_degrees_in_every_order_and_decimal_mark(text: str) -> None:
    got = point(text)
    assert near(got, metres=1) and got.form == "desimal"
    assert got.accuracy_m == pytest.approx(11.1)  # 4 decimals


@pytest.mark.parametrize(
    ("text", "accuracy_m"),
    [
        ("0°56'49.6\"S 100°25'01.9\"E", 3.1),  # Google Maps' DMS
        ("0°56'49.6\" S, 100°25'1.9\" E", 3.1),
        ("0° 56′ 49,6″ LS 100° 25′ 01,9″ BT", 3.1),  # primes and a comma in the seconds
        ("LS 0°56'49.6\" BT 100°25'01.9\"", 3.1),
        ("0º56'49.6''S 100º25'01.9''E", 3.1),  # ordinal sign for degrees, two quotes for seconds
        ("0 56 49.6 S 100 25 1.9 E", 3.1),
        ("-0°56'49.6\" 100°25'01.9\"", 3.1),
        ("0°56'50\"S 100°25'02\"E", 30.9),  # whole seconds: ~30 m
        ("S 0° 56.827' E 100° 25.032'", 1.9),  # degrees and decimal minutes, as a GPS unit writes them
        ("0 derajat 56 menit 49,6 detik LS 100 derajat 25 menit 1,9 detik BT", 3.1),
    ],
)
def test_degrees_minutes_seconds(text: str, accuracy_m: float) -> None:
    got = point(text)
    assert near(got) and got.form == "dms"
    assert got.accuracy_m == pytest.approx(accuracy_m, abs=0.1)


def test_either_order_is_decided_by_the_region_when_both_readings_are_possible() -> None:
    """Where longitudes are under 90 both readings are points somewhere: the one near the region wins."""
    east_africa = BBox(south=10.0, west=40.0, north=11.0, east=41.0)
    for text in ("10.5123 40.5123", "40.5123 10.5123"):
        got = point(text, east_africa)
        assert (got.lat, got.lon) == (10.5123, 40.5123), text
    far = point("48.8566 2.3522", east_africa)  # near neither: latitude first, as written
    assert (far.lat, far.lon) == (48.8566, 2.3522)


def test_northern_and_western_hemispheres_by_their_indonesian_letters() -> None:
    manado = point("1°29'30\" LU 124°50'30\" BT")
    assert manado.lat == pytest.approx(1.49167, abs=1e-4) and manado.lon == pytest.approx(124.84167, abs=1e-4)
    west = point("6°10'00\" LS 106°49'00\" BB")
    assert west.lat < 0 and west.lon == pytest.approx(-106.8167, abs=1e-3)


def test_name_is_the_point_with_comma_decimals() -> None:
    assert point("-0.9471 100.4172").name == "-0,94710, 100,41720"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lat 100.4172 lon -0.9471", "swapped"),  # the text says latitude first: that is a swap, not a choice
        ("https://maps.google.com/?q=100.4172,-0.9471", "swapped"),
        ("nan, 100.4172", "finite"),
        ("https://maps.google.com/?q=NaN,NaN", "finite"),
        ("-0.9471, 200.4172", "longitude 200.4172 is out of range"),
        ("95.1234 95.1234", "latitude 95.1234 is out of range"),
    ],
)
def test_bad_points_get_the_readable_errors_of_validate_point(text: str, message: str) -> None:
    with pytest.raises(BadCoordinates, match=message):
        parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-0.9471", "satu angka"),
        ("12", "satu angka"),
        ("-0.9, 100.4", r"terlalu kasar \(±11 km\)"),  # one decimal is a district, not a house
        ("-1 100", "terlalu kasar"),
        ("0°61'00\"S 100°25'01\"E", "di bawah 60"),
        ("0.5°30' S 100°25' E", "di bawah 60"),  # decimals before the last number
        ("-0.9471 LU 100.4172 BT", "Huruf arah"),  # minus and north disagree
        ("0.9471 LS 0.4172 LS", "Dua-duanya"),
        ("lat -0.9471 lat 100.4172", "Dua-duanya"),
        ("56'49\" S 100°25'01\" E", "tidak berurutan"),
        ("1 2 3 4 5 6", "tidak terbaca"),
        ("%%%$$", "Lokasi tidak dikenali"),
        ("...", "Lokasi tidak dikenali"),
    ],
)
def test_a_failed_coordinate_attempt_says_why(text: str, message: str) -> None:
    with pytest.raises(BadLocationText, match=message):
        parse(text)


def test_not_recognised_shows_examples_for_the_region() -> None:
    with pytest.raises(BadLocationText) as refused:
        parse("#$%")
    message = str(refused.value)
    assert message.startswith("Lokasi tidak dikenali") and "/ Location not recognised" in message
    assert "-0,9315 100,3518" in message and "LS" in message and "BT" in message and "+" in message
    with pytest.raises(BadLocationText, match="-1,0211 122,6555"):
        parse("#$%", BANGGAI)


@pytest.mark.parametrize(
    "text",
    ["Kuranji", "Lubeg", "SD Negeri 12", "Jl. Sudirman No. 5", "RT 02 RW 03", "Simpang Haru", "pasar raya", "LS"],
)
def test_place_names_are_left_to_the_gazetteer(text: str) -> None:
    assert parse(text) is None
    assert parse("   ") is None  # empty: the gazetteer's own message


# ---- Plus Codes ------------------------------------------------------------------------------------------

FULL = olc.encode(LAT, LON)  # 6PF23C38+5V
SHORT = FULL[4:]  # 3C38+5V


@pytest.mark.parametrize(
    "text",
    [FULL, FULL.lower(), f"Plus Code: {FULL}", SHORT, f"{SHORT} Padang", f"{SHORT}, Kota Padang, Sumatera Barat"],
)
def test_plus_codes_full_and_short(text: str) -> None:
    got = point(text)
    assert near(got) and got.form == "plus code"
    assert got.accuracy_m == pytest.approx(13.9, abs=0.1)  # the cell of a 10-digit code


def test_eleven_digit_plus_code_is_finer() -> None:
    assert point(olc.encode(LAT, LON, 11)).accuracy_m < 4


def test_short_plus_code_with_a_place_we_do_not_know_is_refused() -> None:
    with pytest.raises(BadLocationText, match="'jakarta' tidak ditemukan"):
        parse(f"{SHORT} Jakarta")


def test_short_plus_code_that_fits_two_places_in_a_wide_region_is_refused() -> None:
    """Banggai is 1.6° wide: a code without its first four digits fits two 1° cells of the regency."""
    code = olc.encode(-1.0, 122.1)[4:]
    with pytest.raises(BadLocationText, match="ada di 2 tempat"):
        parse(code, BANGGAI)
    luwuk = olc.encode(-0.9389, 122.7917)
    assert near(point(luwuk[4:], BANGGAI), -0.9389, 122.7917)  # one cell only: the centre settles it
    assert near(point(f"{luwuk[4:]} Luwuk", BANGGAI), -0.9389, 122.7917)


# ---- Map links -------------------------------------------------------------------------------------------

PIN = [
    # WhatsApp: a location message forwarded as text, on Android and on iPhone
    "https://maps.google.com/maps?q=-0.9471%2C100.4172&z=17&hl=en",
    "https://maps.google.com/?q=-0.9471,100.4172",
    "Lokasi saya: https://maps.google.com/?q=-0.9471,100.4172 tolong cepat",
    # Google Maps
    "https://www.google.com/maps?q=-0.9471,100.4172",
    "https://www.google.co.id/maps?q=loc:-0.9471+100.4172",
    "https://www.google.com/maps/search/?api=1&query=-0.9471%2C100.4172",
    "https://www.google.com/maps/search/-0.9471,+100.4172?entry=tts",
    "https://www.google.com/maps/place/-0.9471,100.4172",
    "https://www.google.com/maps/place/-0.9471+100.4172/@-0.9471,100.4172,17z",
    "https://www.google.com/maps/place/0%C2%B056'49.6%22S+100%C2%B025'01.9%22E/@-0.9468,100.4140,17z/"
    "data=!3m1!4b1!4m4!3m3!8m2!3d-0.9471!4d100.4172?entry=ttu",
    "https://www.google.com/maps/place/Rumah+Makan+Sederhana/@-0.9460,100.4150,17z/"
    "data=!3m1!4b1!4m6!3m5!1s0x2fd4b9:0x1!8m2!3d-0.9471!4d100.4172!16s%2Fg%2F11",
    "https://www.google.com/maps/dir/?api=1&destination=-0.9471,100.4172",
    "https://www.google.com/maps/dir/-0.9200,100.3600/-0.9471,100.4172/@-0.93,100.39,14z",
    "comgooglemaps://?q=-0.9471,100.4172",
    "www.google.com/maps?q=-0.9471,100.4172",
    # OpenStreetMap
    "https://www.openstreetmap.org/?mlat=-0.9471&mlon=100.4172#map=17/-0.9471/100.4172",
    "https://www.openstreetmap.org/search?query=-0.9471%2C100.4172",
    # Apple Maps: a dropped pin shared from an iPhone, and the newer place link
    "https://maps.apple.com/?ll=-0.9471,100.4172&q=Dropped%20Pin&t=m",
    "http://maps.apple.com/?q=-0.9471,100.4172",
    "https://maps.apple.com/place?coordinate=-0.9471,100.4172&name=Marked%20Location",
    # geo: URIs (RFC 5870, Android intents)
    "geo:-0.9471,100.4172",
    "geo:0,0?q=-0.9471,100.4172(Rumah)",
]


@pytest.mark.parametrize("text", PIN)
def test_map_links_with_a_pin(text: str) -> None:
    got = point(text)
    assert near(got, metres=1), got
    assert got.accuracy_m == pytest.approx(11.1)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("https://www.google.com/maps/@-0.9471,100.4172,17z", "Google Maps"),
        ("https://www.google.com/maps/@-0.9471,100.4172,17.5z?entry=ttu", "Google Maps"),
        ("https://www.openstreetmap.org/#map=17/-0.94710/100.41720", "OpenStreetMap"),
        ("https://www.openstreetmap.org/?lat=-0.9471&lon=100.4172&zoom=17", "OpenStreetMap"),
    ],
)
def test_a_map_view_is_placed_with_the_width_of_the_view(text: str, form: str) -> None:
    got = point(text)
    assert near(got, metres=1) and got.form == form
    assert 150 < got.accuracy_m < 250  # half a phone screen at zoom 17: the pin may be anywhere in view


def test_accuracy_of_links_that_carry_their_own() -> None:
    assert point("geo:-0.9471,100.4172;u=35").accuracy_m == 35
    assert point("https://www.google.com/maps/@-0.9471,100.4172,3a,75y,90t/data=!3m6").accuracy_m == 11.1
    assert point("https://www.google.com/maps/@-0.94712,100.41723,400m/data=!3m1!1e3").accuracy_m == 200


def test_a_zoomed_out_view_is_not_a_point() -> None:
    with pytest.raises(BadLocationText, match="pusat tampilan peta"):
        parse("https://www.google.com/maps/@-0.9471,100.4172,12z")


def test_plus_code_inside_a_google_link() -> None:
    got = point(f"https://www.google.com/maps/place/{SHORT.replace('+', '%2B')}+Padang/@-0.947,100.417,17z")
    assert near(got) and got.form == "Google Maps" and got.accuracy_m == pytest.approx(13.9, abs=0.1)
    assert near(point(f"https://plus.codes/{FULL}"))


def test_openstreetmap_short_links_decode_offline() -> None:
    # The example of the OSM wiki's reference encoder: (50.671530961990356, 6.09715461730957) at zoom 16.
    spot = osm_shortlink("0GAjIv8h")
    lat, lon = (float(v) for v in spot.text.split(","))
    assert lat == pytest.approx(50.67153, abs=2e-4) and lon == pytest.approx(6.09715, abs=2e-4)
    assert 400 < spot.view_m < 600
    assert osm_shortlink("wAAA--").view_m > osm_shortlink("wAAA").view_m  # '-' = one zoom level less
    with pytest.raises(BadLocationText, match="tidak terbaca"):
        osm_shortlink("0GAj!v8h")


@pytest.mark.parametrize(
    "text",
    [
        "https://maps.app.goo.gl/Xk3pY7fQ2abCdE9u8",  # Google Maps' share button, and WhatsApp's live location
        "https://goo.gl/maps/AbCdEfGh12345",
        "maps.app.goo.gl/Xk3pY7fQ2abCdE9u8",
        "https://bit.ly/3xYzAbc",
        "https://s.id/lokasiku",
        "https://maps.apple/p/AbC.dEf",
        "Dropped pin\nhttps://maps.app.goo.gl/Xk3pY7fQ2abCdE9u8",
    ],
)
def test_short_links_need_the_internet_and_say_so(text: str) -> None:
    with pytest.raises(BadLocationText, match="internet") as refused:
        parse(text)
    assert "koordinat" in str(refused.value)


def test_coordinates_written_beside_a_short_link_stand_alone() -> None:
    assert near(point("-0.9471, 100.4172\nhttps://maps.app.goo.gl/Xk3pY7fQ2abCdE9u8"), metres=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("https://www.google.com/maps/search/?api=1&query=Pasar+Raya+Padang", '"Pasar Raya Padang"'),
        ("https://www.google.com/maps/place/Pasar+Raya+Padang", '"Pasar Raya Padang"'),
        ("https://www.openstreetmap.org/node/123456", "tidak memuat koordinat"),
        ("https://example.com/lokasi?q=-0.9471,100.4172", "bukan tautan peta"),
        ("https://wa.me/6281234567890", "bukan tautan peta"),
    ],
)
def test_links_without_coordinates_are_refused_with_what_they_hold(text: str, message: str) -> None:
    with pytest.raises(BadLocationText, match=message):
        parse(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.from_regex(r"[-+ ]?\d{1,3}[.,]\d{0,6}[ ,;°'\"NSEWLUBT]{0,4}\d{0,3}[.,]?\d{0,6}"))
def test_any_text_is_a_point_a_name_or_a_geo_error(text: str) -> None:
    """Whatever is typed: never another exception (the search endpoint must not answer 500)."""
    try:
        got = parse(text)
    except GeoError:
        return
    assert got is None or (-90 <= got.lat <= 90 and -180 <= got.lon <= 180 and got.accuracy_m >= 1)
