"""Advanced Mobile Location (AML) SMS: the handset's own fix, sent during an emergency call.

Versions 1 and 2 reuse keys with different meanings (v1 `lt` is latitude, v2 `lt` is seconds from call start
to fix), so the parser branches on the version first. Errors never quote coordinates or numbers: they end up
in logs, and the raw text is kept separately.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dispatch.bounds import FIRST_DAY, LAST_DAY
from dispatch.clock import SKEW

PREFIX = 'A"ML='
SOURCES = {"G": "gnss", "W": "wifi", "C": "cell", "U": "unknown", "F": "fused", "N": "none"}
_MAX_LEN = 640  # a few concatenated SMS; anything longer is not AML


class AmlError(ValueError):
    """The text claims to be AML but cannot be used; `str()` says why, without personal data."""


@dataclass(frozen=True)
class AmlFix:
    version: int
    lat: float
    lon: float
    accuracy_m: float | None
    fix_at: datetime | None
    confidence: int | None
    source: str  # gnss, wifi, cell, fused, unknown
    dialled: str | None = None  # v2 `en`
    call_start: datetime | None = None  # v2 `et`
    altitude_m: float | None = None
    imei: str | None = None


def is_aml(text: str | None) -> bool:
    return text is not None and text.lstrip().startswith(PREFIX)


def parse(text: str, *, now: datetime | None = None) -> AmlFix:
    """Parse an AML SMS body; raise `AmlError` with a readable reason when it cannot be used. With `now` (when
    the SMS came), a fix time more than `dispatch.clock.SKEW` after it is one too: a handset's fix time comes
    from its GNSS, so a later one is a corrupt or forged message."""
    fix = _parse(text)
    if fix.fix_at is not None and now is not None and fix.fix_at > now + SKEW:
        raise AmlError("AML fix time lies in the future")
    return fix


def _parse(text: str) -> AmlFix:
    body = text.strip()
    if not body.startswith(PREFIX):
        raise AmlError('not an AML message (no A"ML= header)')
    if len(body) > _MAX_LEN:
        raise AmlError("AML message is too long")
    if not body.isascii():
        # Handsets send AML as GSM 7-bit text. Python's isdigit(), int() and float() also take the digits of
        # other scripts ('²', Arabic-Indic): '²' crashed int() and '١٢٣' passed as a time.
        raise AmlError("AML message has characters outside ASCII")
    fields = _fields(body[len(PREFIX) :])
    version = fields.pop("_version")
    if version == "1":
        return _v1(body, fields)
    if version == "2":
        return _v2(body, fields)
    raise AmlError(f"unsupported AML version {version[:8]!r}")


def _fields(rest: str) -> dict[str, str]:
    version, _, tail = rest.partition(";")
    out = {"_version": version.strip()}
    for part in tail.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise AmlError("AML field without key=value")
        if key in out:
            raise AmlError(f"AML field {key[:8]!r} repeated")
        out[key] = value.strip()
    return out


def _v1(body: str, f: dict[str, str]) -> AmlFix:
    _check_length(body, f)
    if f.get("pm", "").upper() == "N":
        raise AmlError("AML v1 message carries no location (pm=N)")
    lat, lon = _number(f, "lt", "latitude"), _number(f, "lg", "longitude")
    _check_point(lat, lon)
    radius = _optional_number(f, "rd", "radius")
    return AmlFix(
        version=1,
        lat=lat,
        lon=lon,
        accuracy_m=_non_negative(radius, "radius"),
        fix_at=_timestamp(f.get("top")),
        confidence=_confidence(f.get("lc")),
        source=SOURCES.get(f.get("pm", "U").upper(), "unknown"),
        imei=f.get("ei") or None,
    )


def _v2(body: str, f: dict[str, str]) -> AmlFix:
    if "ml" in f:
        _check_length(body, f)
    if f.get("ls", "").upper() == "N":
        raise AmlError("AML v2 message carries no location (ls=N)")
    parts = [p.strip() for p in f.get("lo", "").split(",")] if f.get("lo") else []
    if len(parts) not in (2, 3):
        raise AmlError("AML v2 needs lo=lat,lon[,accuracy]")
    lat, lon = _float(parts[0], "latitude"), _float(parts[1], "longitude")
    _check_point(lat, lon)
    accuracy = _non_negative(_float(parts[2], "accuracy"), "accuracy") if len(parts) == 3 and parts[2] else None
    start = _epoch(f.get("et"))
    offset = _optional_number(f, "lt", "time to fix")
    # lt is seconds from call start to the fix; negative values (-9999) mean "not known".
    fix_at = None
    if start is not None and offset is not None and offset >= 0:
        try:
            fix_at = _sane(start + timedelta(seconds=offset))
        except OverflowError:
            raise AmlError("AML time to fix is out of range") from None
    altitude = None
    if f.get("lz"):
        altitude = _float(f["lz"].split(",")[0], "altitude")
    return AmlFix(
        version=2,
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
        fix_at=fix_at,
        confidence=_confidence(f.get("lc")),
        source=SOURCES.get(f.get("ls", "U").upper(), "unknown"),
        dialled=f.get("en") or None,
        call_start=start,
        altitude_m=altitude,
        imei=f.get("ei") or None,
    )


def _check_length(body: str, f: dict[str, str]) -> None:
    """v1 `ml` is the length of the whole message, header and `ml` field included."""
    declared = f.get("ml")
    if declared is None:
        raise AmlError("AML v1 message has no ml (length) field")
    if not declared.isdigit() or int(declared) != len(body):
        raise AmlError("AML length field does not match the message (truncated or altered)")


def _float(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise AmlError(f"AML {name} is not a number") from None
    if not math.isfinite(value):
        raise AmlError(f"AML {name} is not a finite number")
    return value


def _number(f: dict[str, str], key: str, name: str) -> float:
    if not f.get(key):
        raise AmlError(f"AML message has no {name}")
    return _float(f[key], name)


def _optional_number(f: dict[str, str], key: str, name: str) -> float | None:
    return _float(f[key], name) if f.get(key) else None


def _non_negative(value: float | None, name: str) -> float | None:
    if value is not None and value < 0:
        raise AmlError(f"AML {name} is negative")
    return value


def _check_point(lat: float, lon: float) -> None:
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise AmlError("AML coordinates out of range")
    if lat == 0 and lon == 0:
        raise AmlError("AML coordinates are 0,0 (no fix)")


def _confidence(raw: str | None) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 100:
        raise AmlError("AML confidence must be 0-100")
    return int(raw)


def _timestamp(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        at = datetime.strptime(raw, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise AmlError("AML fix time is not YYYYMMDDhhmmss") from None
    return _sane(at)


def _epoch(raw: str | None) -> datetime | None:
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 11:
        raise AmlError("AML call start is not an epoch time")
    try:
        start = datetime.fromtimestamp(int(raw), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise AmlError("AML call start is out of range") from None
    if not FIRST_DAY.year <= start.year <= LAST_DAY.year:
        raise AmlError(f"AML call start is out of range ({FIRST_DAY.year}-{LAST_DAY.year})")
    return start


def _sane(at: datetime) -> datetime:
    if not FIRST_DAY.year <= at.year <= LAST_DAY.year:
        raise AmlError(f"AML fix time is out of range ({FIRST_DAY.year}-{LAST_DAY.year})")
    return at
