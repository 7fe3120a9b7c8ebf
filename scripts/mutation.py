#!/usr/bin/env python3
"""Mutation scores of the safety-critical modules: do the tests notice when the code that protects callers breaks?

Why mutmut (3.x) and not cosmic-ray: cosmic-ray starts a fresh pytest for every mutant, and importing this
project (FastAPI, SQLAlchemy, shapely, scipy, phonenumbers) costs seconds before the first test runs, so a
module of 200 mutants takes the better part of an hour. mutmut imports once, records which tests reach which
function, then forks a worker per mutant that runs only those tests: the same module takes minutes. Its
mutants are switched on by an environment variable inside one mutated copy of the code (`mutants/`), so the
tree under edit is never touched.

How a module is run:
- The tree (code, tests, migrations, pyproject.toml) is copied to `.mutation/<module>/` (git-ignored), and a
  `[tool.mutmut]` section written into the copy's pyproject.toml mutates only that module and runs only the
  test files that guard it (`MODULES`). The copy is a snapshot: edits made elsewhere while it runs do not leak
  in, and mutmut's cache there lets a second run re-test only the functions that changed.
- SQLite only (`-k "not postgresql"`): tests/conftest.py runs every database test on SQLite and PostgreSQL; the
  PostgreSQL half would double the time. What only PostgreSQL can show (row locks, the event log's advisory
  lock in `queue.claim`) is guarded by the suite's PostgreSQL tests (tests/dispatch/test_two_servers.py), not here.
- tests/properties/ is left out: its Hypothesis properties take minutes on their own and each mutant would run
  them again. tests/browser/ is left out too (a real Chromium per mutant).
- Files in tests/mutation/ named after the module (`test_<name>.py`) are added to its tests: they hold the
  tests written to kill survivors.

Output: one JSON line per module `{"module", "mutants", "killed", "survived", "timeout", "score", ...}` and an
`"overall"` line. `score` is (killed + timeout) / mutants in percent; a mutant no test reaches counts as
survived. tests/mutation_equivalents.toml lists the survivors no test should kill, with the reason;
`score_net` leaves them out of the count, `unexplained` counts the survivors it does not list. The target is
score >= 85 on every module and no unexplained survivor.

    scripts/mutation.py --quick                   # a few small modules, minutes
    scripts/mutation.py --only dispatch/lifecycle.py,ui/deps.py
    scripts/mutation.py --only ui/deps.py --list-survivors
    scripts/mutation.py                           # everything: an hour or more on two cores; not run in CI
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
MUTMUT = ROOT / ".venv" / "bin" / "mutmut"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.toml"
PACKAGES = ("dispatch", "geo", "telephony", "ui", "config")

# Each safety-critical module and the test files that guard it. mutmut narrows each mutant further to the
# tests that actually call the mutated function, so a generous list costs one extra clean run, not time per mutant.
MODULES: dict[str, tuple[str, ...]] = {
    "dispatch/calls/queue.py": (
        "tests/telephony/test_queue.py",
        "tests/telephony/test_offer_stream.py",
        "tests/dispatch/test_calls_service.py",
        "tests/dispatch/test_queue_priority.py",  # the major incident's choice in the queue's order
    ),
    "dispatch/calls/abuse.py": ("tests/dispatch/test_calls_service.py", "tests/ui/test_api_edges.py"),
    "dispatch/calls/intake.py": (
        "tests/telephony/test_queue.py",
        "tests/telephony/test_agi.py",
        "tests/telephony/test_twilio.py",
        "tests/dispatch/test_calls_service.py",
        "tests/dispatch/test_queue_priority.py",  # the queue's lead for a major incident's choice
    ),
    "dispatch/incidents/duplicates.py": ("tests/dispatch/test_incident_service.py", "tests/ui/test_smoke_flow.py"),
    "dispatch/incidents/assignments.py": (
        "tests/dispatch/test_incident_service.py",
        "tests/dispatch/test_assignment_steps.py",  # tap times, steps by unit kind, the reason of a cancellation
        "tests/dispatch/test_escalation.py",
        "tests/telephony/test_sms_alerts.py",
        "tests/ui/test_smoke_flow.py",
    ),
    "dispatch/incidents/escalation.py": ("tests/dispatch/test_escalation.py",),
    "dispatch/lifecycle.py": (
        "tests/dispatch/test_lifecycle.py",
        "tests/dispatch/test_assignment_steps.py",  # carries_patients
        "tests/dispatch/test_incident_service.py",
        "tests/dispatch/test_calls_service.py",
    ),
    "dispatch/phone.py": ("tests/dispatch/test_phone.py", "tests/dispatch/test_calls_service.py"),
    "ui/present.py": ("tests/ui/test_api_edges.py", "tests/ui/test_stream.py", "tests/ui/test_smoke_flow.py"),
    "ui/deps.py": (
        "tests/ui/test_api_edges.py",
        "tests/ui/test_pages.py",
        "tests/ui/test_smoke_flow.py",
        "tests/ui/test_recent_tokens.py",
        "tests/ui/test_security.py",  # the Origin check of cookie sessions (token_from)
        "tests/ui/test_role_table.py",  # every route and role against ui/access.py
    ),
    "ui/access.py": ("tests/ui/test_role_table.py", "tests/mutation/test_deps.py"),
    "telephony/ari/app.py": (  # not test_prompts.py: it reads the WAV files only (and needs scripts/, not copied)
        "tests/telephony/test_ari_bridge.py",
        "tests/telephony/test_bridge_faults.py",
        "tests/telephony/test_bridge_journal.py",
        "tests/telephony/test_major_choice.py",
    ),
    "telephony/ari/choice.py": ("tests/telephony/test_major_choice.py",),  # the major incident's announcement
    "telephony/twilio_voice.py": (
        "tests/telephony/test_twilio.py",
        "tests/telephony/test_twilio_gather.py",  # the major incident's announcement and choice on Twilio
    ),
    "geo/jurisdiction.py": ("tests/geo/test_jurisdiction.py", "tests/geo/test_coverage.py"),
    "dispatch/recommend/service.py": (
        "tests/ui/test_geo_routes.py",
        "tests/geo/test_travel.py",
        "tests/mutation/test_recommend.py",  # not test_service.py: several modules are called service.py
    ),
}
QUICK = ("dispatch/incidents/duplicates.py", "dispatch/lifecycle.py", "dispatch/calls/abuse.py")

KILLED = {1, 3, 37}  # a failing test, a pytest internal error, caught by the type check
TIMEOUT = {24, -24, 152, 255, 36, -9}  # SIGXCPU, mutmut's timeout, SIGKILL after the CPU limit
SURVIVED = {0, 5, 33}  # tests passed, or no test reached the mutant


@dataclass(frozen=True)
class Result:
    module: str
    mutants: int
    killed: int
    survived: int
    timeout: int
    not_checked: int
    survivors: tuple[str, ...]
    unexplained: int
    equivalent: int  # listed survivors other than findings: they leave the denominator of score_net
    seconds: float

    @property
    def score(self) -> float | None:
        """None when the module has not been run (no mutants on record)."""
        return round(100 * (self.killed + self.timeout) / self.mutants, 1) if self.mutants else None

    @property
    def score_net(self) -> float | None:
        real = self.mutants - self.equivalent
        return round(100 * (self.killed + self.timeout) / real, 1) if real > 0 else None

    def line(self) -> dict[str, object]:
        return {
            "module": self.module,
            "mutants": self.mutants,
            "killed": self.killed,
            "survived": self.survived,
            "timeout": self.timeout,
            "score": self.score,
            "score_net": self.score_net,
            "not_checked": self.not_checked,
            "unexplained": self.unexplained,
            "seconds": round(self.seconds),
        }


def slug(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


def tests_for(module: str) -> list[str]:
    extra = ROOT / "tests" / "mutation" / f"test_{Path(module).stem}.py"
    tests = [t for t in MODULES[module] if (ROOT / t).exists()]
    return [*tests, str(extra.relative_to(ROOT))] if extra.exists() else tests


def equivalents() -> dict[str, dict[str, str]]:
    """Survivors explained in tests/mutation_equivalents.toml, by module: mutant name -> kind."""
    if not EQUIVALENTS.exists():
        return {}
    data = tomllib.loads(EQUIVALENTS.read_text("utf-8"))
    return {module: {e["mutant"]: e["kind"] for e in entries} for module, entries in data.items()}


def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = {"__pycache__", ".pytest_cache", "properties", "browser"}
    return {n for n in names if n in skipped or n.endswith((".db", ".db-wal", ".db-shm"))}


def prepare(module: str, work: Path) -> None:
    """Refresh the snapshot in `work` (keeping mutmut's `mutants/` and its cache) and write the config."""
    work.mkdir(parents=True, exist_ok=True)
    for name in (*PACKAGES, "tests", "alembic"):
        shutil.rmtree(work / name, ignore_errors=True)
        shutil.copytree(ROOT / name, work / name, ignore=_ignore, copy_function=shutil.copy2)
    shutil.copy2(ROOT / "alembic.ini", work / "alembic.ini")
    config = {
        "source_paths": list(PACKAGES),
        "only_mutate": [module],
        "pytest_add_cli_args": ["-k", "not postgresql", "-p", "no:cacheprovider"],
        "pytest_add_cli_args_test_selection": tests_for(module),
        "use_git_change_detection": False,
        "use_setproctitle": False,
    }
    lines = ["", "[tool.mutmut]", *(f"{k} = {json.dumps(v)}" for k, v in config.items())]
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text("utf-8") + "\n".join(lines) + "\n")


def run_mutmut(module: str, work: Path, jobs: int, log: Path, names: Sequence[str] = ()) -> None:
    """`names` (mutmut's globs, e.g. `telephony.ari.app.xǁAriAppǁreconcile__mutmut_*`) narrows a long module's run
    to a part; the other mutants keep the verdicts of earlier runs in this checkout, or count as not checked."""
    with log.open("w") as out:
        subprocess.run(
            [str(MUTMUT), "run", "--max-children", str(jobs), *names], cwd=work, stdout=out, stderr=out, check=False
        )


def rerun_survivors(work: Path, names: Sequence[str], jobs: int, log: Path) -> None:
    """mutmut keeps a mutant's verdict while its function is unchanged, so a survivor of an earlier run would stay
    one after a test that kills it is added; naming it makes mutmut test it again."""
    if not names:
        return
    with log.open("a") as out:
        subprocess.run(
            [str(MUTMUT), "run", "--max-children", str(jobs), *names], cwd=work, stdout=out, stderr=out, check=False
        )


def read(module: str, work: Path, seconds: float) -> Result:
    meta = work / "mutants" / f"{module}.meta"
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
    survivors = tuple(sorted(k for k, v in codes.items() if v in SURVIVED))
    known = equivalents().get(module, {})
    return Result(
        module=module,
        mutants=len(codes),
        killed=sum(v in KILLED for v in codes.values()),
        survived=len(survivors),
        timeout=sum(v in TIMEOUT for v in codes.values()),
        not_checked=sum(v is None or v not in KILLED | TIMEOUT | SURVIVED for v in codes.values()),
        survivors=survivors,
        unexplained=len(set(survivors) - set(known)),
        equivalent=sum(1 for s in survivors if known.get(s, "finding") != "finding"),
        seconds=seconds,
    )


def show(work: Path, names: Iterable[str]) -> None:
    for name in names:
        shown = subprocess.run([str(MUTMUT), "show", name], cwd=work, capture_output=True, text=True, check=False)
        print(shown.stdout.rstrip() or f"# {name}: {shown.stderr.strip()}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--only", help="comma-separated modules, e.g. dispatch/lifecycle.py,ui/deps.py")
    parser.add_argument("--list-survivors", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument("--report", action="store_true", help="print the last run's figures without running")
    parser.add_argument("--fresh", action="store_true", help="forget the cached results and test every mutant")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--mutants", help="comma-separated mutmut name globs: test only these (one module)")
    args = parser.parse_args(argv)

    modules = list(QUICK) if args.quick else list(MODULES)
    if args.only:
        modules = [m.strip() for m in args.only.split(",") if m.strip()]
        unknown = [m for m in modules if m not in MODULES]
        if unknown:
            parser.error(f"not a listed module: {', '.join(unknown)} (see MODULES in {Path(__file__).name})")
    if args.mutants and len(modules) != 1:
        parser.error("--mutants needs exactly one module (--only)")

    results = []
    for module in modules:
        work = WORK / slug(module)
        started = time.monotonic()
        if not args.report:
            if args.fresh:
                shutil.rmtree(work, ignore_errors=True)
            cached = set(read(module, work, 0).survivors)
            prepare(module, work)
            log = work / "mutmut.log"
            names = [g.strip() for g in (args.mutants or "").split(",") if g.strip()]
            run_mutmut(module, work, args.jobs, log, names)
            again = [name for name in read(module, work, 0).survivors if name in cached]
            rerun_survivors(work, again, args.jobs, log)
        result = read(module, work, time.monotonic() - started)
        results.append(result)
        print(json.dumps(result.line()), flush=True)
        if args.list_survivors:
            show(work, result.survivors)

    total = sum(r.mutants for r in results)
    caught = sum(r.killed + r.timeout for r in results)
    equivalent = sum(r.equivalent for r in results)
    overall = {
        "module": "overall",
        "mutants": total,
        "killed": sum(r.killed for r in results),
        "survived": sum(r.survived for r in results),
        "timeout": sum(r.timeout for r in results),
        "score": round(100 * caught / total, 1) if total else 100.0,
        "score_net": round(100 * caught / (total - equivalent), 1) if total - equivalent else 100.0,
        "not_checked": sum(r.not_checked for r in results),
        "unexplained": sum(r.unexplained for r in results),
        "seconds": round(sum(r.seconds for r in results)),
    }
    print(json.dumps(overall), flush=True)
    return 0 if all(r.mutants and r.not_checked == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
