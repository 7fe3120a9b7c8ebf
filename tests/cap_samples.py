"""The CAP fixtures (tests/fixtures/cap/) with their times moved to the present: an alert sent ten minutes ago that
expires when its original did, relative to its sending, so that it is live now."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from dispatch.clock import utcnow

CAP_DIR = Path(__file__).resolve().parent / "fixtures" / "cap"
XSD = CAP_DIR / "CAP-v1.2.xsd"
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
_SENT = re.compile(r"<sent>([^<]+)</sent>")


def raw(name: str) -> bytes:
    return (CAP_DIR / name).read_bytes()


def fresh(name: str, *, ago: timedelta = timedelta(minutes=10), now: datetime | None = None) -> bytes:
    """The fixture with every time shifted by the same amount, so that its <sent> lies `ago` before now."""
    text = raw(name).decode("utf-8")
    found = _SENT.search(text)
    assert found is not None, name
    sent = datetime.fromisoformat(found.group(1))
    shift = (now or utcnow()) - ago - sent

    def moved(match: re.Match[str]) -> str:
        at = datetime.fromisoformat(match.group(0))
        return (at + shift).astimezone(at.tzinfo).replace(microsecond=0).isoformat()

    return _TIME.sub(moved, text).encode("utf-8")
