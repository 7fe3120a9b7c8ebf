"""Shelters and evacuation points: the region pack's list (`config/regions/<code>/shelters.csv`) or the command
center's own (`tanggap shelters import`), the nearest to a point, and the public information message that names
them (the IVR's option 3 reads it, a later piece of work).

A file is read whole and checked row by row: a bad file is refused with its line, never half taken.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dispatch.errors import Invalid

FILE = "shelters.csv"
KINDS = ("shelter", "gedung", "dataran_tinggi", "titik_kumpul")  # tsunami shelter, building, high ground, assembly
KIND_NAMES = {
    "shelter": ("shelter tsunami", "tsunami shelter"),
    "gedung": ("gedung evakuasi", "evacuation building"),
    "dataran_tinggi": ("dataran tinggi", "high ground"),
    "titik_kumpul": ("titik kumpul", "assembly point"),
}
COLUMNS = ("name", "kind", "lat", "lon")  # required; accuracy_m, capacity, kecamatan, address, source optional
MAX_ROWS = 5000


@dataclass(frozen=True)
class Shelter:
    name: str
    kind: str
    lat: float
    lon: float
    accuracy_m: float | None = None
    capacity: int | None = None
    kecamatan: str | None = None
    address: str | None = None
    source: str | None = None


def parse(text: str) -> list[Shelter]:
    """Shelters from CSV text (lines starting with # are comments). `Invalid` names the first bad line."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid(f"Kolom wajib tidak ada: {', '.join(missing)}. / Missing columns: {', '.join(missing)}.")
    out: list[Shelter] = []
    for number, row in enumerate(reader, start=2):
        if len(out) >= MAX_ROWS:
            raise Invalid(f"Lebih dari {MAX_ROWS} baris. / More than {MAX_ROWS} rows.")
        out.append(_row(row, number))
    if not out:
        raise Invalid("Berkas tidak berisi tempat evakuasi. / The file lists no shelter.")
    return out


def _row(row: dict[str, str | None], number: int) -> Shelter:
    def text(name: str) -> str | None:
        value = (row.get(name) or "").strip()
        return value or None

    name, kind = text("name"), text("kind")
    if not name or len(name) > 200:
        raise Invalid(f"Baris {number}: nama kosong atau terlalu panjang. / Line {number}: name empty or too long.")
    if kind not in KINDS:
        raise Invalid(
            f"Baris {number}: jenis {kind!r} tidak dikenal ({', '.join(KINDS)}). / "
            f"Line {number}: unknown kind {kind!r} ({', '.join(KINDS)})."
        )
    try:
        lat, lon = float(text("lat") or "x"), float(text("lon") or "x")
        accuracy_text, capacity_text = text("accuracy_m"), text("capacity")
        accuracy = float(accuracy_text) if accuracy_text else None
        capacity = int(capacity_text) if capacity_text else None
    except ValueError:
        raise Invalid(f"Baris {number}: angka tidak terbaca. / Line {number}: a number cannot be read.") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise Invalid(f"Baris {number}: koordinat tidak sah. / Line {number}: invalid coordinates.")
    if (accuracy is not None and not 0 <= accuracy <= 100_000) or (capacity is not None and capacity < 0):
        raise Invalid(f"Baris {number}: akurasi atau kapasitas tidak sah. / Line {number}: bad accuracy or capacity.")
    return Shelter(name, kind, lat, lon, accuracy, capacity, text("kecamatan"), text("address"), text("source"))


def check_in_region(shelters: Sequence[Shelter], locate: Callable[[float, float], object]) -> None:
    """Every shelter where this command center works: `locate` (`Region.locate`) raises `Invalid` for a point far
    outside the region; the shelter's name is added to its reason."""
    for shelter in shelters:
        try:
            locate(shelter.lat, shelter.lon)
        except Invalid as exc:
            raise Invalid(f"{shelter.name}: {exc.message}") from None


def read(path: Path) -> list[Shelter]:
    try:
        return parse(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"Berkas {path.name} tidak terbaca. / Cannot read {path.name} ({type(exc).__name__}).") from None


def source_file(pack_folder: Path, own_dir: Path | None) -> Path | None:
    """The command center's own list when it imported one, else the region pack's; None without either."""
    for path in ((own_dir / FILE) if own_dir else None, pack_folder / FILE):
        if path is not None and path.is_file():
            return path
    return None


def load(pack_folder: Path, own_dir: Path | None) -> list[Shelter]:
    """The shelters in force. Read again when the file changes: an import needs no restart."""
    path = source_file(pack_folder, own_dir)
    if path is None:
        return []
    return list(_cached(path, path.stat().st_mtime_ns))


@lru_cache(maxsize=8)
def _cached(path: Path, _mtime: int) -> tuple[Shelter, ...]:
    return tuple(read(path))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine): the straight line a person on foot is told, not the route."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, a)))


def nearest(shelters: Sequence[Shelter], lat: float, lon: float, n: int = 3) -> list[tuple[Shelter, float]]:
    found = sorted(((s, distance_m(lat, lon, s.lat, s.lon)) for s in shelters), key=lambda x: (x[1], x[0].name))
    return found[:n]


def _km(metres: float, decimal: str) -> str:
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} m"
    return f"{metres / 1000:.1f}".replace(".", decimal) + " km"


def public_message(
    shelters: Sequence[Shelter], *, name: str, lat: float | None = None, lon: float | None = None, n: int = 3
) -> dict[str, str]:
    """What a caller who asks for information hears or reads: the major incident and the nearest shelters (from
    the caller's position when known, else the first of the list), in Bahasa Indonesia and English."""
    if lat is not None and lon is not None:
        picked = nearest(shelters, lat, lon, n)
    else:
        picked = [(s, math.nan) for s in shelters[:n]]
    id_parts = [f"Informasi keadaan darurat: {name}."]
    en_parts = [f"Emergency information: {name}."]
    if picked:
        id_list = "; ".join(_named(s, d, 0) for s, d in picked)
        en_list = "; ".join(_named(s, d, 1) for s, d in picked)
        id_parts.append(f"Tempat evakuasi terdekat: {id_list}.")
        en_parts.append(f"Nearest evacuation points: {en_list}.")
    id_parts.append("Ikuti arahan petugas. Jika ada orang terjebak atau terluka, hubungi 112 dan tekan 1.")
    en_parts.append("Follow the officers' directions. If someone is trapped or injured, call 112 and press 1.")
    return {"id": " ".join(id_parts), "en": " ".join(en_parts)}


def _named(shelter: Shelter, metres: float, lang: int) -> str:
    kind = KIND_NAMES[shelter.kind][lang]
    where = f", {shelter.address}" if shelter.address else ""
    far = "" if math.isnan(metres) else f", {_km(metres, ',' if lang == 0 else '.')}"
    return f"{shelter.name} ({kind}{where}{far})"
