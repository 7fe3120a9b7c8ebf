"""Load test of the call path: ARI double -> in-process bridge -> database -> event bus -> /ws consoles.

Starts the real app (uvicorn on 127.0.0.1, ARI bridge in its lifespan) in a child process, an Asterisk ARI
double and N websocket consoles in this one, then sends a burst of concurrent calls followed by a sustained
rate. Latency is measured on one clock (this process): from the moment the double sends a caller's
StasisStart to the moment each console receives that call's `call.offered`. The baseline is the same
measurement for calls created through `POST /api/v1/calls` (no PBX in the path), and the ratios compare the
two. `cpu_ms_per_call` is the CPU time each process (server, bridge, this harness) spent per measured call;
`machine_ms` times a fixed piece of Python work before the run, to tell a slow hour from slow code.
Prints one JSON line.

    .venv/bin/python scripts/bench_calls.py            # 200 burst, 20 calls/s for 60 s, 100 consoles
    .venv/bin/python scripts/bench_calls.py --quick    # a few seconds, for tests
    .venv/bin/python scripts/bench_calls.py --history 200000   # after 200,000 calls (four months of Jakarta 112)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import Engine  # noqa: E402

from tests.doubles.ari_server import AriDouble  # noqa: E402

TAKERS = 10
TARGET_MS = 50  # issue 4: p99 <= 50 ms from StasisStart to the call on every console


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(db_url: str, history: int = 0) -> tuple[str, str, str]:
    """Schema, region pack, call-takers with SIP endpoints, `history` calls taken before; returns tokens of a
    supervisor, a call-taker and the telephony bridge (for `--remote`)."""
    from config.settings import Settings
    from dispatch.models import Base
    from dispatch.regions import seed
    from dispatch.users import service as users
    from ui.context import build

    ctx = build(Settings(database_url=db_url, region="padang"))
    Base.metadata.create_all(ctx.engine)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
        sup = users.create(session=session, username="bench-sup", password="rahasia-112", role="supervisor")
        taker = users.create(session=session, username="bench-taker", password="rahasia-112", role="call_taker")
        bridge = users.create(session=session, username="bench-bridge", password="rahasia-112", role="telephony")
        desks = []
        for i in range(TAKERS):
            user = users.create(
                session=session, username=f"desk{i}", password="rahasia-112", role="call_taker", sip_endpoint=f"desk{i}"
            )
            users.set_available(session=session, user=user, available=True)
            desks.append(user.id)
        tokens = (
            users.issue_token(session=session, user=sup, kind="api", lifetime=timedelta(hours=2)),
            users.issue_token(session=session, user=taker, kind="api", lifetime=timedelta(hours=2)),
            users.issue_token(session=session, user=bridge, kind="api", lifetime=timedelta(hours=2)),
        )
    if history:
        fill_history(ctx.engine, history, desks)
    ctx.engine.dispose()
    return tokens


# The mix of a year of 112 calls (../shared/REFERENCE.md, Jakarta 2024): 58 % dropped before a person answered,
# most of the rest pranks, silence and information, about 1 % emergencies.
HISTORY_MIX = (("abandoned", 58), ("prank", 15), ("ghost", 8), ("information", 18), ("emergency", 1))


def fill_history(engine: Engine, n: int, takers: list[int]) -> None:
    """`n` ended calls over the past year and the events each would have left, written straight into the
    tables (a million calls through the services would take an hour). A real command center's database is
    this, not empty: a query that reads a whole table shows only here."""
    from sqlalchemy import insert

    from dispatch.calls.models import Call
    from dispatch.events.models import Event

    rng = random.Random(112)
    kinds = [kind for kind, weight in HISTORY_MIX for _ in range(weight)]
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / n
    with engine.begin() as conn:
        for first in range(1, n + 1, 20_000):
            calls: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for i in range(first, min(n + 1, first + 20_000)):
                kind, at = rng.choice(kinds), start + step * i
                caller, taker = f"+62812{rng.randrange(n // 3 + 1):07d}", rng.choice(takers)
                answered = kind != "abandoned"
                calls.append(
                    {"id": i, "caller": caller, "caller_raw": caller, "provider": "asterisk",
                     "channel_id": f"history-{i}", "dialled": "112", "status": "ended", "classification": kind,
                     "offered_at": at, "answered_at": at + timedelta(seconds=8) if answered else None,
                     "ended_at": at + timedelta(seconds=70 if answered else 12), "classified_at": at,
                     "taker_id": taker if answered else None, "flagged": False, "is_text": False, "version": 3}
                )  # fmt: skip
                steps = ["call.offered", "call.queued"]
                if answered:
                    steps += ["call.connecting", "taker.available", "call.answered", "call.recording"]
                    steps += ["call.ended", "taker.available", "call.classified"]
                else:
                    steps += ["call.ended"]
                events += [
                    {"type": t, "at": at, "actor": "asterisk", "call_id": None if t == "taker.available" else i,
                     "data": {"id": i, "taker_id": taker} if answered else {"id": i}}
                    for t in steps
                ]  # fmt: skip
            conn.execute(insert(Call), calls)
            conn.execute(insert(Event), events)


def recorded(db_url: str, channels: set[str]) -> int:
    from sqlalchemy import select

    from config.settings import Settings
    from dispatch.calls.models import Call
    from ui.context import build

    ctx = build(Settings(database_url=db_url, region="padang"))
    with ctx.sessions() as session:
        found = set(session.scalars(select(Call.channel_id).where(Call.provider == "asterisk")))
    ctx.engine.dispose()
    return len(channels & found)


class Consoles:
    """A hundred consoles in one process. Each notes when a message with a `call.offered` arrives and leaves
    the parsing for later (`tally`): in real life every console parses on its own machine, and here the
    parsing of one would delay the clock of the next.

    For the same reason they read with aiohttp's websocket client, whose frame reader is compiled: in one
    process, the `websockets` client took ~25 ms to hand a 96 KB message to the last of 100 consoles, and
    aiohttp ~8 ms (scripts/bench_ws_clients.py). A browser reads its one socket in compiled code too.
    """

    def __init__(self) -> None:
        self.measuring = False  # warm-up calls are not timed
        self.sent: dict[str, float] = {}  # channel id or api key -> when the call started
        self.samples: dict[str, list[float]] = {"ari": [], "api": [], "burst": [], "sustained": [], "steady": []}
        self.phase: dict[str, str] = {}  # channel id -> burst or sustained
        self.steady: set[str] = set()  # sustained calls started 10 s or more after the burst
        self.seen: dict[str, int] = {}
        self.worst: dict[str, float] = {}  # channel id or api key -> its latest arrival on any console, ms
        self.tasks: list[asyncio.Task[None]] = []
        self.ready = 0
        # Messages not parsed yet and when they arrived, in two flat lists: a list of 140,000 tuples made each
        # of this process's full garbage collections take ~150 ms, a pause of all hundred consoles at once.
        self.arrived: list[float] = []
        self.inbox: list[str] = []

    async def run(self, http: aiohttp.ClientSession, url: str) -> None:
        async with http.ws_connect(url, max_msg_size=2**22, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            async for frame in ws:
                now = time.perf_counter()
                message = frame.data
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                if '"call.offered"' in message:
                    self.arrived.append(now)
                    self.inbox.append(message)
                elif '"live"' in message:
                    self.ready += 1

    def tally(self) -> None:
        arrived, inbox, self.arrived, self.inbox = self.arrived, self.inbox, [], []
        for now, message in zip(arrived, inbox, strict=True):
            for event in json.loads(message):  # each message is an array of events
                if event["type"] == "call.offered":
                    self.note(event["data"]["channel_id"], now)

    def note(self, key: str, now: float) -> None:
        started = self.sent.get(key)
        if started is None:
            return
        took = (now - started) * 1000
        self.samples["api" if key.startswith("bench-api-") else "ari"].append(took)
        if key in self.phase:
            self.samples[self.phase[key]].append(took)
            if key in self.steady:
                self.samples["steady"].append(took)
        self.seen[key] = self.seen.get(key, 0) + 1
        self.worst[key] = max(took, self.worst.get(key, 0.0))

    def late(self, channels: set[str], began: float) -> dict[str, Any]:
        """Calls that reached some console after the target, by phase, and when the sustained ones started:
        a few seconds in a row is a stall of the machine or the server, late calls spread over the run are
        slow code."""
        late = [c for c in channels if self.worst.get(c, 0.0) > TARGET_MS]
        sustained = sorted({int(self.sent[c] - began) for c in late if self.phase.get(c) == "sustained"})
        return {
            "late_calls": {
                phase: sum(1 for c in late if self.phase.get(c) == phase) for phase in ("burst", "sustained")
            },
            "late_sustained_at_s": sustained,
        }


def cpu_ms(pid: int | None) -> float | None:
    """CPU time a process has used, all its threads (Linux: /proc; None elsewhere or once it has gone)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")  # utime + stime


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    machine = machine_ms()
    workdir = Path(tempfile.mkdtemp(prefix="tanggap-bench-"))
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    sup_token, taker_token, bridge_token = await asyncio.to_thread(prepare, db_url, args.history)
    pbx = await AriDouble().start()
    pbx.playback_s = 2.0
    consoles = Consoles()
    pbx.on_event = lambda e: (
        consoles.sent.setdefault(e["channel"]["id"], time.perf_counter())
        if (consoles.measuring and e["type"] == "StasisStart" and e.get("args", [""])[0] == "incoming")
        else None
    )
    port = free_port()
    env = {
        **os.environ,
        "TANGGAP_DATABASE_URL": db_url,
        "TANGGAP_ARI_URL": pbx.url,
        "TANGGAP_ARI_BRIDGE": "true",
        "TANGGAP_ARI_USER": pbx.user,
        "TANGGAP_ARI_PASSWORD": pbx.password,
        "TANGGAP_AGI_PORT": str(free_port()),
        "TANGGAP_WS_BUFFER": "100000",
        "TANGGAP_LOG_LEVEL": "WARNING",
        "TANGGAP_REGION": "padang",
        "TANGGAP_ARI_ACD_INTERVAL_S": "0.2",
    }
    pbx_keys = ("TANGGAP_ARI_URL", "TANGGAP_ARI_BRIDGE", "TANGGAP_ARI_USER", "TANGGAP_ARI_PASSWORD")
    pbx_env = {k: env.pop(k) for k in pbx_keys} if args.remote else {}  # the server then has no PBX
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "ui.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ws",
        "websockets-sansio",
        "--ws-per-message-deflate",
        "false",  # as `tanggap serve` runs it
        "--log-level",
        "warning",
        "--no-access-log",
        cwd=ROOT,
        env=env,
    )
    bridge = None
    if args.remote:  # the bridge in its own process (`tanggap ari`), reaching the server through its API
        bridge = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "tanggap"),
            "ari",
            "--api-url",
            f"http://127.0.0.1:{port}",
            "--token",
            bridge_token,
            cwd=ROOT,
            env={**env, **pbx_env},
        )
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(connect=30))
    try:
        async with asyncio.timeout(60):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await api.get("/healthz")).status_code == 200 and pbx.app_connected:
                        break
                await asyncio.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/ws?token={sup_token}"
        consoles.tasks = [asyncio.create_task(consoles.run(http, url)) for _ in range(args.consoles)]
        async with asyncio.timeout(60):
            while consoles.ready < args.consoles:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        channels: set[str] = set()
        warmed: set[str] = set()  # warm-up calls: checked for loss, not timed
        hangups: list[asyncio.Task[None]] = []

        async def call(caller: str, phase: str) -> None:
            channel = await pbx.incoming_call(caller)
            if channel is None:
                return
            if phase == "warm-up":
                warmed.add(channel)
            else:
                channels.add(channel)
            consoles.phase[channel] = phase
            if phase == "sustained" and time.perf_counter() - began >= 10:
                consoles.steady.add(channel)
            await asyncio.sleep(random.uniform(args.hold_min, args.hold_max))
            await pbx.caller_hangup(channel)

        random.seed(112)
        # Warm-up, not measured: a server that has taken calls before (SQLAlchemy has compiled its statements,
        # lazy imports are done), as a command center's server is when a burst comes.
        await asyncio.gather(*(call(f"+62815{i:07d}", "warm-up") for i in range(args.warmup)))
        await asyncio.sleep(1.0 if args.warmup else 0)
        gc.collect()
        gc.freeze()  # what this process built so far (the double, the consoles) is left out of collections
        consoles.measuring = True
        pids = {"server": server.pid, "bridge": bridge.pid if bridge else None}

        def cpu_now() -> dict[str, float | None]:
            return {name: cpu_ms(pid) for name, pid in pids.items()} | {"harness": time.process_time() * 1000}

        cpu_before = cpu_now()
        began = time.perf_counter()
        burst = [asyncio.create_task(call(f"+62812{i:07d}", "burst")) for i in range(args.burst)]
        hangups.extend(burst)
        n = args.burst
        period = 1 / args.rate
        deadline = time.perf_counter() + args.seconds
        next_at = time.perf_counter()
        while time.perf_counter() < deadline:
            hangups.append(asyncio.create_task(call(f"+62813{n:07d}", "sustained")))
            n += 1
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.gather(*hangups)
        cpu_after = cpu_now()
        # Baseline: the same event for calls created over the API (no PBX, no bridge).
        headers = {"Authorization": f"Bearer {taker_token}"}
        for i in range(args.baseline):
            key = f"bench-api-{i}"
            consoles.sent[key] = time.perf_counter()
            await api.post("/api/v1/calls", json={"caller": f"+62814{i:07d}", "channel_id": key}, headers=headers)
            await asyncio.sleep(period)
        with contextlib.suppress(TimeoutError):  # what never arrived is reported as missed_on_consoles
            async with asyncio.timeout(60):
                while True:
                    consoles.tally()
                    if sum(1 for c in channels if consoles.seen.get(c, 0) >= args.consoles) == len(channels):
                        break
                    await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - began
    finally:
        for task in consoles.tasks:
            task.cancel()
        await asyncio.gather(*consoles.tasks, return_exceptions=True)
        await api.aclose()
        await http.close()
        for process in (bridge, server):
            if process is not None:
                process.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await server.wait()
                if bridge is not None:
                    await bridge.wait()
        await pbx.stop()
    stored = await asyncio.to_thread(recorded, db_url, channels | warmed)
    ari, base = consoles.samples["ari"], consoles.samples["api"]
    # Latency depends on this machine's load of the hour (it has varied twofold); the CPU each process spends
    # on a call varies less, so it shows whether a change made the work smaller.
    cpu_per_call = {
        name: round((after - before) / len(channels), 3)
        for name, before in cpu_before.items()
        if before is not None and (after := cpu_after[name]) is not None and channels
    }
    return {
        "calls_offered": len(channels) + len(warmed),
        "calls_recorded": stored,
        "lost": len(channels) + len(warmed) - stored,
        "warmup_calls": len(warmed),
        "missed_on_consoles": sum(args.consoles - min(args.consoles, consoles.seen.get(c, 0)) for c in channels),
        "bridge": "own process" if args.remote else "in the server",
        "consoles": args.consoles,
        "burst": args.burst,
        "history_calls": args.history,
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        "p50_ms": pct(ari, 0.50),
        "p99_ms": pct(ari, 0.99),
        "max_ms": round(max(ari), 2) if ari else None,
        "mean_ms": round(statistics.fmean(ari), 2) if ari else None,
        "samples": len(ari),
        "burst_p50_ms": pct(consoles.samples["burst"], 0.50),
        "burst_p99_ms": pct(consoles.samples["burst"], 0.99),
        "sustained_p50_ms": pct(consoles.samples["sustained"], 0.50),
        "sustained_p99_ms": pct(consoles.samples["sustained"], 0.99),
        "steady_p50_ms": pct(consoles.samples["steady"], 0.50),
        "steady_p99_ms": pct(consoles.samples["steady"], 0.99),
        "baseline_api_p50_ms": pct(base, 0.50),
        "baseline_api_p99_ms": pct(base, 0.99),
        "p50_vs_baseline": ratio(pct(ari, 0.50), pct(base, 0.50)),
        "p99_vs_baseline": ratio(pct(ari, 0.99), pct(base, 0.99)),
        **consoles.late(channels, began),
        "cpu_ms_per_call": cpu_per_call,
        "machine_ms": machine,
        "elapsed_s": round(elapsed, 1),
    }


def machine_ms() -> float:
    """This machine's speed at this hour: the best of five runs of the same fixed Python work (building a
    burst's 200 calls and their JSON both ways, 20 times), before anything else starts. Latency moves with it
    (the same code has given twice the latency in a slower hour), so runs of different hours compare by it."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            burst = [
                {"id": i, "caller": f"+62812{i:07d}", "channel_id": f"ch-{i}", "status": "offered", "flagged": i % 7}
                for i in range(200)
            ]
            json.loads(json.dumps(sorted(burst, key=lambda call: call["channel_id"])))
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def ratio(value: float | None, baseline: float | None) -> float | None:
    return round(value / baseline, 2) if value is not None and baseline else None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 burst, 5 calls/s for 3 s, 10 consoles")
    parser.add_argument("--remote", action="store_true", help="the bridge as its own process (`tanggap ari`)")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--consoles", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20, help="calls before the measured run (not measured)")
    parser.add_argument("--hold-min", type=float, default=1.0)
    parser.add_argument("--hold-max", type=float, default=4.0)
    parser.add_argument("--history", type=int, default=0, help="calls taken before the run, over the past year")
    args = parser.parse_args(argv)
    if args.quick:
        args.burst, args.rate, args.seconds, args.consoles, args.baseline, args.warmup = 20, 5.0, 3.0, 10, 10, 2
        args.hold_min, args.hold_max = 0.2, 1.0
    return args


if __name__ == "__main__":
    import uvloop  # the server's event loop too (uvicorn[standard]): the double and the consoles keep up with it

    print(json.dumps(uvloop.run(main(parse()))))
