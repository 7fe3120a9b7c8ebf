"""Telephony options beyond the core settings: sounds, ring and retry timings (`TANGGAP_ARI_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dispatch.calls.queue import RESERVATION_TTL

# A desk phone rings at most this long: the ACD's reservation of the call for that call-taker (60 s) must outlive
# the ring and its watchdog (5 s more), or the call is claimed again while the phone still rings, the second
# claim is given back, and with it the first reservation: the call churns between call-takers.
MAX_RING_S = int(RESERVATION_TTL.total_seconds()) - 10


class AriOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANGGAP_ARI_", env_file=".env", extra="ignore")

    # Prompts on the PBX, one name in every language (sounds/<lang>/tanggap/*.wav, config/asterisk/sounds/):
    # each is played with the caller's language (the triage's TANGGAP_LANG), so Asterisk picks the folder.
    greeting: str = "sound:tanggap/salam-112"  # "Anda terhubung dengan layanan darurat 112 ..."
    warning: str = "sound:tanggap/peringatan-iseng"  # flagged repeat-abuse caller: a warning, then the queue
    # During a major incident (telephony/ari/choice.py), instead of the greeting: the announcement and its choice
    # (comma-separated media), and for choice 3 the information, `{region}` the region pack's code. After the
    # announcement the caller has `choice_wait_s` to press a key (`choice_max_s` from its start at most, should
    # its end never be told); the major incident in force is asked of the server every `major_check_s`.
    announcement: str = "sound:tanggap/bencana-pengumuman,sound:tanggap/bencana-pilihan"
    information: str = "sound:tanggap/bencana-info,sound:tanggap/bencana-tempat-{region},sound:tanggap/bencana-petugas"
    choice_wait_s: float = Field(6.0, gt=0, le=60)
    choice_max_s: float = Field(45.0, gt=0, le=300)
    major_check_s: float = Field(2.0, gt=0, le=60)
    language: str = "id"  # for callers whose dialplan passed no language
    # Names of what this installation makes on the PBX (holding bridge, conversation bridges, recordings,
    # the fallback journal): two installations sharing one Asterisk must not clash.
    install: str = Field("tanggap112", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    busy_retry_s: float = Field(15.0, ge=1, le=300)  # a desk phone that answered busy is rung again after this
    journal_interval_s: float = Field(2.0, gt=0, le=60)  # reads the fallback journal while calls are open in it
    # One active bridge at a time: the active one renews a lease in the database; a standby takes over once it
    # has run out (a killed bridge), so within lease_ttl_s plus one poll (lease_ttl_s / 4).
    lease: bool = True
    lease_ttl_s: float = Field(3.0, ge=1, le=60)
    moh_class: str = "default"
    ring_timeout_s: int = Field(20, ge=5, le=MAX_RING_S)
    record: bool = True
    record_format: str = "wav"
    acd_interval_s: float = Field(1.0, gt=0, le=30)
    acd_idle_s: float = Field(15.0, gt=0, le=300)  # the ACD's poll when the desk tells of ready call-takers
    reconcile_interval_s: float = Field(30.0, gt=0, le=600)
    # Callbacks from the console (telephony/ari/callback.py): how the PBX dials an abandoned caller, `{number}`
    # in E.164 (+62812...) or `{national}` (0812...), through the operator trunk of config/asterisk/pjsip.conf;
    # how long their phone rings; how often the bridge asks for callbacks when no notice came.
    callback_endpoint: str = Field("PJSIP/{number}@operator-trunk", pattern=r"^[A-Za-z]+/.*\{(number|national)\}")
    callback_ring_s: int = Field(40, ge=5, le=120)
    callback_poll_s: float = Field(5.0, gt=0, le=300)
    backoff_initial_s: float = Field(0.5, gt=0, le=10)
    backoff_max_s: float = Field(30.0, gt=0, le=600)
