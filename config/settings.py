"""One settings object, read from `TANGGAP_*` environment variables (and `.env`), validated at start-up."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REGIONS_DIR = Path(__file__).resolve().parent / "regions"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class Settings(BaseSettings):
    """Everything an operator can change without touching code."""

    model_config = SettingsConfigDict(env_prefix="TANGGAP_", env_file=".env", extra="ignore")

    database_url: str = ""  # unset: sqlite:///./tanggap-<region>.db, one database per region (`_per_region`)
    region: str = "padang"
    host: str = "127.0.0.1"
    port: int = Field(8112, ge=1, le=65535)
    secret_key: SecretStr = SecretStr("change-me-in-production")
    session_hours: float = Field(12, gt=0, le=24 * 7)
    # The session cookie's Secure flag; unset, it is on when TANGGAP_PUBLIC_URL is https (`secure_cookie`).
    cookie_secure: bool | None = None
    # Failed logins: an account is locked after login_lock_after in a row, a client address (consoles behind one
    # NAT share it) after login_lock_after_address; the first lock lasts login_lock_s and each further failure
    # doubles it, up to login_lock_max_s. At most login_hash_workers password checks (argon2: 64 MiB each) run
    # at once and login_hash_queue wait; more are answered 503 at once (docs/security.md).
    login_lock_after: int = Field(5, ge=1, le=1000)
    login_lock_after_address: int = Field(20, ge=1, le=100_000)
    login_lock_s: float = Field(30, gt=0, le=3600)
    login_lock_max_s: float = Field(900, gt=0, le=7 * 24 * 3600)
    login_hash_workers: int = Field(1, ge=1, le=16)  # one check already uses every core (argon2's 4 lanes)
    login_hash_queue: int = Field(8, ge=0, le=1000)
    demo_password: SecretStr | None = None
    # The demo's call simulator (ui/simulator.py, `tanggap demo --simulate`): a realistic 112 call every 20-60 s,
    # provider `simulator`, and a button for supervisors to ring one. Never on a live command center's server:
    # its calls join the real queue. Turn it on in one server process only (each would ring its own).
    simulate: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # "redis" when several server processes share one database and must all see every event.
    event_bus: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"

    # Duplicate detection: a new incident this close to an open one of a compatible type, or from the same
    # caller, is offered as "probably the same as #N".
    duplicate_radius_m: float = Field(500, gt=0, le=50_000)
    duplicate_window_min: float = Field(60, gt=0, le=24 * 60)
    # Repeat-abuse: N prank/ghost calls within the window flag the caller for block_hours.
    abuse_threshold: int = Field(3, ge=1, le=100)
    abuse_window_hours: float = Field(24, gt=0, le=24 * 30)
    abuse_block_hours: float = Field(24, gt=0, le=24 * 30)
    # Assignments not acknowledged within this many seconds are escalated by the server (shown on the console);
    # the server looks for them every escalation_check_s seconds.
    ack_timeout_s: int = Field(90, ge=10, le=3600)
    escalation_check_s: float = Field(2, gt=0, le=60)
    # How far in the future a time the bridge, a responder's phone or a handset reports may lie (their clocks
    # drift); a later one is refused (422), so that a wrong clock cannot date a call years ahead.
    clock_skew_s: float = Field(300, ge=0, le=3600)
    # During a major incident a caller who chose 2 (damage) at the announcement queues as if they had called this
    # many seconds later than one who chose 1 or nothing, choice 3 (information) twice as late; 0: first come,
    # first served (dispatch/calls/queue.py `turn`).
    queue_priority_lead_s: int = Field(300, ge=0, le=3600)
    # Roles that see caller numbers in full; the others see them masked (UU PDP No. 27/2022).
    roles_seeing_caller: tuple[str, ...] = ("call_taker", "supervisor", "admin")

    # Where a server (Twilio webhooks) and a bridge keep, fsync'd, what the database or the server could not take
    # yet (telephony/spool.py); on the machine's own disk, never a network share.
    journal_dir: Path = Path("./journal")

    max_body_bytes: int = Field(256 * 1024, ge=1024)
    ws_buffer: int = Field(1000, ge=10, le=100_000)

    tile_url: str | None = None
    road_graph: Path | None = None
    # Landmark and street files imported for each region (`tanggap geo import-osm`, `import-landmarks`), in a
    # folder per region beneath this one; read at start-up with the region pack's own places.
    landmark_dir: Path = Path("./landmarks")
    # A CAP 1.2 feed polled for public alerts (BMKG, InaTEWS): one <alert>, or an Atom/RSS feed of links to them
    # (ui/alert_feed.py, docs/alerts.md). A poll that fails is a warning in the log; unset, nothing is polled.
    cap_feed_url: str | None = None
    cap_feed_interval_s: float = Field(60, ge=5, le=24 * 3600)

    ari_url: str | None = None  # Asterisk's ARI: the recordings the supervisor plays, and the bridge's PBX
    # Run the ARI bridge (and FastAGI) inside this server. Off by default: a second bridge on the same app takes
    # the app from the first (ApplicationReplaced), so one server, or `tanggap ari` processes, run it.
    ari_bridge: bool = False
    ari_app: str = "tanggap112"
    ari_user: str = "tanggap"
    ari_password: SecretStr | None = None
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(4573, ge=1, le=65535)
    twilio_auth_token: SecretStr | None = None
    twilio_account_sid: str | None = None
    twilio_from_number: str | None = None
    public_url: str | None = None
    # Desk phones (E.164, comma-separated) a Twilio caller is dialled to, all at once, while the database cannot
    # be reached; without them the caller is held in Twilio's queue until it can (docs/telephony.md).
    twilio_fallback_numbers: Annotated[tuple[str, ...], NoDecode] = ()
    # The number an abandoned caller sees when a call-taker calls them back from the console (the command
    # center's own, so that they know who calls and can call it again); unset: the PBX trunk's, or Twilio's
    # TANGGAP_TWILIO_FROM_NUMBER (docs/telephony.md, "Callbacks from the console").
    callback_caller_id: str | None = Field(None, pattern=r"^\+?[0-9]{3,15}$")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _per_region(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///./tanggap-{self.region}.db"
        return self

    @field_validator("twilio_fallback_numbers", mode="before")
    @classmethod
    def _desk_numbers(cls, value: object) -> object:
        """`+62751111,+62751112` (or a JSON list): E.164 numbers, at most 10 (what one Twilio <Dial> rings)."""
        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        if not isinstance(value, list | tuple):
            raise ValueError("must be a comma-separated list of E.164 numbers")
        numbers = tuple(str(n).strip() for n in value if str(n).strip())
        bad = [n for n in numbers if not E164.match(n)]
        if bad:
            raise ValueError(f"not E.164 numbers (+ country code, digits only): {', '.join(bad)}")
        if len(numbers) > 10:
            raise ValueError("at most 10 numbers: Twilio rings no more at once")
        return numbers

    @field_validator("cap_feed_url")
    @classmethod
    def _feed_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if not (REGIONS_DIR / value / "region.toml").is_file():
            known = ", ".join(sorted(p.name for p in REGIONS_DIR.iterdir() if (p / "region.toml").is_file()))
            raise ValueError(f"unknown region {value!r}; known regions: {known}")
        return value

    @property
    def region_dir(self) -> Path:
        return REGIONS_DIR / self.region

    @property
    def secure_cookie(self) -> bool:
        """Whether the session cookie is sent over HTTPS only: as set, else when the public URL is https."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return (self.public_url or "").lower().startswith("https://")

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the driver we ship (psycopg 3), whatever spelling the operator used."""
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url


class SettingsError(Exception):
    """A readable summary of what is wrong with the configuration."""


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's error into one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"TANGGAP_{field.upper()}: {err['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None


@lru_cache
def get_settings() -> Settings:
    return load_settings()
