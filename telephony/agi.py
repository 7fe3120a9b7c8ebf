"""FastAGI `triage`: before a 112 call enters the queue, set channel variables from the caller's history.

`AGI(agi://HOST:4573/triage)` in the dialplan connects here; we answer with SET VARIABLE for TANGGAP_FLAGGED,
TANGGAP_PRIORITY, TANGGAP_LANG and TANGGAP_QUEUE. A lookup that fails or is slow sets the defaults: the call
always goes on. The protocol itself is pyst2's `asterisk.agi.AGI`, on the connection's file objects, one
thread per connection (pyst2 is blocking I/O; its own `fastagi` module is Python 2 only).
"""

from __future__ import annotations

import asyncio
import logging
import select
import socket
import socketserver
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from asterisk.agi import AGI, AGIException, AGIResultHangup, AGISIGPIPEHangup, AGIUsageError

from dispatch.calls.records import DEFAULT_TRIAGE, Triage

log = logging.getLogger(__name__)
Lookup = Callable[[str | None], Triage]
USAGE_END = "520 End of proper usage."
USAGE_GRACE_S = 0.2


class _Discard:
    """pyst2 writes a debug trace (with the caller's number) to stderr; we keep it out of every log."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        return None


class _Lines:
    """A line reader over a socket file that can push a line back, for `TanggapAGI.get_result`."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw
        self.pushed: list[str] = []

    def readline(self) -> str:
        return self.pushed.pop() if self.pushed else self.raw.readline()

    def unread(self, line: str) -> None:
        self.pushed.append(line)


class TanggapAGI(AGI):  # type: ignore[misc]
    """pyst2's AGI, made safe for FastAGI in worker threads.

    - `AGI.__init__` installs a SIGHUP handler, which Python allows only on the main thread. Over FastAGI
      Asterisk never sends SIGHUP (there is no child process: a hang-up arrives as a `HANGUP` line), so we
      skip that one call by not running the parent constructor, instead of patching `signal.signal` (which is
      process-wide and would race with other threads). The classic script form runs on the main thread and
      keeps the handler (`install_sighup=True`).
    - pyst2 parses a bare `HANGUP` line as a result code and crashes on `int('')`; we raise AGIResultHangup.
      End of stream is a hang-up too.
    - A `520-` reply ends with a `520 End of proper usage.` line (res_agi.c); the recorded transcript shows the
      reply without it, so a usage reply is also complete when the next line is not continuation text, and a
      late terminator is skipped where a reply is expected.
    """

    def __init__(self, stdin: TextIO, stdout: TextIO, *, install_sighup: bool = False) -> None:
        if install_sighup:
            super().__init__(stdin=stdin, stdout=stdout, stderr=_Discard())
            self.stdin = _Lines(stdin)
            return
        self.stdin, self.stdout, self.stderr = _Lines(stdin), stdout, _Discard()
        self._got_sighup = False
        self.env: dict[str, str] = {}
        self._get_agi_env()

    def get_result(self, stdin: Any = None) -> dict[str, tuple[str, str]]:
        line = self._next_line()
        while line.strip() == USAGE_END:  # the tail of a usage reply we already returned
            line = self._next_line()
        if line.strip() == "HANGUP":
            raise AGIResultHangup("the caller hung up")
        if line.startswith("520-"):
            raise AGIUsageError(self._usage(line))
        if line.startswith("520 "):  # "Proper usage not available": pyst2 would wait for more lines
            raise AGIUsageError(line.strip())
        self.stdin.unread(line)
        result: dict[str, tuple[str, str]] = super().get_result()
        return result

    def _next_line(self) -> str:
        line = self.stdin.readline()
        if line == "":
            raise AGISIGPIPEHangup("Asterisk closed the connection")
        return line.decode() if isinstance(line, bytes) else line

    def _usage(self, first: str) -> str:
        lines = [first.strip()]
        while True:
            line = self._next_line().strip()
            lines.append(line)
            if line.startswith("520 ") or not self._more_waiting():
                return "\n".join(lines)

    def _more_waiting(self) -> bool:
        """True if Asterisk already sent more text: a usage reply is written in one go."""
        sock = getattr(self.stdin.raw, "socket", None)
        if self.stdin.pushed or sock is None:
            return True
        ready, _, _ = select.select([sock], [], [], USAGE_GRACE_S)
        return bool(ready)


def triage_session(agi: TanggapAGI, lookup: Lookup) -> Triage:
    """Run the `triage` script on one AGI session; returns what was set."""
    caller = agi.env.get("agi_callerid") or None
    if caller in ("unknown", ""):
        caller = None
    try:
        triage = lookup(caller)
    except Exception as exc:  # the call must go on whatever happens to the lookup
        log.warning("AGI triage lookup failed for channel %s: %s", agi.env.get("agi_uniqueid"), exc)
        triage = DEFAULT_TRIAGE
    for name, value in triage.variables().items():
        agi.set_variable(name, value)
    log.info("AGI triage channel %s: priority %s, queue %s", agi.env.get("agi_uniqueid"), triage.priority, triage.queue)
    return triage


class _Handler(socketserver.StreamRequestHandler):
    server: FastAgiServer
    timeout = 10  # a silent Asterisk does not hold a thread forever
    rbufsize = 0  # unbuffered, so that select() on the socket tells whether more text is waiting

    def handle(self) -> None:
        text_in = _TextReader(self.rfile, self.connection)
        text_out = _TextWriter(self.wfile)
        try:
            agi = TanggapAGI(text_in, text_out)  # type: ignore[arg-type]
            script = agi.env.get("agi_network_script", "").strip("/") or "triage"
            if script != "triage":
                log.warning("FastAGI request for unknown script %r", script[:40])
                agi.verbose(f"tanggap112: unknown AGI script {script[:40]}")
                return
            triage_session(agi, self.server.lookup)
        except AGIResultHangup:
            log.info("AGI: caller hung up during triage")
        except (AGIException, OSError, ValueError) as exc:
            log.warning("AGI session ended: %s", type(exc).__name__)


class _TextReader:
    def __init__(self, raw: Any, sock: socket.socket) -> None:
        self.raw, self.socket = raw, sock

    def readline(self) -> str:
        line: bytes = self.raw.readline(8192)
        return line.decode("utf-8", "replace")


class _TextWriter:
    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        return int(self.raw.write(text.encode()))

    def flush(self) -> None:
        self.raw.flush()


class FastAgiServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, lookup: Lookup) -> None:
        self.lookup = lookup
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="fastagi", daemon=True)
        thread.start()
        log.info("FastAGI listening on %s:%s (AGI(agi://HOST:%s/triage))", *self.server_address[:2], self.port)
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def lookup_via(
    desk_triage: Callable[[str | None], Coroutine[Any, Any, Triage]],
    loop: asyncio.AbstractEventLoop,
    timeout: float = 1.5,
) -> Lookup:
    """A blocking lookup for AGI threads, running the desk's coroutine on the bridge's event loop."""

    def lookup(caller: str | None) -> Triage:
        future = asyncio.run_coroutine_threadsafe(desk_triage(caller), loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    return lookup
