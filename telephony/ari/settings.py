"""Telephony options beyond the core settings: sounds, ring and retry timings (`TANGGAP_ARI_*`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AriOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANGGAP_ARI_", env_file=".env", extra="ignore")

    # Sounds recorded by the command center, in Bahasa Indonesia (sounds/id/tanggap/*.wav on the PBX).
    greeting: str = "sound:tanggap/salam-112"  # "Anda terhubung dengan layanan darurat 112 ..."
    greeting_en: str = "sound:tanggap/greeting-112-en"  # callers from abroad (AGI sets TANGGAP_LANG=en)
    warning: str = "sound:tanggap/peringatan-iseng"  # flagged repeat-abuse caller: a warning, then the queue
    moh_class: str = "default"
    ring_timeout_s: int = Field(20, ge=5, le=120)
    record: bool = True
    record_format: str = "wav"
    acd_interval_s: float = Field(1.0, gt=0, le=30)
    reconcile_interval_s: float = Field(30.0, gt=0, le=600)
    backoff_initial_s: float = Field(0.5, gt=0, le=10)
    backoff_max_s: float = Field(30.0, gt=0, le=600)
