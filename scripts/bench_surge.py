"""A Padang earthquake on the 112 line (issue 25): a surge of callers through the ARI double and the bridge, with the
major incident's announcement and choice, against the same run with no major incident.

Starts the real app (uvicorn, the ARI bridge in its lifespan, SQLite in a temporary folder) in a child process, the
ARI double and the consoles in this one. Calls arrive ramping up over the first fifth of the run, then steadily.
Callers press 1 (15 %), 2 (35 %), 3 (40 %) or nothing (10 %) a few seconds into the announcement; of those who
pressed 3, 60 % hang up after the information, 25 % press 0, the rest wait. Nobody else hangs up: they wait for a
person until the run ends. The call-takers' desk phones answer at once (the double); each conversation lasts a
lognormal handling time, then the call-taker hangs up and is rung for the next call.

Prints one JSON line, `major` and `baseline` (no major incident, the same callers and keys):
- `lost`: callers never recorded, or hung up by the bridge (0 is the target);
- `greeted_p99_ms`: the caller entering Stasis -> the announcement (baseline: the greeting) starting (<= 1,000);
- `priority_wait_p90_s`, `others_wait_p90_s`: time to a person of callers who pressed 1 or nothing, and of those
  who pressed 2 or 3 and stayed; a caller still waiting at the end counts with the time waited so far (target:
  priority at most a fifth of the others); `answered` by group; `choices_recorded` (calls whose kept choice is
  the key pressed; a caller a call-taker answered before they pressed keeps none);
- `max_queue`, `server_cpu_ms_per_call`, `machine_ms`.

    .venv/bin/python scripts/bench_surge.py                                # 5,000 calls in 10 minutes
    .venv/bin/python scripts/bench_surge.py --calls 1000 --minutes 2       # scaled
    .venv/bin/python scripts/bench_surge.py --quick                        # about a minute, as the tests run it
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import httpx  # noqa: E402

from scripts.bench_calls import cpu_ms, free_port, machine_ms, pct  # noqa: E402
from tests.doubles.ari_server import AriDouble  # noqa: E402

MIX = ((1, 0.15), (2, 0.35), (3, 0.40), (None, 0.10))  # the key each caller presses, None: silent
INFO_HANG_UP, INFO_PERSON = 0.60, 0.25  # of those who pressed 3


@dataclass
class Caller:
    key: int | None
    stays: bool = True  # False: hangs up after the information
    channel: str | None = None
    entered: float = 0.0  # StasisStart sent (harness clock)
    greeted: float | None = None  # the first playback on the channel started


@dataclass
class Run:
    callers: list[Caller] = field(default_factory=list)
    by_channel: dict[str, Caller] = field(default_factory=dict)
    hung_up: set[str] = field(default_factory=set)  # by the harness: the caller or the call-taker
    max_queue: int = 0


def prepare(db_url: str, takers: int, declare: bool) -> str:
    """Schema, region pack, call-takers with desk phones (ready), a supervisor's token for the consoles, and the
    major incident when `declare`."""
    from config.settings import Settings
    from dispatch.major import service as major
    from dispatch.major.schemas import MajorIn
    from dispatch.models import Base
    from dispatch.regions import seed
    from dispatch.users import service as users
    from ui.context import build

    ctx = build(Settings(database_url=db_url, region="padang"))
    Base.metadata.create_all(ctx.engine)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
        sup = users.create(session=session, username="bench-sup", password="rahasia-112", role="supervisor")
        for i in range(takers):
            desk = users.create(
                session=session, username=f"desk{i}", password="rahasia-112", role="call_taker", sip_endpoint=f"desk{i}"
            )
            users.set_available(session=session, user=desk, available=True)
        if declare:
            body = MajorIn(name="Gempa Padang M7,2", type_code="earthquake")
            major.declare(session=session, region=ctx.region, body=body, user_id=sup.id, actor="bench-sup")
        token = users.issue_token(session=session, user=sup, kind="api", lifetime=timedelta(hours=2))
    ctx.engine.dispose()
    return token


def keys(n: int, rng: random.Random) -> list[Caller]:
    callers = []
    for _ in range(n):
        key = rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        stays = key != 3 or rng.random() >= INFO_HANG_UP
        callers.append(Caller(key, stays))
    return callers


def arrivals(n: int, seconds: float, ramp_s: float) -> list[float]:
    """When each call arrives: a rate rising linearly over `ramp_s`, then flat, `n` calls in `seconds`."""
    flat = n / (seconds - ramp_s / 2)  # calls per second once ramped up
    out = []
    for i in range(n):
        done = i + 0.5
        ramped = flat * ramp_s / 2
        out.append(math.sqrt(2 * done * ramp_s / flat) if done < ramped else ramp_s + (done - ramped) / flat)
    return out


class Consoles:
    """Supervisors' and call-takers' consoles on /ws: read, counted, not parsed (what the server pays is the point)."""

    def __init__(self) -> None:
        self.ready = 0
        self.messages = 0

    async def run(self, http: aiohttp.ClientSession, url: str) -> None:
        async with http.ws_connect(url, max_msg_size=2**23) as ws:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    break
                if '"live"' in frame.data and self.ready >= 0:
                    self.ready += 1
                self.messages += 1


async def one_run(args: argparse.Namespace, declare: bool, callers: list[Caller]) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="tanggap-surge-"))
    db_file = workdir / "bench.db"
    token = await asyncio.to_thread(prepare, f"sqlite:///{db_file}", args.takers, declare)
    run = Run(callers=[Caller(c.key, c.stays) for c in callers])
    rng = random.Random(2009)
    pbx = await AriDouble().start()
    pbx.playback_s = args.prompt_s
    conversations: list[asyncio.Task[None]] = []

    def seen(event: dict[str, Any]) -> None:
        now = time.perf_counter()
        kind = event["type"]
        if kind == "PlaybackStarted":
            target = str(event["playback"].get("target_uri", ""))[len("channel:") :]
            caller = run.by_channel.get(target)
            if caller is not None and caller.greeted is None:
                caller.greeted = now
        elif kind == "StasisStart" and event.get("args", [""])[0] == "taker":
            conversations.append(asyncio.ensure_future(talk(event["channel"]["id"])))

    async def talk(leg: str) -> None:
        """The call-taker's conversation, then they hang up (the bridge ends the call for the caller too)."""
        await asyncio.sleep(rng.lognormvariate(math.log(args.handle_s), 0.5))
        run.hung_up.add(leg)
        await pbx.caller_hangup(leg)

    pbx.on_event = seen
    port = free_port()
    env = {
        **os.environ,
        "TANGGAP_DATABASE_URL": f"sqlite:///{db_file}",
        "TANGGAP_ARI_URL": pbx.url,
        "TANGGAP_ARI_BRIDGE": "true",
        "TANGGAP_ARI_USER": pbx.user,
        "TANGGAP_ARI_PASSWORD": pbx.password,
        "TANGGAP_AGI_PORT": str(free_port()),
        "TANGGAP_WS_BUFFER": "100000",
        "TANGGAP_LOG_LEVEL": "WARNING",
        "TANGGAP_REGION": "padang",
        "TANGGAP_ARI_ACD_INTERVAL_S": "0.5",
        "TANGGAP_ARI_RECORD": "false",
        "TANGGAP_ARI_CHOICE_WAIT_S": str(args.choice_wait_s),
        "TANGGAP_QUEUE_PRIORITY_LEAD_S": str(args.lead_s),
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "ui.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--ws", "websockets-sansio", "--ws-per-message-deflate", "false", "--log-level", "warning", "--no-access-log",
        cwd=ROOT, env=env,
    )  # fmt: skip
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    consoles = Consoles()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(90):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await api.get("/healthz")).status_code == 200 and pbx.app_connected:
                        break
                await asyncio.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/ws?token={token}"
        watchers = [asyncio.create_task(consoles.run(http, url)) for _ in range(args.consoles)]
        async with asyncio.timeout(60):
            while consoles.ready < args.consoles:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

        async def call(caller: Caller, number: str) -> None:
            caller.entered = time.perf_counter()
            channel = await pbx.incoming_call(number)
            if channel is None:
                return
            caller.channel = channel
            run.by_channel[channel] = caller
            await asyncio.sleep(rng.uniform(0.4, 0.9) * args.prompt_s * 2)  # into the announcement's choices
            if caller.key is not None and channel in pbx.channels:
                await pbx.dtmf(channel, str(caller.key))
            if caller.key == 3:
                await asyncio.sleep(args.prompt_s * 3 + 0.5)  # the information
                if channel not in pbx.channels:
                    return
                if not caller.stays:
                    run.hung_up.add(channel)
                    await pbx.caller_hangup(channel)
                elif rng.random() < INFO_PERSON / (1 - INFO_HANG_UP):
                    await pbx.dtmf(channel, "0")

        async def sample_queue() -> None:
            while True:
                waiting = sum(1 for c in pbx.channels.values() if c.id in run.by_channel and pbx.holding(c.id))
                run.max_queue = max(run.max_queue, waiting)
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample_queue())
        cpu_before = cpu_ms(server.pid)
        began = time.perf_counter()
        for i, (caller, at) in enumerate(
            zip(run.callers, arrivals(len(run.callers), args.seconds, args.ramp_s), strict=True)
        ):
            await asyncio.sleep(max(0.0, began + at - time.perf_counter()))
            tasks.append(asyncio.create_task(call(caller, f"+62812{i:07d}")))
        await asyncio.gather(*tasks)
        await asyncio.sleep(max(0.0, began + args.seconds - time.perf_counter()))
        ended = time.perf_counter()
        cpu_after = cpu_ms(server.pid)
        sampler.cancel()
        for channel in [c for c in run.by_channel if c in pbx.channels]:  # the run is over: everyone hangs up
            run.hung_up.add(channel)
            await pbx.caller_hangup(channel)
        for leg in [c for c in pbx.channels if c not in run.by_channel]:
            run.hung_up.add(leg)
            await pbx.caller_hangup(leg)
        await asyncio.sleep(2.0)  # the bridge records the last ends
        for task in [*conversations, *watchers]:
            task.cancel()
        dropped = {
            r[1].rsplit("/", 1)[-1] for r in pbx.requests if r[0] == "DELETE" and r[1].startswith("/ari/channels/")
        }
        return summary(run, db_file, began, ended, dropped, consoles, cpu_before, cpu_after)
    finally:
        await http.close()
        await api.aclose()
        server.terminate()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await server.wait()
        await pbx.stop()


def summary(
    run: Run, db_file: Path, began: float, ended: float, dropped: set[str], consoles: Consoles,
    cpu_before: float | None, cpu_after: float | None,
) -> dict[str, Any]:  # fmt: skip
    with sqlite3.connect(db_file) as db:
        rows = {
            channel: (offered, answered, choice)
            for channel, offered, answered, choice in db.execute(
                "SELECT channel_id, offered_at, answered_at, major_choice FROM calls"
            )
        }
    lost = 0
    waits: dict[str, list[float]] = {"priority": [], "others": []}
    answered = {"priority": 0, "others": 0}
    recorded_choice = 0
    for caller in run.callers:
        channel = caller.channel
        if channel is None or channel not in rows:
            lost += 1
            continue
        offered, answered_at, choice = rows[channel]
        if channel in dropped and channel not in run.hung_up and not answered_at:
            lost += 1  # hung up by the bridge before a person answered (after a conversation it is the bridge's job)
        recorded_choice += choice == (caller.key if caller.key is not None else None)
        if not caller.stays:
            continue  # heard the information and hung up: waited for nobody
        group = "priority" if caller.key in (1, None) else "others"
        if answered_at:
            wait = (_time(answered_at) - _time(offered)).total_seconds()
            answered[group] += 1
        else:
            wait = ended - caller.entered  # still waiting when the run ended: the time waited so far
        waits[group].append(max(0.0, wait))
    greeted = [(c.greeted - c.entered) * 1000 for c in run.callers if c.greeted is not None]
    priority, others = pct(waits["priority"], 0.9), pct(waits["others"], 0.9)
    calls = len(run.callers)
    cpu = (cpu_after - cpu_before) / calls if cpu_after is not None and cpu_before is not None else None
    return {
        "calls": calls,
        "lost": lost,
        "greeted": len(greeted),
        "greeted_p50_ms": pct(greeted, 0.5),
        "greeted_p99_ms": pct(greeted, 0.99),
        "priority_wait_p90_s": priority,
        "others_wait_p90_s": others,
        "priority_to_others": round(priority / others, 3) if priority is not None and others else None,
        "answered": answered,
        "choices_recorded": recorded_choice,
        "max_queue": run.max_queue,
        "server_cpu_ms_per_call": round(cpu, 2) if cpu is not None else None,
        "console_messages": consoles.messages,
    }


def _time(value: str) -> datetime:
    return datetime.fromisoformat(str(value))


async def main(args: argparse.Namespace) -> dict[str, Any]:
    machine = machine_ms()
    callers = keys(args.calls, random.Random(112))
    out: dict[str, Any] = {"machine_ms": round(machine, 2), "settings": {
        "calls": args.calls, "seconds": args.seconds, "ramp_s": args.ramp_s, "takers": args.takers,
        "handle_s": args.handle_s, "consoles": args.consoles, "prompt_s": args.prompt_s, "lead_s": args.lead_s,
    }}  # fmt: skip
    out["major"] = await one_run(args, True, callers)
    if not args.no_baseline:
        out["baseline"] = await one_run(args, False, callers)
    return out


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--takers", type=int, default=4)
    parser.add_argument("--handle-s", type=float, default=60.0, help="median handling time (lognormal)")
    parser.add_argument("--consoles", type=int, default=50)
    parser.add_argument("--prompt-s", type=float, default=3.0, help="how long each prompt plays")
    parser.add_argument("--choice-wait-s", type=float, default=6.0)
    parser.add_argument("--lead-s", type=int, default=300, help="TANGGAP_QUEUE_PRIORITY_LEAD_S")
    parser.add_argument("--no-baseline", action="store_true", help="only the run with the major incident")
    parser.add_argument("--quick", action="store_true", help="about a minute: 80 calls in 20 s, twice")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.minutes, args.handle_s, args.consoles, args.prompt_s = 80, 20 / 60, 2.0, 5, 0.5
        args.choice_wait_s = 1.0
    args.seconds = args.minutes * 60
    args.ramp_s = args.seconds / 5
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(parse()))))
