"""Two numbers read off a caller's phone: decimal degrees or degrees-minutes-seconds, as people type them.

"-0,9471 100,4172", "0°56'49.6"S 100°25'01.9"E", "LS 0° 56.827' BT 100° 25.032'", "lat -0.9471 lon 100.4172",
"0 derajat 56 menit 49 detik LS ...". read_pair() only reads: which number is the latitude is decided by the
caller of this module (geo.pointtext), with the region in hand, when the text does not say it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from geo.errors import BadLocationText

LAT, LON = "lat", "lon"
# Hemisphere words in English and Indonesian (Lintang Utara/Selatan, Bujur Timur/Barat, and their letters).
HEMISPHERES = {
    **dict.fromkeys(("n", "u", "lu", "north", "utara"), (LAT, 1)),
    **dict.fromkeys(("s", "ls", "south", "selatan"), (LAT, -1)),
    **dict.fromkeys(("e", "t", "bt", "east", "timur"), (LON, 1)),
    **dict.fromkeys(("w", "b", "bb", "west", "barat"), (LON, -1)),
}
AXIS_WORDS = {
    **dict.fromkeys(("lat", "latitude", "lintang", "ltg"), LAT),
    **dict.fromkeys(("lon", "lng", "long", "longitude", "bujur", "bjr"), LON),
}
# Words around a coordinate that say nothing about it ("koordinat: ...", "titik lokasi ...").
FILLER = frozenset(
    "koordinat kordinat koordinatnya titik lokasi posisi gps di location coordinates coordinate coords".split()
)
UNITS = {"°": 0, "derajat": 0, "deg": 0, "'": 1, "menit": 1, "min": 1, '"': 2, "detik": 2, "dtk": 2, "sec": 2}
# Marks as phones and keyboards write them, folded to ° ' " before anything else.
_MARKS = str.maketrans(
    {"º": "°", "˚": "°", "′": "'", "’": "'", "‘": "'", "`": "'", "´": "'", "″": '"', "”": '"', "“": '"'}
)
_DASHES = str.maketrans({"−": "-", "–": "-", "—": "-", "\u00a0": " "})
_SPECIAL = r"nan|inf(?:inity)?"
_TOKEN = {
    mode: re.compile(
        rf"(?P<num>[-+]?(?:{number}|{_SPECIAL}))"
        r"|(?P<unit>[°'\"])"
        r"|(?P<word>[a-z]+)"
        r"|(?P<sep>[,;/|])"
        r"|(?P<skip>[\s:=()\[\].]+)"
    )
    for mode, number in (("dot", r"\d+(?:\.\d+)?"), ("comma", r"\d+(?:,\d+)?"))
}


@dataclass(frozen=True, slots=True)
class Reading:
    """Two coordinates as the text gives them, in its order.

    `axes` is set when the text says which is which (hemisphere letters, "lat"/"bujur" labels); `step_deg`
    is the smallest difference the text can express (its last digit), the honest measure of its precision.
    """

    first: float
    second: float
    axes: tuple[str, str] | None
    step_deg: float
    form: str  # "desimal" or "dms"


@dataclass
class _Number:
    text: str
    unit: int | None = None  # 0 degrees, 1 minutes, 2 seconds

    @property
    def negative(self) -> bool:
        return self.text.startswith("-")

    @property
    def value(self) -> float:
        return abs(float(self.text.replace(",", ".")))

    @property
    def decimals(self) -> int:
        _, _, fraction = self.text.replace(",", ".").partition(".")
        return len(fraction) if fraction.isdigit() else 0


@dataclass
class _Group:
    numbers: list[_Number] = field(default_factory=list)
    axis: str | None = None
    sign: int = 0  # from a hemisphere word: 1 north/east, -1 south/west


def clean(text: str) -> str:
    """Lower case, with the marks, dashes and spaces of phones and word processors folded to ASCII."""
    text = text.translate(_MARKS).translate(_DASHES).replace("''", '"')
    return unicodedata.normalize("NFKC", text).lower().strip()


def read_pair(text: str, *, loose: bool = False) -> Reading | None:
    """The two coordinates in `text`, or None when it is not written as coordinates at all (a place name).

    Raises BadLocationText when it is written as coordinates but does not make exactly two of them. With
    `loose`, words that are not coordinate words are skipped instead of making the text a name.
    """
    tokens = _tokens(clean(text), loose=loose)
    if tokens is None or not any(isinstance(t, _Number) for t in tokens):
        return None
    groups = [g for g in _groups(tokens) if g.numbers]
    if len(groups) == 1:
        raise BadLocationText(
            "Baru satu angka: koordinat perlu lintang dan bujur. / Only one number: a coordinate needs two."
        )
    if len(groups) != 2 or any(len(g.numbers) > 3 for g in groups):
        raise BadLocationText(
            "Angka-angka ini tidak terbaca sebagai satu pasang lintang, bujur. "
            "/ These numbers do not read as one latitude, longitude pair."
        )
    (first, step1), (second, step2) = (_degrees(g) for g in groups)
    form = "dms" if any(len(g.numbers) > 1 for g in groups) else "desimal"
    return Reading(first, second, _axes(groups), max(step1, step2), form)


def _tokens(text: str, *, loose: bool) -> list[_Number | _Group | str] | None:
    """Numbers (with their unit mark), hemisphere words as _Group stubs, axis words and separators; None as
    soon as something is not coordinate syntax."""
    pattern = _TOKEN["dot" if re.search(r"\d\.\d", text) else "comma"]
    text = re.sub(r"\b(lintang|bujur)\s+(?=(utara|selatan|timur|barat)\b)", "", text)  # "lintang selatan" = LS
    out: list[_Number | _Group | str] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() != position and not loose:
            return None
        position = match.end()
        kind, value = match.lastgroup, match.group()
        if kind == "num":
            out.append(_Number(value))
        elif kind == "unit" or (kind == "word" and value in UNITS):
            if not out or not isinstance(out[-1], _Number) or out[-1].unit is not None:
                return None
            out[-1].unit = UNITS[value]
        elif kind == "word" and value in HEMISPHERES:
            axis, sign = HEMISPHERES[value]
            out.append(_Group(axis=axis, sign=sign))
        elif kind == "word" and value in AXIS_WORDS:
            out.append(AXIS_WORDS[value])
        elif kind == "word" and value not in FILLER and not loose:
            return None
        elif kind == "sep":
            out.append(value)
    return out if loose or position == len(text) else None


def _groups(tokens: list[_Number | _Group | str]) -> list[_Group]:
    """Split the tokens into one group per coordinate. Separators, axis words and hemisphere words split;
    with none of those and no marks, every number stands alone ("-0.9471 100.4172")."""
    hemis = [t for t in tokens if isinstance(t, _Group)]
    words_first = not isinstance(next((t for t in tokens if not isinstance(t, str)), None), _Number)
    marked = any(isinstance(t, _Number) and t.unit is not None for t in tokens)
    alone = not (hemis or marked or any(isinstance(t, str) for t in tokens))
    groups = [_Group()]

    def close() -> None:
        if groups[-1].numbers or groups[-1].axis:
            groups.append(_Group())

    for token in tokens:
        current = groups[-1]
        if isinstance(token, _Number):
            if current.numbers and (alone or token.unit == 0 or _after_seconds(current)):
                close()
            groups[-1].numbers.append(token)
        elif isinstance(token, _Group):  # a hemisphere word
            if words_first:
                if current.numbers:
                    close()
                _set_hemisphere(groups[-1], token)
            else:
                if not current.numbers:
                    raise BadLocationText(_ORDER_MESSAGE)
                _set_hemisphere(current, token)
                close()
        elif token in (LAT, LON):
            close()
            groups[-1].axis = token
        else:  # a separator
            if current.numbers:
                close()
    return groups


def _after_seconds(group: _Group) -> bool:
    last = group.numbers[-1]
    return last.unit == 2 or len(group.numbers) == 3


def _set_hemisphere(group: _Group, hemi: _Group) -> None:
    if group.sign or (group.axis and group.axis != hemi.axis):
        raise BadLocationText(_ORDER_MESSAGE)
    group.axis, group.sign = hemi.axis, hemi.sign


_ORDER_MESSAGE = (
    "Huruf arah (LU/LS/BT/BB, N/S/E/W) tidak cocok dengan angkanya. "
    "/ The hemisphere letters (N/S/E/W) do not fit the numbers."
)


def _degrees(group: _Group) -> tuple[float, float]:
    """Signed degrees of one coordinate and the step of its last digit, in degrees."""
    numbers = group.numbers
    units = [n.unit if n.unit is not None else i for i, n in enumerate(numbers)]
    if units != list(range(len(numbers))) or any(n.negative for n in numbers[1:]):
        raise BadLocationText("Derajat, menit, detik tidak berurutan. / Degrees, minutes and seconds are out of order.")
    if any(n.value >= 60 for n in numbers[1:]) or any(n.decimals for n in numbers[:-1]):
        raise BadLocationText(
            "Menit dan detik harus di bawah 60, dan hanya angka terakhir boleh berkoma. "
            "/ Minutes and seconds must be under 60, and only the last number may have decimals."
        )
    value = sum(n.value / 60**i for i, n in enumerate(numbers))
    last = numbers[-1]
    step = 10.0**-last.decimals / 60 ** (len(numbers) - 1)
    negative = numbers[0].negative
    if group.sign > 0 and negative:
        raise BadLocationText(_ORDER_MESSAGE)
    return (-value if negative or group.sign < 0 else value), step


def _axes(groups: list[_Group]) -> tuple[str, str] | None:
    """Which coordinate is the latitude, when the text says so for at least one of them."""
    a, b = groups[0].axis, groups[1].axis
    if a is None and b is None:
        return None
    if a == b:
        raise BadLocationText(
            "Dua-duanya lintang atau dua-duanya bujur. / Both numbers are marked as latitude, or both as longitude."
        )
    first = a or (LAT if b == LON else LON)
    return (first, LON if first == LAT else LAT)
