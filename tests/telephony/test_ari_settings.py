"""The bridge's timings are checked when it starts: a setting that would hurt callers is refused, not run."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from dispatch.calls import queue
from telephony.ari.settings import AriOptions


def test_a_desk_phone_rings_for_less_than_the_acds_reservation_of_its_call() -> None:
    """Rung longer than the reservation (plus the ring watchdog's 5 s), the call would be claimed again while the
    phone still rings: refused at start-up, with the setting named."""
    longest = AriOptions(ring_timeout_s=50).ring_timeout_s
    assert longest + 5 < queue.RESERVATION_TTL.total_seconds()
    with pytest.raises(ValidationError, match="ring_timeout_s"):
        AriOptions(ring_timeout_s=51)


def test_the_ring_timeout_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANGGAP_ARI_RING_TIMEOUT_S", "45")
    assert AriOptions().ring_timeout_s == 45
    monkeypatch.setenv("TANGGAP_ARI_RING_TIMEOUT_S", "90")
    with pytest.raises(ValidationError, match="less than or equal to 50"):
        AriOptions()
