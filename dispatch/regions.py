"""Region packs: the data a command center starts from (agencies, stations, units, incident catalogue).

A pack is a folder `config/regions/<code>/` with `region.toml`, `topics.toml` (complaint topics), `stations.csv`,
`units.csv` and `geo/`. This module parses it and seeds the database; seeding is idempotent, so re-running it
updates names and plans without touching live state (unit status, positions).
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency, Station, Unit
from dispatch.errors import Invalid
from dispatch.incidents.models import IncidentType
from dispatch.referrals.topics import Topic, load_topics


@dataclass(frozen=True)
class RegionPack:
    code: str
    name: str
    kode: str
    folder: Path
    timezone: ZoneInfo
    tz_label: str
    center: tuple[float, float]
    agencies: list[dict[str, Any]]
    catalogue: list[dict[str, Any]]
    topics: tuple[Topic, ...] = ()

    @property
    def geo_dir(self) -> Path:
        return self.folder / "geo"


def load_pack(folder: Path) -> RegionPack:
    meta = tomllib.loads((folder / "region.toml").read_text(encoding="utf-8"))
    catalogue_path = (folder / meta["catalogue"]).resolve()
    catalogue = tomllib.loads(catalogue_path.read_text(encoding="utf-8"))["type"]
    return RegionPack(
        code=meta["code"],
        name=meta["name"],
        kode=meta["kode"],
        folder=folder,
        timezone=ZoneInfo(meta["timezone"]),
        tz_label=meta["tz_label"],
        center=(float(meta["center"][0]), float(meta["center"][1])),
        agencies=meta["agency"],
        catalogue=catalogue,
        topics=load_topics(folder / "topics.toml", {a["code"] for a in meta["agency"]}),
    )


def seed(session: Session, pack: RegionPack) -> dict[str, int]:
    """Upsert agencies, incident types, stations and units from the pack. Commits. Refused on a database that
    holds another region: the packs share agency codes and callsigns, so a second region would be merged into
    the first (its units moved to the other region's posts)."""
    foreign = foreign_kecamatan(session, pack)
    if foreign:
        raise Invalid(
            f"this database holds another region (stations in kecamatan {', '.join(foreign)}); "
            f"{pack.name} ({pack.kode}) needs a database of its own (TANGGAP_DATABASE_URL)"
        )
    agencies = _seed_agencies(session, pack)
    types = _seed_catalogue(session, pack)
    stations = import_stations(session, pack.folder / "stations.csv", commit=False)
    units = _seed_units(session, pack.folder / "units.csv", agencies)
    session.commit()
    return {"agencies": len(agencies), "incident_types": types, "stations": stations, "units": units}


def foreign_kecamatan(session: Session, pack: RegionPack) -> list[str]:
    """Up to three kecamatan codes of stations outside the pack's region (its BPS code is their prefix)."""
    outside = Station.kecamatan_code.is_not(None) & ~Station.kecamatan_code.startswith(pack.kode + ".")
    found = session.scalars(select(Station.kecamatan_code).where(outside).distinct().limit(3))
    return [code for code in found if code]


def _seed_agencies(session: Session, pack: RegionPack) -> dict[str, Agency]:
    out: dict[str, Agency] = {}
    for spec in pack.agencies:
        row = session.scalar(select(Agency).where(Agency.code == spec["code"])) or Agency(code=spec["code"])
        row.name, row.kind, row.public_number = spec["name"], spec["kind"], spec.get("public_number")
        row.referral_sms = spec.get("referral_sms")
        session.add(row)
        out[row.code] = row
    session.flush()
    return out


def _seed_catalogue(session: Session, pack: RegionPack) -> int:
    for spec in pack.catalogue:
        row = session.get(IncidentType, spec["code"]) or IncidentType(code=spec["code"])
        row.name_id, row.name_en = spec["name_id"], spec["name_en"]
        row.category, row.priority = spec["category"], int(spec["priority"])
        row.emergency = bool(spec.get("emergency", True))
        row.plan = [{"kind": p["kind"], "count": int(p["count"])} for p in spec["plan"]]
        row.keywords = spec.get("keywords", "")
        session.add(row)
    session.flush()
    return len(pack.catalogue)


def _seed_units(session: Session, path: Path, agencies: dict[str, Agency]) -> int:
    stations = {s.code: s for s in session.scalars(select(Station))}
    count = 0
    for line in _read_csv(path, required=("callsign", "unit_type", "agency", "station")):
        agency = agencies.get(line["agency"])
        if agency is None:
            raise Invalid(f"{path.name}: unit {line['callsign']} names unknown agency {line['agency']!r}")
        row = session.scalar(select(Unit).where(Unit.callsign == line["callsign"])) or Unit(callsign=line["callsign"])
        row.unit_type, row.agency_id = line["unit_type"], agency.id
        station = stations.get(line["station"])
        row.station_id = station.id if station else None
        row.demo = line.get("demo", "0") in ("1", "true", "yes")
        session.add(row)
        count += 1
    session.flush()
    return count


def import_stations(session: Session, path: Path, *, commit: bool = True) -> int:
    """Load stations from CSV (code,name,agency,lat,lon[,kecamatan_code]) or GeoJSON points.

    Every row is checked before anything is written, so a bad file changes nothing.
    """
    rows = _station_rows(path)
    agencies = {a.code: a for a in session.scalars(select(Agency))}
    problems = []
    for n, row in enumerate(rows, start=1):
        if row["agency"] not in agencies:
            problems.append(f"row {n}: unknown agency {row['agency']!r} (known: {', '.join(sorted(agencies))})")
        lat, lon = row["lat"], row["lon"]
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            problems.append(f"row {n}: coordinates out of range ({lat}, {lon})")
    if problems:
        raise Invalid(f"{path.name}: " + "; ".join(problems[:10]))
    for row in rows:
        station = session.scalar(select(Station).where(Station.code == row["code"])) or Station(code=row["code"])
        station.name, station.agency_id = row["name"], agencies[row["agency"]].id
        station.lat, station.lon = row["lat"], row["lon"]
        station.kecamatan_code, station.demo = row.get("kecamatan_code"), bool(row.get("demo"))
        session.add(station)
    session.flush()
    if commit:
        session.commit()
    return len(rows)


def _station_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise Invalid(f"{path}: no such file")
    if path.suffix.lower() in (".geojson", ".json"):
        return _geojson_station_rows(path)
    rows = []
    for n, line in enumerate(_read_csv(path, required=("code", "name", "agency", "lat", "lon")), start=1):
        try:
            lat, lon = float(line["lat"]), float(line["lon"])
        except ValueError:
            raise Invalid(f"{path.name}: row {n}: lat/lon must be numbers") from None
        rows.append(
            {
                "code": line["code"].strip(),
                "name": line["name"].strip(),
                "agency": line["agency"].strip(),
                "lat": lat,
                "lon": lon,
                "kecamatan_code": (line.get("kecamatan_code") or None),
                "demo": line.get("demo", "0") in ("1", "true", "yes"),
            }
        )
    return rows


def _geojson_station_rows(path: Path) -> list[dict[str, Any]]:
    import json

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        features = doc["features"]
    except (ValueError, KeyError, TypeError):
        raise Invalid(f"{path.name}: not a GeoJSON FeatureCollection") from None
    rows = []
    for n, feature in enumerate(features, start=1):
        geometry, props = feature.get("geometry") or {}, feature.get("properties") or {}
        if geometry.get("type") != "Point":
            raise Invalid(f"{path.name}: feature {n} is not a Point")
        missing = [k for k in ("code", "name", "agency") if not props.get(k)]
        if missing:
            raise Invalid(f"{path.name}: feature {n} lacks properties {', '.join(missing)}")
        lon, lat = (float(v) for v in geometry["coordinates"][:2])
        rows.append({**props, "lat": lat, "lon": lon, "demo": bool(props.get("demo"))})
    return rows


def _read_csv(path: Path, *, required: tuple[str, ...]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise Invalid(f"{path.name}: missing columns {', '.join(missing)}")
        return list(reader)
