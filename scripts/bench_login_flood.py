"""Does a login flood slow call intake or grow the server? Issue 22, finding 1, measured in one run.

Starts the real app (uvicorn on 127.0.0.1, as `tanggap serve` runs it) in a child process and sends signed
Twilio voice webhooks (`POST /telephony/twilio/voice`, a new 112 call each) at 10 calls/s through five phases,
in slices of 3 s taken in turn 12 times (a slow few seconds of a shared machine then land in any phase alike):

- `baseline`: calls only;
- `flood_one_account`: and 20 logins/s with wrong passwords for one account from one address (the outside test);
- `flood_spread`: and 20 logins/s, each a different username from a different address (`X-Forwarded-For`, which
  uvicorn trusts from the loopback as from nginx): no lock stops these, only the bounded password pool does;
- `flood_plain_404`: and 20 requests/s to a path that does not exist: what any 20 requests/s cost this server
  and this harness, logins or not;
- `baseline_after`: calls only again, to tell drift of this shared machine from the floods' effect.

Each call's latency is the webhook's response time, measured in this process. The server's resident memory is
sampled every 100 ms (`rss_max_mb`; `workers_rss_max_mb`: its password-checking processes together) and its
peak read at the end (`VmHWM`). The target: p99 during each login flood within 1.5x of the baseline's, and
memory bounded. Prints one JSON line.

    .venv/bin/python scripts/bench_login_flood.py           # 36 s a phase: about 4 minutes
    .venv/bin/python scripts/bench_login_flood.py --quick   # 6 s a phase, for a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

TWILIO_TOKEN = "bench-twilio-token"
TARGET_RATIO = 1.5
PHASES = ("baseline", "flood_one_account", "flood_spread", "flood_plain_404", "baseline_after")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(db_url: str) -> None:
    """Schema, the region pack, and the account the flood guesses at."""
    from config.settings import Settings
    from dispatch.models import Base
    from dispatch.regions import seed
    from dispatch.users import service as users
    from ui.context import build

    ctx = build(Settings(database_url=db_url, region="padang"))
    Base.metadata.create_all(ctx.engine)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
        users.create(session=session, username="dispatcher", password="rahasia-112-benar", role="dispatcher")
    ctx.engine.dispose()


def status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """Every process below `pid` (the password-checking workers)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in map(int, task.read_text().split()):
                found += [child, *children(child)]
    return found


def cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


class Run:
    def __init__(self, base: str, pid: int) -> None:
        self.base, self.pid = base, pid
        self.validator = RequestValidator(TWILIO_TOKEN)
        # Keyed by phase and slice ("flood_spread/2"); nothing is kept between slices ("between", "warm-up").
        self.latency: defaultdict[str, list[float]] = defaultdict(list)
        self.failed_calls: Counter[str] = Counter()
        self.logins: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.login_ms: defaultdict[str, list[float]] = defaultdict(list)
        self.rss: defaultdict[str, list[int]] = defaultdict(list)
        self.workers_rss: defaultdict[str, list[int]] = defaultdict(list)
        self.phase = "warm-up"
        self.n = self.n_logins = 0
        self.tasks: list[asyncio.Task[None]] = []
        # Calls and the flood on connections of their own, as from Twilio and from the attackers.
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.flood_http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def call(self, http: aiohttp.ClientSession) -> None:
        self.n += 1
        phase, sid = self.phase, f"CA{self.n:032d}"
        form = {"CallSid": sid, "From": f"+62812{self.n:07d}", "To": "+6275112", "CallStatus": "ringing"}
        path = "/telephony/twilio/voice"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(self.base + path, form)}
        started = time.perf_counter()
        try:
            async with http.post(self.base + path, data=form, headers=headers) as answer:
                await answer.read()
                ok = answer.status == 200
        except aiohttp.ClientError:
            ok = False
        took = (time.perf_counter() - started) * 1000
        if "/" in phase:
            if ok:
                self.latency[phase].append(took)
            else:
                self.failed_calls[phase] += 1
        await asyncio.sleep(1.0)  # the caller hangs up: the queue stays as short as a real one
        status = {**form, "CallStatus": "completed"}
        path = "/telephony/twilio/status"
        headers = {"X-Twilio-Signature": self.validator.compute_signature(self.base + path, status)}
        with contextlib.suppress(aiohttp.ClientError):
            async with http.post(self.base + path, data=status, headers=headers) as answer:
                await answer.read()

    async def login(self, http: aiohttp.ClientSession, n: int, kind: str) -> None:
        """One attempt of the flood: `one` account from one address, `spread` over accounts and addresses, or
        `plain`: a request to a path that does not exist, the cost of any 20 requests/s for comparison."""
        phase = self.phase
        spread = kind == "spread"
        path = "/api/v1/no-such-path" if kind == "plain" else "/api/v1/auth/login"
        username = f"user{n}" if spread else "dispatcher"
        headers = {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"} if spread else {}
        started = time.perf_counter()
        try:
            body = {"username": username, "password": f"tebakan-{n}"}
            async with http.post(self.base + path, json=body, headers=headers) as answer:
                data = await answer.json(content_type=None)
                kind_of = data.get("kind") if isinstance(data, dict) else None
                outcome = f"{answer.status} {kind_of}" if kind_of else str(answer.status)
        except (aiohttp.ClientError, ValueError) as exc:
            outcome = type(exc).__name__
        if "/" in phase:
            self.logins[phase][outcome] += 1
            self.login_ms[phase].append((time.perf_counter() - started) * 1000)

    async def sample_memory(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            rss = status_kb(self.pid, "VmRSS")
            if rss is not None and "/" in self.phase:
                self.rss[self.phase].append(rss)
                workers = [status_kb(child, "VmRSS") or 0 for child in children(self.pid)]
                self.workers_rss[self.phase].append(sum(workers))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    async def phase_run(self, name: str, seconds: float, rate: float, flood: float, kind: str) -> float | None:
        """One slice of a phase; the server's CPU seconds a second meanwhile. Its requests finish later."""
        self.phase = name
        cpu_before, began = cpu_s(self.pid), time.perf_counter()
        next_call = next_login = began
        while (now := time.perf_counter()) < began + seconds:
            if now >= next_call:
                self.tasks.append(asyncio.create_task(self.call(self.http)))
                next_call += 1 / rate
            if flood and now >= next_login:
                self.tasks.append(asyncio.create_task(self.login(self.flood_http, self.n_logins, kind)))
                self.n_logins += 1
                next_login += 1 / flood
            wake = min(next_call, next_login if flood else next_call)
            await asyncio.sleep(max(0.0, wake - time.perf_counter()))
        cpu_after = cpu_s(self.pid)
        self.phase = "between"
        return round((cpu_after - cpu_before) / seconds, 2) if cpu_after and cpu_before else None

    def summary(self, keys: list[str]) -> dict[str, Any]:
        """One phase over its slices: the calls' latencies pooled, the logins' answers added up."""
        lat = [ms for key in keys for ms in self.latency[key]]
        rss = [kb for key in keys for kb in self.rss[key]]
        workers = [kb for key in keys for kb in self.workers_rss[key]]
        answers: Counter[str] = Counter()
        for key in keys:
            answers.update(self.logins[key])
        return {
            "calls": len(lat),
            "calls_failed": sum(self.failed_calls[key] for key in keys),
            "p50_ms": pct(lat, 0.50),
            "p99_ms": pct(lat, 0.99),
            "max_ms": round(max(lat), 2) if lat else None,
            "login_answers": dict(answers),
            "login_p50_ms": pct([ms for key in keys for ms in self.login_ms[key]], 0.50),
            "rss_max_mb": round(max(rss) / 1024, 1) if rss else None,
            "workers_rss_max_mb": round(max(workers) / 1024, 1) if workers else None,
        }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="tanggap-login-flood-"))
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    await asyncio.to_thread(prepare, db_url)
    port = free_port()
    env = {
        **os.environ,
        "TANGGAP_DATABASE_URL": db_url,
        "TANGGAP_REGION": "padang",
        "TANGGAP_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TANGGAP_LOG_LEVEL": "ERROR",
        "TANGGAP_JOURNAL_DIR": str(workdir / "journal"),
    }
    command = [sys.executable, "-m", "uvicorn", "ui.app:create_app", "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    run = Run(base, server.pid)
    stop = asyncio.Event()
    sampler = asyncio.create_task(run.sample_memory(stop))
    results: dict[str, Any] = {}
    try:
        async with aiohttp.ClientSession() as probe, asyncio.timeout(60):
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with probe.get(base + "/healthz") as answer:
                        if answer.status == 200:
                            break
                await asyncio.sleep(0.1)
            # Warm: compiled statements, lazy imports, the password pool's threads.
            await asyncio.gather(*(run.call(probe) for _ in range(20)))
            await run.login(probe, 10**6, "spread")
        rss_start = status_kb(server.pid, "VmRSS")
        cpu: dict[str, list[float]] = defaultdict(list)
        # Short slices of each phase in turn, many times over: a slow few seconds of this shared machine then
        # land in any phase alike instead of spoiling one. Between slices, calls go on unmeasured for a second
        # while what a flood left queued drains.
        for cycle in range(args.cycles):
            for name in PHASES:
                flood = args.flood if name.startswith("flood") else 0.0
                kind = {"flood_one_account": "one", "flood_spread": "spread", "flood_plain_404": "plain"}.get(name, "")
                used = await run.phase_run(f"{name}/{cycle}", args.seconds, args.rate, flood, kind)
                cpu[name].append(used or 0.0)
                await run.phase_run("between", args.gap, args.rate, 0.0, "")
        await asyncio.gather(*run.tasks)
        peak = status_kb(server.pid, "VmHWM")
        for name in PHASES:
            results[name] = run.summary([f"{name}/{cycle}" for cycle in range(args.cycles)])
            results[name]["server_cpu_s_per_s"] = round(statistics.fmean(cpu[name]), 2)
    finally:
        stop.set()
        await sampler
        await run.http.close()
        await run.flood_http.close()
        server.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await server.wait()

    def ratio(name: str, key: str) -> float | None:
        value, base = results[name][key], results["baseline"][key]
        return round(value / base, 2) if value is not None and base else None

    floods = ("flood_one_account", "flood_spread")
    p99 = {name: ratio(name, "p99_ms") for name in PHASES[1:]}
    return {
        "intake": "signed Twilio voice webhook",
        "calls_per_s": args.rate,
        "logins_per_s": args.flood,
        "seconds_per_phase": round(args.seconds * args.cycles, 1),
        "slices": f"{args.cycles} x {args.seconds} s",
        **results,
        "p99_vs_baseline": p99,
        "p50_vs_baseline": {name: ratio(name, "p50_ms") for name in PHASES[1:]},
        "within_target": all((p99[name] or 99) <= TARGET_RATIO for name in floods),
        "rss_start_mb": round(rss_start / 1024, 1) if rss_start else None,
        "rss_peak_mb": round(peak / 1024, 1) if peak else None,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 slices of 3 s a phase")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of a slice of a phase")
    parser.add_argument("--cycles", type=int, default=12, help="slices of each phase, in turn")
    parser.add_argument("--gap", type=float, default=1.0, help="unmeasured seconds between slices")
    parser.add_argument("--rate", type=float, default=10.0, help="calls per second")
    parser.add_argument("--flood", type=float, default=20.0, help="logins per second during the floods")
    args = parser.parse_args(argv)
    if args.quick:
        args.cycles = 2
    return args


if __name__ == "__main__":
    import uvloop

    print(json.dumps(uvloop.run(main(parse()))))
