"""A FastAGI peer: plays Asterisk's side of `AGI(agi://host:port/script)` over a real socket.

It sends the `agi_*` environment block, then answers each command line with the replies recorded from
Asterisk 22 (tests/fixtures/asterisk/fastagi_transcript.txt): `200 result=...`, `510 ...`, the multi-line
`520-` usage reply, and the bare `HANGUP` line sent when the caller hangs up.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

USAGE = [
    "520-Invalid command syntax.  Proper usage follows:",
    "Say a given digit string, returning early if any of the given DTMF digits are received on the channel. "
    "Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical "
    "value of the digit if one was pressed or <literal>-1</literal> on error/hangup.",
]
USAGE_END = "520 End of proper usage."


def environment(
    *,
    caller: str = "+6281234567890",
    script: str = "triage",
    host: str = "127.0.0.1",
    port: int = 4573,
    uniqueid: str = "1795334438.0",
) -> dict[str, str]:
    """The block Asterisk 22 sends first on a FastAGI connection, in its order."""
    return {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://{host}:{port}/{script}",
        "agi_channel": "PJSIP/caller-00000000",
        "agi_language": "id",
        "agi_type": "PJSIP",
        "agi_uniqueid": uniqueid,
        "agi_version": "22.10.1",
        "agi_callerid": caller,
        "agi_calleridname": "Warga",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "112",
        "agi_rdnis": "unknown",
        "agi_context": "emergency",
        "agi_extension": "112",
        "agi_priority": "2",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140245279307456",
    }


@dataclass
class AgiPeer:
    """Asterisk's side of one session. `hangup_at`: the n-th command (0-based) gets `HANGUP` instead."""

    env: dict[str, str] = field(default_factory=environment)
    variables: dict[str, str] = field(default_factory=lambda: {"CALLERID(num)": "+6281234567890"})
    hangup_at: int | None = None
    usage_terminated: bool = True  # False: the 520- reply exactly as the transcript shows it (two lines)
    digits: list[str] = field(default_factory=list)
    custom: Callable[[str], list[str] | None] | None = None
    transcript: list[tuple[str, list[str]]] = field(default_factory=list)
    set_variables: dict[str, str] = field(default_factory=dict)

    def reply(self, command: str) -> list[str]:
        if self.custom is not None and (lines := self.custom(command)) is not None:
            return lines
        words = command.split()
        verb = " ".join(words[:2]).upper()
        if command.upper() == "ANSWER":
            return ["200 result=0"]
        if verb == "SET VARIABLE" and len(words) >= 4:
            name, value = words[2].strip('"'), command.split(None, 3)[3].strip('"')
            self.set_variables[name] = self.variables[name] = value
            return ["200 result=1"]
        if verb == "GET VARIABLE" and len(words) >= 3:
            found = self.variables.get(words[2].strip('"'))
            return [f"200 result=1 ({found})"] if found is not None else ["200 result=0"]
        if verb == "SAY DIGITS" and len(words) == 2:
            return [*USAGE, USAGE_END] if self.usage_terminated else list(USAGE)
        if verb == "CHANNEL STATUS":
            return ["200 result=6"]
        if verb == "WAIT FOR":  # the next digit pressed, or -1 when the caller presses nothing
            return [f"200 result={ord(self.digits.pop(0))}" if self.digits else "200 result=-1"]
        if re.fullmatch(r"(VERBOSE|NOOP|STREAM FILE|SAY DIGITS)( .*)?", command, flags=re.IGNORECASE):
            return ["200 result=0"]
        return ["510 Invalid or unknown command"]

    async def run(self, host: str, port: int, timeout: float = 5.0) -> list[tuple[str, list[str]]]:  # noqa: ASYNC109
        """Connect, send the environment, answer commands until the server closes the connection."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                block = "".join(f"{k}: {v}\n" for k, v in self.env.items()) + "\n"
                writer.write(block.encode())
                await writer.drain()
                count = 0
                while True:
                    line = await reader.readline()
                    if not line:
                        break
                    command = line.decode().strip()
                    if self.hangup_at is not None and count >= self.hangup_at:
                        lines = ["HANGUP"]
                    else:
                        lines = self.reply(command)
                    count += 1
                    self.transcript.append((command, lines))
                    writer.write("".join(f"{x}\n" for x in lines).encode())
                    await writer.drain()
            finally:
                writer.close()
                await writer.wait_closed()
        return self.transcript
