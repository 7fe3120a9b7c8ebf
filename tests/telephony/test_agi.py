"""FastAGI triage over real sockets, pyst2 quirks (SIGHUP, bare HANGUP, 520 usage replies), the script form."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from asterisk.agi import AGIHangup, AGIInvalidCommand, AGIResultHangup, AGIUsageError

from dispatch.calls.intake import Triage
from dispatch.calls.models import CallerFlag
from dispatch.clock import utcnow
from telephony.agi import FastAgiServer, TanggapAGI, _TextReader, _TextWriter
from tests.doubles.agi_peer import USAGE, USAGE_END, AgiPeer, environment
from ui.context import Ctx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk"


def flagged(_caller: str | None) -> Triage:
    return Triage(flagged=True, priority="low", language="id", queue="tanggap112-review", calls_total=4)


@pytest.fixture
def server_for() -> Iterator[Callable[..., FastAgiServer]]:
    servers: list[FastAgiServer] = []

    def start(lookup: Callable[[str | None], Triage]) -> FastAgiServer:
        server = FastAgiServer("127.0.0.1", 0, lookup)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


async def test_triage_sets_channel_variables(server_for: Callable[..., FastAgiServer]) -> None:
    server = server_for(flagged)
    peer = AgiPeer()
    await peer.run("127.0.0.1", server.port)
    assert peer.set_variables == {
        "TANGGAP_FLAGGED": "1",
        "TANGGAP_PRIORITY": "low",
        "TANGGAP_LANG": "id",
        "TANGGAP_QUEUE": "tanggap112-review",
    }


async def test_failed_lookup_sets_defaults_and_the_call_goes_on(server_for: Callable[..., FastAgiServer]) -> None:
    def broken(_caller: str | None) -> Triage:
        raise TimeoutError

    server = server_for(broken)
    peer = AgiPeer()
    await peer.run("127.0.0.1", server.port)
    assert peer.set_variables["TANGGAP_FLAGGED"] == "0" and peer.set_variables["TANGGAP_QUEUE"] == "tanggap112"


async def test_bare_hangup_ends_the_session_cleanly(server_for: Callable[..., FastAgiServer]) -> None:
    server = server_for(flagged)
    first = AgiPeer(hangup_at=1)
    await first.run("127.0.0.1", server.port)
    assert first.transcript[-1][1] == ["HANGUP"] and len(first.transcript) == 2
    second = AgiPeer()  # the server is still serving
    await second.run("127.0.0.1", server.port)
    assert len(second.set_variables) == 4


async def test_triage_from_the_database(ctx: Ctx) -> None:
    from telephony.agi import lookup_via
    from telephony.desk_local import InProcessDesk

    with ctx.sessions() as session:
        session.add(
            CallerFlag(
                caller="+6281234567890",
                flagged_at=utcnow(),
                until=utcnow() + timedelta(hours=1),
                count=3,
                reason="3 prank calls",
            )
        )
        session.commit()
    desk = InProcessDesk(ctx.sessions, ctx.region.policy)
    server = FastAgiServer("127.0.0.1", 0, lookup_via(desk.triage, asyncio.get_running_loop()))
    server.start()
    try:
        flagged_peer, tourist = AgiPeer(), AgiPeer(env=environment(caller="+4930555000"))
        await flagged_peer.run("127.0.0.1", server.port)
        await tourist.run("127.0.0.1", server.port)
    finally:
        await asyncio.to_thread(server.stop)
    assert flagged_peer.set_variables["TANGGAP_FLAGGED"] == "1"
    assert tourist.set_variables["TANGGAP_LANG"] == "en" and tourist.set_variables["TANGGAP_FLAGGED"] == "0"


class Scripted:
    """Our TanggapAGI on one end of a socket pair; on the other, each reply is sent after its command arrives,
    as Asterisk does."""

    def __init__(self, replies: list[list[str]]) -> None:
        self.ours, self.theirs = socket.socketpair()
        env = "".join(f"{k}: {v}\n" for k, v in environment().items()) + "\n"
        self.theirs.sendall(env.encode())
        self.commands: list[str] = []
        self._thread = threading.Thread(target=self._answer, args=(replies,), daemon=True)
        self._thread.start()
        self.agi = TanggapAGI(
            _TextReader(self.ours.makefile("rb", buffering=0), self.ours),  # type: ignore[arg-type]
            _TextWriter(self.ours.makefile("wb", buffering=0)),
        )  # type: ignore[arg-type]

    def _answer(self, replies: list[list[str]]) -> None:
        lines = self.theirs.makefile("rb", buffering=0)
        for group in replies:
            command = lines.readline()
            if not command:
                return
            self.commands.append(command.decode().strip())
            self.theirs.sendall("".join(f"{r}\n" for r in group).encode())

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()
        self._thread.join(timeout=5)


@pytest.mark.parametrize("terminated", [True, False], ids=["res_agi", "transcript"])
def test_protocol_replies_as_recorded(terminated: bool) -> None:
    usage = [*USAGE, USAGE_END] if terminated else list(USAGE)
    s = Scripted(
        [
            ["200 result=0"],
            ["200 result=1 (+4940999)"],
            ["200 result=0"],
            ["510 Invalid or unknown command"],
            usage,
            ["200 result=6"],
            ["HANGUP"],
        ]
    )
    try:
        assert s.agi.env["agi_network_script"] == "triage"
        s.agi.answer()
        assert s.agi.get_variable("CALLERID(num)") == "+4940999"
        assert s.agi.get_variable("NOPE") == ""
        with pytest.raises(AGIInvalidCommand):
            s.agi.execute("BOGUS")
        with pytest.raises(AGIUsageError, match="Proper usage follows"):
            s.agi.execute("SAY DIGITS")
        assert s.agi.channel_status() == 6  # still in step with Asterisk after the usage reply
        with pytest.raises(AGIResultHangup):
            s.agi.execute("NOOP")
    finally:
        s.close()
    assert s.commands[3:] == ["BOGUS", "SAY DIGITS", "CHANNEL STATUS", "NOOP"]


def test_end_of_stream_is_a_hangup_not_a_crash() -> None:
    s = Scripted([])
    s.theirs.close()
    try:
        with pytest.raises(AGIHangup):  # end of stream: SIGPIPE-style hang-up, never int('') in pyst2
            s.agi.execute("NOOP")
    finally:
        s.close()


def test_constructed_off_the_main_thread() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            Scripted([]).close()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []


def test_transcript_fixture_shapes() -> None:
    """The peer answers each recorded command with exactly the recorded reply lines."""
    import ast

    peer = AgiPeer(usage_terminated=False, variables={"CALLERID(num)": "+4940999"}, digits=["5"])
    peer.reply('SET VARIABLE INCIDENT "42"')
    for raw in (FIXTURES / "fastagi_transcript.txt").read_text().splitlines():
        command, _, replies = raw.partition("<")
        command = ast.literal_eval(command.strip().lstrip(">").strip())
        expected = ast.literal_eval(replies.strip())
        if expected == ["HANGUP"]:
            continue  # the hang-up is scripted (hangup_at), not a reply to NOOP
        got = peer.reply(command)
        if command == 'STREAM FILE hello-world "0123456789"':
            assert got[0].startswith("200 result=0")
            continue
        assert got == expected, command


def test_script_form_over_stdin_stdout(ctx: Ctx) -> None:
    env = "".join(f"{k}: {v}\n" for k, v in environment(caller="0812-3456-7890").items()) + "\n"
    replies = "200 result=1\n" * 4
    result = subprocess.run(
        [sys.executable, "-m", "telephony.agi_script"],
        input=env + replies,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TANGGAP_DATABASE_URL": ctx.settings.database_url},
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert 'SET VARIABLE "TANGGAP_FLAGGED" "0"' in result.stdout
    assert "+62812" not in result.stderr
