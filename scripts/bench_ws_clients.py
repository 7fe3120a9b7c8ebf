"""What the load test's own consoles cost: how long one process takes to read a burst on 100 websockets.

`scripts/bench_calls.py` runs a hundred consoles in one process, so the last console reads a message only after
the other 99 have. This measures that delay alone, for the two websocket clients we have: a server process
sends one ~55 KB text message (a 200-call burst, as `/ws` sends it) to each of 100 connections, and the
clients note when each arrives. Prints one JSON line: per client, the median over rounds of the time from the
first send to the last arrival, the client process's CPU per round, and the ratio of websockets to aiohttp.

    .venv/bin/python scripts/bench_ws_clients.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import uvloop
from aiohttp import web
from websockets.asyncio.client import connect

from dispatch.calls.service import offered_data

Reader = Callable[[str, list[float]], Awaitable[None]]


def burst_text(calls: int = 200) -> str:
    """What `/ws` sends for a burst: `call.offered` events whose data is a new call as the writer records it."""
    new_call = {
        "caller": "+628120015000",
        "provider": "asterisk",
        "channel_id": "1795928494.35",
        "dialled": "112",
        "status": "offered",
        "offered_at": datetime(2026, 11, 29, 5, 3, 25, 511856, tzinfo=UTC),
        "flagged": False,
        "is_text": False,
    }
    call = offered_data(new_call, 1)
    at = "2026-11-29T05:03:25.511856+00:00"
    events = [{"seq": n, "type": "call.offered", "at": at, "data": call} for n in range(calls)]
    return json.dumps(events, separators=(",", ":"))  # compact, as ui/stream.py sends it


def serve(port: int, consoles: int, rounds: int, sent: Any) -> None:
    """The sender, in its own process: once every console is connected, one message to each, `rounds` times."""

    async def main() -> None:
        sockets: list[web.WebSocketResponse] = []
        done, everyone = asyncio.Event(), asyncio.Event()

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            sockets.append(ws)
            if len(sockets) == consoles:
                everyone.set()
            await done.wait()
            return ws

        app = web.Application()
        app.router.add_get("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        text = burst_text()
        await everyone.wait()
        for _ in range(rounds):
            await asyncio.sleep(0.3)  # every console has read the last round
            sent.put(time.perf_counter())
            for ws in sockets:
                await ws.send_str(text)
        done.set()
        await runner.cleanup()

    uvloop.run(main())


async def read_websockets(url: str, arrived: list[float]) -> None:
    async with connect(url.replace("http://", "ws://"), max_size=2**22) as ws:
        async for _ in ws:
            arrived.append(time.perf_counter())


async def read_aiohttp(url: str, arrived: list[float]) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=2**22) as ws:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            arrived.append(time.perf_counter())


def measure(reader: Reader, consoles: int, rounds: int) -> dict[str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    sent: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(port, consoles, rounds, sent))
    server.start()
    arrived: list[float] = []

    async def clients() -> float:
        await asyncio.sleep(0.5)
        cpu = time.process_time()
        await asyncio.gather(*(reader(f"http://127.0.0.1:{port}/", arrived) for _ in range(consoles)))
        return time.process_time() - cpu

    cpu = uvloop.run(clients())
    starts = [sent.get() for _ in range(rounds)]  # before join: a child joins only once its queue is drained
    server.join()
    spans = []
    for start in starts:
        got = [t for t in arrived if start <= t < start + 0.25]
        if len(got) == consoles:
            spans.append((max(got) - start) * 1000)
    return {"last_arrival_ms": round(statistics.median(spans), 2), "cpu_ms_per_round": round(cpu / rounds * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consoles", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    websockets_client = measure(read_websockets, args.consoles, args.rounds)
    aiohttp_client = measure(read_aiohttp, args.consoles, args.rounds)
    result = {
        "consoles": args.consoles,
        "message_bytes": len(burst_text()),
        "websockets": websockets_client,
        "aiohttp": aiohttp_client,
        "ratio_last_arrival": round(websockets_client["last_arrival_ms"] / aiohttp_client["last_arrival_ms"], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
