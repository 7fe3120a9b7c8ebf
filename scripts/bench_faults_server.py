"""Fault battery of the multi-server deployment: two `tanggap serve` behind nginx, one PostgreSQL, the Redis bus.

Each scenario starts everything of its own on free ports in a temporary folder (never the machine's services):
a PostgreSQL cluster and a redis-server (tests/servers.py), two servers with TANGGAP_EVENT_BUS=redis, nginx with
the shipped config/nginx/tanggap.conf (plain HTTP on the loopback instead of TLS), and websocket consoles on
each server. Callers are signed Twilio voice webhooks through nginx at `rate` calls/s, each ended by its status
callback `hangup_s` later. One fault mid-stream:

- server_kill: one server killed -9 and started again 0.5 s later;
- postgres_restart: `pg_ctl restart -m fast` of the cluster (a fraction of a second on this small database);
- postgres_down: the cluster stopped (`-m fast`) for 3 s, then started: a longer outage, where webhooks must
  answer without the database;
- redis_kill: redis-server killed -9 and started again 3 s later.

caller_errors: webhooks (voice or status) that met a refused or cut connection, a timeout (Twilio's 15 s), an
error status, or a voice answer that is not TwiML. console_missed: recorded calls whose `call.offered` some
console never got (consoles reconnect with `?since=` after a cut). recovery_s: from the fault to normal service
again, once the fault is over: every server's /healthz "ok" (database and bus) and every call answered so far
on record. Servers run with a bytecode cache of their own, as an install with compiled bytecode does
(scripts/bench_startup.py measures both); the cluster runs with fsync=off (tests/servers.py).

Run through scripts/bench_faults.py (`--only server_kill`); tests/test_fault_battery.py runs `--quick`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import PostgresProcess, RedisProcess, free_port  # noqa: E402

SCENARIOS = ("server_kill", "postgres_restart", "postgres_down", "redis_kill")
NGINX_CONF = ROOT / "config" / "nginx" / "tanggap.conf"
TANGGAP = str(Path(sys.executable).parent / "tanggap")
TOKEN = "bench-twilio-auth-token"
TWILIO_TIMEOUT_S = 15.0  # Twilio gives up on a webhook after 15 s
# The servers' bytecode, kept between runs (Python checks each file against its source).
PYCACHE = Path(tempfile.gettempdir()) / "tanggap-bench-pycache"


@dataclass(frozen=True)
class Plan:
    rate: float = 10.0  # calls per second
    duration_s: float = 20.0  # of the stream
    fault_at_s: float = 6.0
    consoles: int = 20  # per server
    hangup_s: float = 3.0  # a caller's status callback comes this long after the voice webhook
    servers: int = 2
    settle_s: float = 30.0  # after the stream, at most this long for the last calls to reach records and consoles


FULL = Plan()
QUICK = Plan(rate=4.0, duration_s=7.0, fault_at_s=2.0, consoles=3, settle_s=20.0)


def note(what: str) -> None:
    """Progress on stderr with BENCH_VERBOSE=1."""
    if os.environ.get("BENCH_VERBOSE"):
        print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def nginx_available() -> bool:
    return shutil.which("nginx") is not None


def proxy_config(folder: Path, listen: int, ports: list[int]) -> Path:
    """config/nginx/tanggap.conf as shipped, but for this benchmark: plain HTTP on the loopback (no TLS, no
    redirect server), our servers' ports, logs and temporary files in `folder`."""
    conf = "\n".join(line for line in NGINX_CONF.read_text().splitlines() if not line.lstrip().startswith("#"))
    members = re.findall(r"^( *)server 127\.0\.0\.1:\d+( [^;]*)?;$", conf, re.MULTILINE)
    assert members, "no upstream servers in tanggap.conf"
    indent, params = members[0]
    ours = "\n".join(f"{indent}server 127.0.0.1:{port}{params};" for port in ports)
    conf = re.sub(r"(?:^ *server 127\.0\.0\.1:\d+[^;]*;\n)+", ours + "\n", conf, count=1, flags=re.MULTILINE)
    redirect = conf.index("listen 80;")  # the HTTP server that only redirects to HTTPS: not needed here
    conf = conf[: conf.rindex("server {", 0, redirect)] + conf[conf.index("\n}\n", redirect) + 3 :]
    conf, tls = re.subn(r"^ *listen 443 ssl http2;$", f"    listen 127.0.0.1:{listen};", conf, flags=re.MULTILINE)
    assert tls == 1, "tanggap.conf changed shape: update proxy_config()"
    conf = re.sub(r"^ *(listen \[::\]:443.*|ssl_\w+ .*|add_header Strict-Transport-Security .*)$", "", conf, flags=re.M)
    conf = conf.replace("/var/log/nginx/", f"{folder}/")
    (folder / "tanggap.conf").write_text(conf)
    main = folder / "nginx.conf"
    main.write_text(
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\nworker_processes 1;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {folder}/body;\n  proxy_temp_path {folder}/proxy;\n"
        f"  include {folder}/tanggap.conf;\n}}\n"
    )
    return main


async def pongs(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"PING\r\n")
        return await asyncio.wait_for(reader.readline(), 1) == b"+PONG\r\n"
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def healthz(http: aiohttp.ClientSession, base: str) -> dict[str, Any] | None:
    """The server's health when it answers 200, else None."""
    try:
        async with http.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
            return dict(await response.json()) if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


class Deployment:
    """The cluster, Redis, the servers and nginx of one scenario."""

    def __init__(self, plan: Plan, folder: Path, *, proxied: bool = True) -> None:
        self.plan, self.folder, self.proxied = plan, folder, proxied
        self.pg = PostgresProcess()
        self.redis = RedisProcess(folder)
        self.ports = [free_port() for _ in range(plan.servers)]
        self.proxy_port = free_port()
        self.servers: list[asyncio.subprocess.Process | None] = [None] * plan.servers
        self.nginx: asyncio.subprocess.Process | None = None
        self.background: list[asyncio.Task[None]] = []
        self.supervisor_token = ""

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def entry(self) -> str:
        """Where callers post: nginx, or without it the first server (Twilio signs the public URL all the same)."""
        return self.proxy if self.proxied else self.direct(0)

    def direct(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TANGGAP_DATABASE_URL")}
        return {
            **env,
            "PYTHONPYCACHEPREFIX": str(PYCACHE),
            "TANGGAP_DATABASE_URL": self.pg.url,
            "TANGGAP_REGION": "padang",
            "TANGGAP_EVENT_BUS": "redis",
            "TANGGAP_REDIS_URL": self.redis.url,
            "TANGGAP_TWILIO_AUTH_TOKEN": TOKEN,
            "TANGGAP_PUBLIC_URL": self.proxy,
            "TANGGAP_LOG_LEVEL": "WARNING",
        }

    def _prepare(self) -> None:
        """The cluster and Redis running; the schema by alembic, as `serve` makes it; the region and a supervisor."""
        from config.settings import Settings
        from dispatch.regions import seed
        from dispatch.users import service as users
        from ui.cli import upgrade
        from ui.context import build

        self.pg.init()
        self.pg.start()
        self.redis.start()
        settings = Settings(database_url=self.pg.url, region="padang", _env_file=None)  # type: ignore[call-arg]
        upgrade(settings)
        ctx = build(settings)
        try:
            with ctx.sessions() as session:
                seed(session, ctx.region.pack)
                user = users.create(session=session, username="bench-sup", password="rahasia-112", role="supervisor")
                self.supervisor_token = users.issue_token(
                    session=session, user=user, kind="api", lifetime=timedelta(hours=2)
                )
        finally:
            ctx.engine.dispose()

    async def start(self) -> None:
        await asyncio.to_thread(self._prepare)
        note("database, Redis and users ready")
        async with aiohttp.ClientSession() as http:
            for i in range(len(self.ports)):
                await self.start_server(i)
            for i in range(len(self.ports)):
                await self.until_healthy(http, self.direct(i), 120)
            if not self.proxied:
                return
            self.folder.chmod(0o755)  # nginx's workers run as nobody when we are root
            main = proxy_config(self.folder, self.proxy_port, self.ports)
            self.nginx = await asyncio.create_subprocess_exec(
                "nginx", "-p", str(self.folder), "-e", f"{self.folder}/error.log", "-c", str(main),
                "-g", "daemon off;", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await self.until_healthy(http, self.proxy, 30)

    async def until_healthy(self, http: aiohttp.ClientSession, base: str, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while await healthz(http, base) is None:
            if time.monotonic() > end:
                raise RuntimeError(f"{base} did not answer /healthz within {deadline_s:.0f} s (see {self.folder})")
            await asyncio.sleep(0.05)

    async def start_server(self, i: int) -> None:
        log = (self.folder / f"server-{i}.log").open("ab")
        self.servers[i] = await asyncio.create_subprocess_exec(
            TANGGAP, "serve", "--port", str(self.ports[i]), cwd=self.folder,
            env={**self.env(), "TANGGAP_JOURNAL_DIR": str(self.folder / f"journal-{i}")}, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()

    async def kill_server(self, i: int) -> None:
        server = self.servers[i]
        if server is not None and server.returncode is None:
            server.kill()
            await server.wait()

    def calls(self) -> list[tuple[str, str]] | None:
        """(CallSid, status) of every Twilio call on record; None while the database does not answer."""
        try:
            with psycopg.connect(self.pg.url, connect_timeout=2) as conn:
                rows = conn.execute("SELECT channel_id, status FROM calls WHERE provider = 'twilio'").fetchall()
        except psycopg.Error:
            return None
        return [(str(sid), str(status)) for sid, status in rows]

    async def stop(self) -> None:
        await asyncio.gather(*self.background, return_exceptions=True)
        for process in [*self.servers, self.nginx]:
            if process is not None and process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        self.redis.kill()
        await asyncio.to_thread(self.pg.remove)


class Caller:
    """Twilio's side: signed voice webhooks and status callbacks through the proxy, every failure counted."""

    def __init__(self, http: aiohttp.ClientSession, entry: str, public: str, hangup_s: float) -> None:
        self.http, self.entry, self.public, self.hangup_s = http, entry, public, hangup_s
        self.validator = RequestValidator(TOKEN)
        self.sent: list[str] = []
        self.sent_at: list[float] = []
        self.answered: set[str] = set()  # voice webhooks answered with TwiML
        self.errors: Counter[str] = Counter()

    async def call(self, n: int) -> None:
        sid = f"CA{n:032x}"
        self.sent.append(sid)
        self.sent_at.append(time.monotonic())
        params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": f"+62812{n:07d}", "To": "+62112",
                  "CallStatus": "ringing", "Direction": "inbound"}  # fmt: skip
        if await self._post("/telephony/twilio/voice", params, "voice"):
            self.answered.add(sid)
        await asyncio.sleep(self.hangup_s)
        ended = {**params, "CallStatus": "completed", "CallDuration": f"{self.hangup_s:.0f}"}
        await self._post("/telephony/twilio/status", ended, "status")

    async def _post(self, path: str, params: dict[str, str], hook: str) -> bool:
        headers = {"X-Twilio-Signature": self.validator.compute_signature(self.public + path, params)}
        try:
            async with self.http.post(
                self.entry + path, data=params, headers=headers, timeout=aiohttp.ClientTimeout(total=TWILIO_TIMEOUT_S)
            ) as response:
                body = await response.text()
                status, kind = response.status, response.content_type
        except aiohttp.ClientConnectorError:
            return self._failed(hook, "refused")
        except TimeoutError:
            return self._failed(hook, "timeout")
        except aiohttp.ClientError:  # the connection was cut before the whole answer came
            return self._failed(hook, "cut")
        if status >= 500:
            return self._failed(hook, "5xx")
        if status != 200:
            return self._failed(hook, str(status))
        if hook == "voice" and not (kind in ("application/xml", "text/xml") and "<Response" in body):
            return self._failed(hook, "non_twiml")
        return True

    def _failed(self, hook: str, why: str) -> bool:
        self.errors[f"{hook}_{why}"] += 1
        return False


class Console:
    """A supervisor's console on one server: follows /ws, and after a cut reconnects with `?since=` the last
    sequence number it saw, as the real console does (ui/stream.py)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.offered: set[str] = set()
        self.last: int | None = None
        self.live = asyncio.Event()
        self.connected = False  # once: later connections are reconnections
        self.reconnects = 0

    async def run(self, http: aiohttp.ClientSession) -> None:
        while True:
            since = "" if self.last is None else f"&since={self.last}"
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.ws_connect(self.url + since, max_msg_size=2**24) as ws:
                    async for frame in ws:
                        if frame.type == aiohttp.WSMsgType.TEXT:
                            self._read(json.loads(frame.data))
            self.live.clear()
            await asyncio.sleep(0.2)

    def _read(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if message.get("seq") is not None:
                self.last = max(self.last or 0, int(message["seq"]))
            if message.get("type") == "live":
                if self.connected:
                    self.reconnects += 1
                self.connected = True
                self.live.set()
            elif message.get("type") == "call.offered":
                self.offered.add(str(message["data"].get("channel_id")))


@dataclass(frozen=True)
class Times:
    """Monotonic seconds: the fault, its end (the server, PostgreSQL or Redis back), normal service again."""

    fault: float
    over: float
    normal: float


async def inject(name: str, deployment: Deployment) -> float:
    """The fault, and what an operator's supervisor (systemd, the DBA) does about it; returns when it was over."""
    if name == "server_kill":
        await deployment.kill_server(0)
        await asyncio.sleep(0.5)
        await deployment.start_server(0)
    elif name in ("postgres_restart", "postgres_down"):
        await asyncio.to_thread(deployment.pg.stop, "fast")  # what `pg_ctl restart -m fast` does, in two steps
        await asyncio.sleep(3.0 if name == "postgres_down" else 0.0)
        await asyncio.to_thread(deployment.pg.start)
    elif name == "redis_kill":
        deployment.redis.kill()
        await asyncio.sleep(3.0)
        # RedisProcess.start's probe may wait out redis-py's retries (7 s when it pings before the server listens):
        # the fault is over when Redis answers, which is asked here directly.
        deployment.background.append(asyncio.create_task(asyncio.to_thread(deployment.redis.start)))
        while not await pongs(deployment.redis.port):  # noqa: ASYNC110  # another process: no event to wait on
            await asyncio.sleep(0.02)
    else:
        raise ValueError(name)
    return time.monotonic()


async def fault_and_recovery(name: str, deployment: Deployment, caller: Caller, http: aiohttp.ClientSession) -> Times:
    """The fault, then the watch for normal service from the moment it is over."""
    at = time.monotonic()
    over = await inject(name, deployment)
    note(f"fault over after {over - at:.2f} s")
    return Times(at, over, await recovered(deployment, caller, http))


async def recovered(deployment: Deployment, caller: Caller, http: aiohttp.ClientSession) -> float:
    """When service is normal again: every server healthy (database and bus) and every answered call on record."""
    seen: list[str | None] = []
    while True:
        health = await asyncio.gather(*(healthz(http, deployment.direct(i)) for i in range(len(deployment.ports))))
        states = [h and f"{h.get('status')} (database {h.get('database')}, bus {h.get('bus')})" for h in health]
        if states != seen:
            note(f"health: {states}")
            seen = states
        if all(h is not None and h.get("status") == "ok" for h in health):
            answered = set(caller.answered)
            rows = await asyncio.to_thread(deployment.calls)
            if rows is not None and answered <= {sid for sid, _ in rows}:
                return time.monotonic()
        await asyncio.sleep(0.1)


async def scenario(name: str, plan: Plan = FULL) -> dict[str, Any]:
    """One scenario; without nginx on this machine, callers post to the first server directly (server_kill, which
    is about the proxy's failover, needs nginx)."""
    if name == "server_kill" and not nginx_available():
        raise RuntimeError("server_kill needs nginx (apt-get install nginx)")
    folder = Path(tempfile.mkdtemp(prefix=f"tanggap-{name}-"))
    deployment = Deployment(plan, folder, proxied=nginx_available())
    tasks: list[asyncio.Task[Any]] = []
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        note(f"{name}: starting in {folder}")
        await deployment.start()
        note("servers and proxy up")
        consoles = [
            Console(f"ws://127.0.0.1:{port}/ws?token={deployment.supervisor_token}")
            for port in deployment.ports
            for _ in range(plan.consoles)
        ]
        tasks += [asyncio.create_task(console.run(http)) for console in consoles]
        await asyncio.wait_for(asyncio.gather(*(console.live.wait() for console in consoles)), 60)
        load = round(os.getloadavg()[0], 2)  # the machine's business when the calls began: figures depend on it
        note(f"consoles live; calls begin (load {load})")
        caller = Caller(http, deployment.entry, deployment.proxy, plan.hangup_s)
        calls: list[asyncio.Task[None]] = []
        watch: asyncio.Task[Times] | None = None
        began = time.monotonic()
        for n in range(round(plan.rate * plan.duration_s)):
            await asyncio.sleep(max(0.0, began + n / plan.rate - time.monotonic()))
            if watch is None and time.monotonic() - began >= plan.fault_at_s:
                watch = asyncio.create_task(fault_and_recovery(name, deployment, caller, http))
                tasks.append(watch)
            calls.append(asyncio.create_task(caller.call(n)))
        assert watch is not None
        await asyncio.gather(*calls)
        note(f"every caller done: {dict(caller.errors) or 'no errors'}")
        rows: list[tuple[str, str]] = []
        with contextlib.suppress(TimeoutError):  # what is still missing then is reported as lost or missed
            async with asyncio.timeout(plan.settle_s):
                while True:
                    rows = await asyncio.to_thread(deployment.calls) or rows
                    on_record = {sid for sid, _ in rows}
                    if watch.done() and all(on_record <= c.offered for c in consoles):
                        break
                    await asyncio.sleep(0.2)
        times = watch.result() if watch.done() else None
        rows = await asyncio.to_thread(deployment.calls) or rows
        on_record = {sid for sid, _ in rows}
        sent = set(caller.sent)
        return {
            "fault": name,
            "sent": len(sent),
            "recorded": len(sent & on_record),
            "lost": len(sent - on_record),
            "duplicates": len(rows) - len(on_record),
            "caller_errors": sum(caller.errors.values()),
            "console_missed": len({sid for c in consoles for sid in on_record - c.offered}),
            "recovery_s": round(times.normal - times.fault, 2) if times else None,
            "after_fault_s": round(times.normal - times.over, 2) if times else None,
            "errors": dict(sorted(caller.errors.items())),
            "not_ended": sum(1 for _, status in rows if status != "ended"),
            "fault_s": round(times.over - times.fault, 2) if times else None,
            "calls_in_fault": sum(times.fault <= t <= times.over for t in caller.sent_at) if times else None,
            "consoles": len(consoles),
            "console_gaps": sum(len(on_record - c.offered) for c in consoles),
            "console_reconnects": sum(c.reconnects for c in consoles),
            "rate": plan.rate,
            "proxied": deployment.proxied,
            "load_1m": load,
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.close()
        await deployment.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(folder, ignore_errors=True)
