"""What the ARI double keeps (channels, bridges, playbacks, recordings, AstDB) and the JSON Asterisk 22.10.1
gives each, as captured in tests/fixtures/asterisk/asterisk-22.10.1/."""

from __future__ import annotations

import logging
import struct
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

ASTERISK_ID = "02:fc:00:00:00:01"
VERSION = "22.10.1"
Json = dict[str, Any]

CAUSES = {
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}
# DELETE /channels/{id}?reason=...: the cause the channel is destroyed with (res_ari's table)
HANGUP_REASONS = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}
BRIDGE_TYPES = {"mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single", "sdp_label"}
RECORDING_FORMATS = {"wav", "wav16", "wav49", "gsm", "ulaw", "alaw", "sln", "sln16", "g722", "g729", "ogg"}
MEDIA_SCHEMES = {"sound", "recording", "number", "digits", "characters", "tone"}
TECHNOLOGIES = {"PJSIP", "Local"}
PROMPTS = {"tanggap/salam-112", "tanggap/mohon-tunggu", "tanggap/peringatan-iseng", "tanggap/panggilan-balik"} | {
    f"tanggap/bencana-{name}"  # a major incident's announcement, choice and information (telephony/ari/choice.py)
    for name in ("pengumuman", "pilihan", "info", "tempat-padang", "tempat-banggai", "petugas")
}
FALLBACK_DIAL = "PJSIP/taker1&PJSIP/taker2&PJSIP/taker3,30,m"
DESK_CONTEXT = "takers"  # the desk phones' context in config/asterisk/pjsip.conf


def default_sounds() -> dict[str, set[str]]:
    """The sounds an installation has: Asterisk's core English set plus the project's prompts, which ship in
    Indonesian and English under the same names (config/asterisk/sounds/)."""
    return {"en": {"beep", "tt-monkeys", "hello-world", *PROMPTS}, "id": set(PROMPTS)}


def stamp(at: float | None = None) -> str:
    """Asterisk's timestamp format: 2026-11-22T08:00:38.327+0000."""
    moment = datetime.fromtimestamp(at if at is not None else time.time(), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


@dataclass
class Dialplan:
    context: str
    exten: str
    priority: int
    app_name: str
    app_data: str

    def json(self) -> Json:
        return {
            "context": self.context,
            "exten": self.exten,
            "priority": self.priority,
            "app_name": self.app_name,
            "app_data": self.app_data,
        }


def outgoing_line(context: str = DESK_CONTEXT, exten: str = "s", priority: int = 1) -> Dialplan:
    """Where an originated channel sits while it rings and after it left Stasis."""
    return Dialplan(context, exten, priority, "AppDial2", "(Outgoing Line)")


@dataclass
class Fallback:
    """A call the dialplan took itself because Stasis() failed: its journal key and how it goes."""

    key: str
    cause: int
    desk_leg: str | None = None
    dial_bridge: str | None = None


@dataclass
class Chan:
    id: str
    name: str
    caller: tuple[str, str]  # name, number
    dialplan: Dialplan
    created: float
    state: str = "Ring"
    language: str = "en"
    connected: tuple[str, str] = ("", "")
    in_stasis: bool = False
    subscribed: bool = False  # the app gets its events even outside Stasis (it originated it, or subscribed)
    bridge: str | None = None
    queue: list[Playback | Recording] = field(default_factory=list)  # Asterisk's control queue: head runs
    variables: dict[str, str] = field(default_factory=dict)
    after: Dialplan | None = None  # where the channel is once it left Stasis
    moh_released: bool = False  # removed from a holding bridge with music: its BYE then carries cause 16
    args: list[str] = field(default_factory=list)  # its Stasis() arguments
    dialstring: str = ""  # an originated channel's resource, as Dial events name it
    fallback: Fallback | None = None

    @property
    def desk(self) -> bool:
        return self.after is not None and self.after.app_name == "AppDial2"

    def protocol_id(self) -> str:
        if not self.name.startswith("PJSIP/"):
            return ""
        if self.desk:
            return str(uuid.uuid5(uuid.NAMESPACE_OID, self.id))
        return f"1-{uuid.uuid5(uuid.NAMESPACE_OID, self.id).int % 100000}@127.0.0.1"

    def json(self, *, dialplan: Dialplan | None = None) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": self.protocol_id(),
            "caller": {"name": self.caller[0], "number": self.caller[1]},
            "connected": {"name": self.connected[0], "number": self.connected[1]},
            "accountcode": "",
            "dialplan": (dialplan or self.dialplan).json(),
            "creationtime": stamp(self.created),
            "language": self.language,
        }


@dataclass
class Bridge:
    id: str
    kind: str
    name: str
    created: float
    channels: list[str] = field(default_factory=list)
    recording: str | None = None
    moh_class: str | None = None
    # Stasis channels that entered and did not leave by removeChannel or a move: while there is one, the app
    # stays subscribed to the bridge and gets its BridgeDestroyed.
    watchers: set[str] = field(default_factory=set)
    softmix: bool = False  # a Recorder joined while two parties talked
    basic: bool = False  # the bridge Dial() makes, not one of the app's
    helper_id: str = ""  # the MOH Announcer or Recorder channel Asterisk adds to the bridge

    @property
    def technology(self) -> str:
        if self.kind == "holding":
            return "holding_bridge"
        return "softmix" if self.softmix else "simple_bridge"

    def json(self, channels: list[str] | None = None) -> Json:
        return {
            "id": self.id,
            "technology": self.technology,
            "bridge_type": self.kind,
            "bridge_class": "basic" if self.basic else "stasis",
            "creator": "" if self.basic else "Stasis",
            "name": self.name,
            "channels": list(self.channels if channels is None else channels),
            "creationtime": stamp(self.created),
            "video_mode": "none" if self.basic else "talker",
        }


@dataclass
class Playback:
    id: str
    media: list[str]
    channel: str
    language: str
    index: int = 0
    state: str = "queued"
    stopped: bool = False  # DELETE came while it waited in the queue: it starts and finishes at once
    item: int = 0  # counts the items played, so a timer for an earlier item does nothing

    @property
    def last(self) -> bool:
        return self.index + 1 >= len(self.media)

    def json(self, state: str | None = None) -> Json:
        body: Json = {"id": self.id, "media_uri": self.media[self.index]}
        if not self.last:
            body["next_media_uri"] = self.media[self.index + 1]
        return {
            **body,
            "target_uri": f"channel:{self.channel}",
            "language": self.language,
            "state": state or self.state,
        }


@dataclass
class Recording:
    name: str
    format: str
    target: str  # channel:<id> or bridge:<id>
    state: str = "queued"
    started: float | None = None
    announced: bool = False  # RecordingStarted sent (not for a bridge that was empty)

    def json(self, state: str | None = None, **extra: Any) -> Json:
        return {
            "name": self.name,
            "format": self.format,
            "state": state or self.state,
            "target_uri": self.target,
            **extra,
        }

    def duration(self) -> int:
        return round(time.time() - self.started) if self.started else 0


class UnknownFunction(Exception):
    """A dialplan function Asterisk does not have: ARI answers 500."""


def read_variable(name: str, chan: Chan, astdb: dict[str, str]) -> str | None:
    """GET /channels/{id}/variable: a channel variable (None when unset) or a dialplan function's value."""
    if not name.endswith(")") or "(" not in name:
        return chan.variables.get(name)
    function, argument = name[:-1].split("(", 1)
    if function == "CDR":
        return chan.variables.get(f"CDR({argument})", "")
    if function == "DB":
        return astdb.get(argument, "")
    if function == "DB_DELETE":
        return astdb.pop(argument, "")
    if function == "DB_KEYS":
        prefix = argument.rstrip("/") + "/"
        return ",".join(k[len(prefix) :] for k in astdb if k.startswith(prefix) and "/" not in k[len(prefix) :])
    if function == "CHANNEL" and argument == "language":
        return chan.language
    raise UnknownFunction(function)


def wav(seconds: float = 0.0, rate: int = 8000) -> bytes:
    """An 8 kHz mono WAV of silence, what Asterisk stores for a recording (44 bytes when nothing was heard)."""
    frames = b"\x00\x00" * int(seconds * rate)
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + len(frames))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", len(frames))
    )
    return header + frames


def envelope(kind: str, body: Json, app: str) -> Json:
    """Key order as Asterisk writes it: event-specific scalars, type, timestamp, the rest, then ids."""
    head = {k: v for k, v in body.items() if not isinstance(v, (dict, list))}
    tail = {k: v for k, v in body.items() if isinstance(v, (dict, list))}
    ids = {"asterisk_id": ASTERISK_ID, "application": app}
    if kind in ("ChannelVarset", "ChannelHangupRequest"):
        return {**head, "type": kind, "timestamp": stamp(), **tail, **ids}
    return {"type": kind, "timestamp": stamp(), **head, **tail, **ids}


def asterisk_info(started: float) -> Json:
    """GET /asterisk/info as captured (asterisk_info.json), with this double's start time."""
    return {
        "build": {
            "os": "Linux",
            "kernel": "6.18.44-fc-v1272",
            "machine": "x86_64",
            "options": "OPTIONAL_API",
            "date": "2026-12-06 16:32:33 UTC",
            "user": "root",
        },
        "system": {"version": VERSION, "entity_id": ASTERISK_ID},
        "config": {"name": "", "default_language": "en", "setid": {"user": "", "group": ""}},
        "status": {"startup_time": stamp(started), "last_reload_time": stamp(started)},
    }


def caller_id(raw: str) -> tuple[str, str]:
    """`"Tanggap 112" <112>` -> ("Tanggap 112", "112"); a bare number has no name."""
    if "<" not in raw:
        return "", raw.strip()
    name, number = raw.rsplit("<", 1)
    return name.strip().strip('"'), number.rstrip(">").strip()


def caller_channel(
    channel_id: str, name: str, caller: tuple[str, str], exten: str, app: str, args: list[str], language: str
) -> Chan:
    """A 112 caller at Stasis(app,<args>), priority 4 of the sample's `[emergency]`, which set TANGGAP_LANG."""
    stasis = Dialplan("emergency", exten, 4, "Stasis", ",".join([app, *args]))
    variables = {"TANGGAP_LANG": args[2] if len(args) > 2 else "id"}
    return Chan(
        channel_id, name, caller, stasis, time.time(), language=language, in_stasis=True, args=args, variables=variables
    )


def desk_channel(channel_id: str, name: str, party: tuple[str, str], args: list[str], dialstring: str) -> Chan:
    """A desk phone the app originates: the app is subscribed to it from the start."""
    return Chan(
        channel_id,
        name,
        party,
        outgoing_line(),
        time.time(),
        state="Down",
        connected=party,
        subscribed=True,
        after=outgoing_line(),
        args=args,
        dialstring=dialstring,
    )


def fallback_channel(uniqueid: str, name: str, caller: str, key: str, cause: int) -> Chan:
    """A caller whose Stasis() failed, in the sample dialplan's Dial() of the desk phones."""
    dial = Dialplan("emergency", "112", 11, "Dial", FALLBACK_DIAL)
    variables = {"TANGGAP_LANG": "id", "STASISSTATUS": "FAILED", "CDR(userfield)": "stasis-fallback"}
    return Chan(
        uniqueid, name, ("", caller), dial, time.time(), "Up", variables=variables, fallback=Fallback(key, cause)
    )


def dialled_desk(channel_id: str, name: str, caller: tuple[str, str]) -> Chan:
    """The desk phone that answered a fallback Dial()."""
    dial = Dialplan(DESK_CONTEXT, "", 1, "AppDial", "(Outgoing Line)")
    return Chan(channel_id, name, ("", "112"), dial, time.time(), "Up", connected=caller, after=dial)


NO_APP_PAGE = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n'
    "</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n"
    "<address>Asterisk Server</address>\r\n</body></html>\r\n"
)


def quiet_denials(record: logging.LogRecord) -> bool:
    """uvicorn 0.54 (websockets-sansio) logs this after a handshake refused with an HTTP response, which it did
    send: the double refuses handshakes on purpose, as Asterisk does."""
    return record.getMessage() != "ASGI callable returned without completing handshake."


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


def unauthorised() -> JSONResponse:
    realm = {"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'}
    return JSONResponse({"message": "Authentication required"}, status_code=401, headers=realm)
