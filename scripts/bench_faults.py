"""Fault battery of the call path: calls keep coming while one part fails; nothing may be lost.

Starts what it needs on free ports: the ARI double in this process, `tanggap serve` and `tanggap ari` bridges as
child processes (SQLite in a temp folder), and one websocket console. Each scenario sends a bounded stream of
calls (2 calls/s) and injects one fault; a call that arrives while no bridge is connected takes the dialplan's
fallback (the double models the sample dialplan: the desks ring and the call is journalled in AstDB).
Prints one JSON line per scenario:

    {"fault", "sent", "recorded", "lost", "duplicates", "caller_errors", "console_missed", "recovery_s"}

lost: calls made that never became a call record; caller_errors: callers in Stasis who were never put on hold
with music (fallback callers ring the desks, which is a person, not an error); console_missed: calls whose
`call.offered` the console never received; recovery_s: from the fault to normal service (a bridge connected
again and every call of the outage recorded). Target: 0, 0, 0, 0 and recovery_s <= 5.

The multi-server scenarios (server_kill, postgres_restart, redis_kill: two servers behind nginx on PostgreSQL
and the Redis bus, Twilio webhooks at 10 calls/s) are in scripts/bench_faults_server.py; same JSON line.

    .venv/bin/python scripts/bench_faults.py                      # every scenario
    .venv/bin/python scripts/bench_faults.py --only bridge_kill
    .venv/bin/python scripts/bench_faults.py --only server_kill,redis_kill --quick   # a few seconds each
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import aiohttp  # noqa: E402
import bench_faults_server as multi  # noqa: E402
from bench_calls import free_port, prepare  # noqa: E402

from tests.doubles.ari_server import AriDouble  # noqa: E402

RATE = 2.0  # calls per second
BEFORE_S, OUTAGE_S, AFTER_S = 3.0, 3.0, 4.0
TANGGAP = str(Path(sys.executable).parent / "tanggap")


class Console:
    """A dispatcher's console: notes the channel of every call.offered it receives."""

    def __init__(self) -> None:
        self.offered: set[str] = set()
        self.ready = asyncio.Event()

    async def run(self, http: aiohttp.ClientSession, url: str) -> None:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with http.ws_connect(url) as ws:
                    self.ready.set()
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            continue
                        for event in _events(json.loads(frame.data)):
                            if event.get("type") == "call.offered":
                                self.offered.add(str(event["data"].get("channel_id")))
            await asyncio.sleep(0.2)


def _events(message: Any) -> list[dict[str, Any]]:
    if isinstance(message, list):
        return [m for m in message if isinstance(m, dict)]
    if isinstance(message, dict):
        return [message, *[m for m in message.get("events", []) if isinstance(m, dict)]]
    return []


def _quiet() -> int | None:
    """The children's logs: shown with BENCH_VERBOSE=1."""
    return None if os.environ.get("BENCH_VERBOSE") else asyncio.subprocess.DEVNULL


def rows(db_url: str) -> list[str]:
    from sqlalchemy import select

    from config.settings import Settings
    from dispatch.calls.models import Call
    from ui.context import build

    ctx = build(Settings(database_url=db_url, region="padang"))
    with ctx.sessions() as session:
        found = list(session.scalars(select(Call.channel_id).where(Call.provider == "asterisk")))
    ctx.engine.dispose()
    return found


async def start_bridge(env: dict[str, str], api: str, token: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        TANGGAP, "ari", "--api-url", api, "--token", token, cwd=ROOT, env=env, stderr=_quiet()
    )


async def scenario(name: str) -> dict[str, Any]:
    pbx = await AriDouble().start()
    for desk in range(10):
        pbx.endpoints[f"desk{desk}"] = "answer"
    folder = tempfile.mkdtemp(prefix="tanggap-faults-")
    db_url = f"sqlite:///{folder}/tanggap.db"
    sup_token, _, bridge_token = prepare(db_url)
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TANGGAP_DATABASE_URL": db_url,
        "TANGGAP_REGION": "padang",
        "TANGGAP_PORT": str(port),
        "TANGGAP_LOG_LEVEL": "WARNING",
        "TANGGAP_ARI_URL": pbx.url,
        "TANGGAP_ARI_USER": pbx.user,
        "TANGGAP_ARI_PASSWORD": pbx.password,
        "TANGGAP_ARI_LEASE_TTL_S": "2",
        "TANGGAP_ARI_JOURNAL_INTERVAL_S": "0.5",
        "TANGGAP_ARI_BACKOFF_MAX_S": "1",
        "TANGGAP_AGI_PORT": str(free_port()),
    }
    server = await asyncio.create_subprocess_exec(  # as bench_calls.py: the schema is made by prepare()
        sys.executable, "-m", "uvicorn", "ui.app:create_app", "--factory", "--port", str(port),
        "--ws", "websockets-sansio", "--log-level", "warning", "--no-access-log",
        cwd=ROOT, env={**env, "TANGGAP_ARI_BRIDGE": "false"}, stderr=_quiet(),
    )  # fmt: skip
    bridges = [await start_bridge({**env, "TANGGAP_AGI_PORT": str(free_port())}, api, bridge_token)]
    http = aiohttp.ClientSession()
    console = Console()
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.timeout(60):
            while not pbx.app_connected:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        if name == "bridge_takeover":
            bridges.append(await start_bridge({**env, "TANGGAP_AGI_PORT": str(free_port())}, api, bridge_token))
            await asyncio.sleep(1.0)  # the standby has asked for the lease and waits
        tasks.append(asyncio.create_task(console.run(http, f"ws://127.0.0.1:{port}/ws?token={sup_token}")))
        await asyncio.wait_for(console.ready.wait(), 30)
        sent: list[str] = []
        stasis: list[str] = []

        async def one(n: int) -> None:
            caller = f"+62812{n:07d}"
            channel = await pbx.incoming_call(caller)
            if channel is None:  # no bridge: the dialplan rings the desks and journals the call
                channel = await pbx.fallback_call(caller, desk="desk0", answer_after_s=0.3, talk_s=1.0)
                fallback.append(channel)
            else:
                stasis.append(channel)
                tasks.append(asyncio.create_task(hang_up_later(pbx, channel, 2.0)))
            sent.append(channel)

        fallback: list[str] = []
        recovered: list[float] = []
        connected: list[float] = []  # when a bridge was connected again after the fault

        async def watch(fault_at: float) -> None:
            """Normal service again: a bridge connected, and every call of the outage is on record."""
            while True:
                await asyncio.sleep(0.1)
                now = time.monotonic()
                if pbx.app_connected and not connected:
                    connected.append(now)
                if pbx.app_connected and set(fallback) <= set(await asyncio.to_thread(rows, db_url)):
                    recovered.append(now)
                    return

        began = time.monotonic()
        fault_at: float | None = None
        n = 0
        while time.monotonic() - began < BEFORE_S + OUTAGE_S + AFTER_S:
            if fault_at is None and time.monotonic() - began >= BEFORE_S:
                fault_at = time.monotonic()
                bridges[0].send_signal(signal.SIGKILL)
                await bridges[0].wait()
                await pbx.drop_websockets(abrupt=True)
                tasks.append(asyncio.create_task(watch(fault_at)))
            if name == "bridge_kill" and fault_at and len(bridges) == 1 and time.monotonic() - fault_at >= OUTAGE_S:
                bridges.append(await start_bridge({**env, "TANGGAP_AGI_PORT": str(free_port())}, api, bridge_token))
            tasks.append(asyncio.create_task(one(n)))
            n += 1
            await asyncio.sleep(1 / RATE)
        assert fault_at is not None
        with contextlib.suppress(TimeoutError):  # what is still missing then is reported as lost or missed
            async with asyncio.timeout(30):
                while not (recovered and set(sent) <= set(rows(db_url)) and set(sent) <= console.offered):  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
        found = rows(db_url)
        held = {
            e["channel"]["id"]
            for e in pbx.sent
            if e["type"] == "ChannelEnteredBridge" and str(e["bridge"]["id"]).endswith("-hold")
        }
        return {
            "fault": name,
            "sent": len(sent),
            "recorded": len(set(sent) & set(found)),
            "lost": len(set(sent) - set(found)),
            "duplicates": len(found) - len(set(found)),
            "caller_errors": len([c for c in stasis if c not in held]),
            "console_missed": len(set(sent) - console.offered),
            "recovery_s": round(recovered[0] - fault_at, 2) if recovered else None,
            "fallback_calls": len(sent) - len(stasis),
            "reconnect_s": round(connected[0] - fault_at, 2) if connected else None,
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.close()
        for process in [*bridges, server]:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 10)
        await pbx.stop()


async def hang_up_later(pbx: AriDouble, channel: str, after: float) -> None:
    await asyncio.sleep(after)
    await pbx.caller_hangup(channel)


BRIDGE_SCENARIOS = ("bridge_kill", "bridge_takeover")
SCENARIOS = (*BRIDGE_SCENARIOS, *multi.SCENARIOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="the multi-server scenarios in a few seconds each")
    args = parser.parse_args()
    wanted = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = set(wanted) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    for name in wanted:
        if name in BRIDGE_SCENARIOS:
            result = asyncio.run(scenario(name))
        else:
            result = asyncio.run(multi.scenario(name, multi.QUICK if args.quick else multi.FULL))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
