#!/usr/bin/env python3
"""Benchmark gazetteer search over 100,000 landmarks and streets; prints one JSON object per line on stdout.

The names are generated from the patterns Indonesian places are named by (Masjid Nurul Iman, SD Negeri 12,
Jalan Khatib Sulaiman, Gang Mawar, Pasar Lubuk Buaya ...) on Padang's own kelurahan names, and joined by the
Padang region pack's places. Queries are what call-takers type: a prefix being typed ("jl khat"), a typo
("masjid nurul imam"), a whole name with its abbreviation ("sdn 12 kuranji"). Each is timed against
`Gazetteer.search` and against the plain way measured in the same run (`baseline_*`): one rapidfuzz WRatio
scan over every name. `found_intended` is the share of queries whose intended place is in the top 10;
`load_avg` is the machine's 1-minute load when the run ended (2 cores: above 2, others were waiting too);
`best_of_3_*` time each query three times and keep the fastest, which leaves out the scheduler's share.

    .venv/bin/python scripts/bench_gazetteer.py            # 100,000 entries, about two minutes
    .venv/bin/python scripts/bench_gazetteer.py --quick    # 5,000 entries, for tests
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from geo.gazetteer import Entry, Gazetteer, Place
from geo.landmarks import Line, street
from geo.names import normalize

PADANG = Path(__file__).resolve().parent.parent / "config" / "regions" / "padang" / "geo"
BBOX = (-1.05, 100.30, -0.80, 100.50)  # south, west, north, east: the city's built-up part
LIMIT = 10
PLACE_TYPES = (
    ("Masjid", "ibadah"),
    ("Musala", "ibadah"),
    ("Surau", "ibadah"),
    ("Gereja", "ibadah"),
    ("SD Negeri", "sekolah"),
    ("SMP Negeri", "sekolah"),
    ("SMA Negeri", "sekolah"),
    ("Pasar", "pasar"),
    ("Toko", "toko"),
    ("Puskesmas", "klinik"),
    ("Klinik", "klinik"),
    ("Apotek", "apotek"),
    ("Rumah Sakit", "rumah_sakit"),
    ("Kantor Lurah", "kantor_pemerintah"),
    ("Kantor Camat", "kantor_pemerintah"),
    ("Bengkel", "bengkel"),
    ("Warung", "warung"),
    ("Hotel", "hotel"),
    ("Bank", "bank"),
    ("Simpang", "simpang"),
)
WORDS = (
    "Nurul Iman", "Al Furqan", "Taqwa", "Baiturrahman", "Al Ikhlas", "Raya", "Baru", "Lama", "Jaya", "Indah", "Makmur",
    "Sejahtera", "Permai", "Harapan", "Bunda", "Sehat", "Sentosa", "Mandiri", "Bersama", "Abadi", "Mawar", "Melati",
    "Anggrek", "Kenanga", "Cempaka", "Flamboyan", "Kamboja", "Dahlia", "Merpati", "Elang", "Rajawali", "Garuda",
    "Sudirman", "Ahmad Yani", "Diponegoro", "Khatib Sulaiman", "Hamka", "Veteran", "Pattimura", "Gajah Mada",
    "Hayam Wuruk", "Imam Bonjol", "Agus Salim", "Moh Hatta", "Sutan Syahrir", "Bagindo Aziz Chan", "Adinegoro",
    "Perintis Kemerdekaan",
    "Raden Saleh", "Thamrin", "Gatot Subroto", "Siteba", "Tabing", "Air Tawar", "Ulak Karang", "Lapai", "Belimbing",
)  # fmt: skip
STREET_TYPES = ("Jalan", "Gang", "Lorong", "Jalan Raya", "Komplek", "Perumahan")
ABBREVIATED = {"Jalan": "jl", "Gang": "gg", "Masjid": "msj", "SD Negeri": "sdn", "SMP Negeri": "smpn", "Pasar": "psr"}


def region_areas() -> list[str]:
    return [p.name for p in Gazetteer.load(PADANG, aliases={}).places if p.kind in ("kelurahan", "kecamatan")]


def generate(n: int, rng: random.Random) -> list[Entry]:
    """n landmarks and streets (about a third streets) with made-up but plausible names and points."""
    areas = [a.removesuffix(" Nan XX").removesuffix(" Nan XX") for a in region_areas()]
    entries: list[Entry] = []
    for i in range(n):
        lat, lon = rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])
        where = rng.choice(areas)
        if i % 3 == 2:
            name = f"{rng.choice(STREET_TYPES)} {rng.choice(WORDS)}" + (
                f" {rng.randint(1, 9)}" if rng.random() < 0.4 else ""
            )
            points = [(lat + k * rng.uniform(-4e-4, 4e-4), lon + k * rng.uniform(-4e-4, 4e-4)) for k in range(6)]
            entries.append(street(name, Line([points]), kecamatan=where, source="bench"))
            continue
        prefix, kind = rng.choice(PLACE_TYPES)
        if "Negeri" in prefix:
            name = f"{prefix} {rng.randint(1, 60)} {where}"
        else:
            name = f"{prefix} {rng.choice(WORDS)}" + (f" {where}" if rng.random() < 0.5 else "")
        place = Place(name, kind, None, where, lat, lon, 50.0, None, "bench")
        entries.append(Entry(place))
    return entries


def typo(text: str, rng: random.Random) -> str:
    """One slip of the keys: a letter dropped, doubled, swapped with the next, or replaced."""
    i = rng.randrange(1, max(2, len(text) - 1))
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i] + text[i:]
    if kind == 2 and i + 1 < len(text):
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeiounmrst") + text[i + 1 :]


def abbreviate(name: str) -> str:
    for long, short in ABBREVIATED.items():
        if name.startswith(long + " "):
            return short + " " + name[len(long) + 1 :]
    return name


def queries(entries: list[Entry], count: int, rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """(query, intended name) by kind: prefixes being typed, typos, whole names with abbreviations."""
    names = [e.place.name for e in entries]
    out: dict[str, list[tuple[str, str]]] = {"prefix": [], "typo": [], "abbreviated": []}
    for _ in range(count):
        name = rng.choice(names)
        typed = abbreviate(name).lower()
        out["prefix"].append((typed[: rng.randint(2, max(3, len(typed) - 1))], name))
        out["typo"].append((typo(name.lower(), rng), name))
        out["abbreviated"].append((typed, name))
    return out


def timed(
    run: Callable[[str], list[str]], qs: list[tuple[str, str]], repeat: int = 1
) -> tuple[list[float], list[float], float]:
    """Milliseconds per query (the first run, and the best of `repeat`: on a shared machine the first
    includes the time the scheduler gave to others), and the share of queries whose intended name was in
    the answer."""
    gc.collect()
    gc.disable()
    try:
        first, best, found = [], [], 0
        for query, intended in qs:
            runs = []
            for _ in range(repeat):
                start = time.perf_counter_ns()
                names = run(query)
                runs.append((time.perf_counter_ns() - start) / 1e6)
            first.append(runs[0])
            best.append(min(runs))
            found += intended in names
    finally:
        gc.enable()
    return first, best, found / max(1, len(qs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 entries and 100 queries per kind, for tests")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000, help="per kind")
    parser.add_argument("--baseline-queries", type=int, default=150, help="per kind (the baseline is slow)")
    parser.add_argument("--seed", type=int, default=112)
    args = parser.parse_args()
    n, count, base_count = (5_000, 100, 30) if args.quick else (args.entries, args.queries, args.baseline_queries)
    rng = random.Random(args.seed)
    entries = generate(n, rng)

    start = time.perf_counter()
    region = Gazetteer.load(PADANG)
    gazetteer = Gazetteer([*(Entry(p) for p in region.places), *entries])
    build_s = time.perf_counter() - start
    names = [p.name for p in gazetteer.places]
    keys = [normalize(name) for name in names]  # the baseline's one key per name

    def indexed(query: str) -> list[str]:
        return [p.name for p in gazetteer.search(query, limit=LIMIT)]

    def baseline(query: str) -> list[str]:
        found = process.extract(normalize(query), keys, scorer=fuzz.WRatio, processor=None, limit=LIMIT)
        return [names[i] for _, _, i in found]

    by_kind = queries(entries, count, rng)
    all_times: list[float] = []
    all_best: list[float] = []
    all_base: list[float] = []
    for kind, qs in by_kind.items():
        times, best, found = timed(indexed, qs, repeat=3)
        base_times, _, base_found = timed(baseline, qs[:base_count])
        all_times += times
        all_best += best
        all_base += base_times
        line = _line(kind, len(names), len(qs), times, found, base_times, base_found)
        print(json.dumps({**line, "best_of_3_p99_ms": round(float(np.percentile(best, 99)), 3)}), flush=True)
    total = {
        **_line("all", len(names), len(all_times), all_times, None, all_base, None),
        "best_of_3_p50_ms": round(float(np.percentile(all_best, 50)), 3),
        "best_of_3_p99_ms": round(float(np.percentile(all_best, 99)), 3),
        "streets": sum(1 for p in gazetteer.places if p.kind == "jalan"),
        "build_s": round(build_s, 2),
        "load_avg": round(os.getloadavg()[0], 1),  # a busy machine's p99 is its scheduler's, not the index's
        "target_p99_ms": 5.0,
        "target_speedup": 10.0,
    }
    total["met"] = total["p99_ms"] <= 5.0 and total["speedup"] >= 10.0
    print(json.dumps(total), flush=True)


def _line(
    kind: str,
    entries: int,
    n: int,
    times: list[float],
    found: float | None,
    base: list[float],
    base_found: float | None,
) -> dict[str, object]:
    p99, base_p99 = float(np.percentile(times, 99)), float(np.percentile(base, 99))
    line: dict[str, object] = {
        "bench": "gazetteer",
        "queries": kind,
        "entries": entries,
        "n": n,
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p99_ms": round(p99, 3),
        "baseline_n": len(base),
        "baseline_p50_ms": round(float(np.percentile(base, 50)), 3),
        "baseline_p99_ms": round(base_p99, 3),
        "speedup": round(base_p99 / p99, 1),
    }
    if found is not None and base_found is not None:
        line["found_intended"], line["baseline_found_intended"] = round(found, 3), round(base_found, 3)
    return line


if __name__ == "__main__":
    main()
