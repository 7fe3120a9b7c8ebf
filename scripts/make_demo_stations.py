#!/usr/bin/env python3
"""Write honest demo stations and units for a region pack.

No licensed list of fire posts, ambulances or police posts exists for Padang or Banggai, so the demo places
one post per kecamatan (for agencies marked `per_kecamatan`) at the kecamatan's label point, and one head office
in the capital kecamatan for the others. Every row is named "(demo)" and carries demo=1. A command center
replaces them with `tanggap import stations FILE`.

Usage: scripts/make_demo_stations.py padang banggai
"""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from pathlib import Path

TYPE_ABBR = {"pumper": "PMK", "ambulance": "AMB", "patrol": "PTR", "rescue": "RES", "rescue_boat": "KPL"}
REGIONS = Path(__file__).resolve().parent.parent / "config" / "regions"


def main(region: str) -> None:
    folder = REGIONS / region
    pack = tomllib.loads((folder / "region.toml").read_text(encoding="utf-8"))
    kecamatan = json.loads((folder / "geo" / "kecamatan.geojson").read_text(encoding="utf-8"))["features"]
    by_code = {f["properties"]["kode"]: f["properties"] for f in kecamatan}
    stations: list[dict[str, object]] = []
    units: list[dict[str, object]] = []
    for agency in pack["agency"]:
        if "station_prefix" not in agency:  # referral-only (PDAM, PLN): no post on the map
            continue
        kec_codes = sorted(by_code) if agency.get("per_kecamatan") else [pack["capital_kecamatan"]]
        for kode in kec_codes:
            props = by_code[kode]
            code = f"{agency['code']}-{kode.replace('.', '')}"
            stations.append(
                {
                    "code": code,
                    "name": f"{agency['station_prefix']} {props['nama']} (demo)",
                    "agency": agency["code"],
                    "lat": props["label_lat"],
                    "lon": props["label_lng"],
                    "kecamatan_code": kode,
                    "demo": 1,
                }
            )
            for spec in agency["units"]:
                for n in range(1, spec["count"] + 1):
                    abbr = TYPE_ABBR.get(spec["type"], spec["type"][:3].upper())
                    units.append(
                        {
                            "callsign": f"{agency['code'].upper()}-{kode[-2:]}-{abbr}{n}",
                            "unit_type": spec["type"],
                            "agency": agency["code"],
                            "station": code,
                            "demo": 1,
                        }
                    )
    _write(folder / "stations.csv", stations)
    _write(folder / "units.csv", units)
    print(f"{region}: {len(stations)} stations, {len(units)} units (demo)")


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    for name in sys.argv[1:] or ["padang", "banggai"]:
        main(name)
