"""Location links: a caller without AML opens a one-call link on their phone and its page reports where they are.

Several commercial systems locate callers this way when the operator sends no AML (REFERENCE.md). The token is
128 random bits, good for one call and 30 minutes; only its SHA-256 is stored, so neither the database nor a
backup can open a caller's page. A position from the page becomes a caller location with source `link`, like
an AML fix (`dispatch.calls.locations.report`): a suggestion the call-taker confirms, live on every console.
A refused report writes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import locations
from dispatch.calls import service as calls
from dispatch.calls.models import CallerLocation, CallMessage, LocationLink
from dispatch.calls.schemas import MessageOut
from dispatch.clock import as_utc, utcnow
from dispatch.errors import Conflict, Invalid, NotFound
from dispatch.events.service import record

TTL = timedelta(minutes=30)
SOURCE = "link"
ACTOR = "link"  # who reports in the event log: the caller's phone, through the link
TOKEN_BYTES = 16  # 128 bits
# Lower-case base32 (a-z, 2-7): no letter whose case matters, so a call-taker can read the link out and the
# caller type it. 16 bytes make 26 characters; dashes and upper case typed by the caller are forgiven.
_TOKEN = re.compile(r"^[a-z2-7]{26}$")
NOTE_MAX = 280  # two SMS worth: a few words about where, not a conversation
NOTES_MAX = 20  # notes per link
# A phone's fix within a few metres up to an IP guess of a few kilometres is a position; beyond this it locates
# no one (and a negative or zero accuracy is no measurement).
ACCURACY_MAX_M = 50_000
# The page sends a moving caller's position every 10-15 s; faster than this is a loop or a flood.
MIN_INTERVAL = timedelta(seconds=5)
POSITIONS_MAX = TTL // MIN_INTERVAL  # a page open the whole half hour, at the highest rate


class Expired(NotFound):
    """The link existed but is past its 30 minutes: said apart from an unknown link (410 on the web)."""


class TooSoon(Conflict):
    """A report faster than the page sends them, or beyond a link's allowance (429 on the web)."""


@dataclass(frozen=True)
class Issued:
    """A new link: the token (shown once, never stored) and its row."""

    token: str
    link: LocationLink


def new_token() -> str:
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode().rstrip("=").lower()


def clean_token(raw: str) -> str | None:
    """The token as issued, from what was typed or read out ("ABCD-efgh ..."), or None if it cannot be one."""
    token = re.sub(r"[\s-]", "", raw[:64]).lower()
    return token if _TOKEN.match(token) else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(*, session: Session, call_id: int, created_by: str, now: datetime | None = None) -> Issued:
    """A link for this call, valid for `TTL`. The call may have ended within the last half hour (the caller opens
    the SMS after hanging up, as AML comes late); a call older than that is past helping by its link. Commits."""
    now = now or utcnow()
    call = calls.get(session=session, call_id=call_id)
    if call.ended_at is not None and as_utc(call.ended_at) < now - locations.AFTER_HANGUP:
        raise Conflict(f"call {call_id} ended more than 30 minutes ago; a location link is for a call in progress")
    token = new_token()
    link = LocationLink(
        call_id=call.id, token_hash=digest(token), created_at=now, expires_at=now + TTL, created_by=created_by,
        sent_by="none", positions=0, notes=0,
    )  # fmt: skip
    session.add(link)
    session.commit()
    return Issued(token, link)


def mark_sent(*, session: Session, link_id: int, sent_by: str) -> LocationLink:
    """How the link reached the caller (`sms`), once the provider took it. Commits."""
    link = session.get(LocationLink, link_id)
    if link is None:
        raise NotFound(f"location link {link_id} not found")
    link.sent_by = sent_by
    session.commit()
    return link


def find(*, session: Session, token: str, now: datetime | None = None) -> LocationLink:
    """The link of this token while it is valid: `NotFound` for a token never issued, `Expired` after `TTL`."""
    cleaned = clean_token(token)
    link = session.scalar(select(LocationLink).where(LocationLink.token_hash == digest(cleaned))) if cleaned else None
    if link is None:
        raise NotFound("location link not found")
    if as_utc(link.expires_at) <= (now or utcnow()):
        raise Expired("location link expired")
    return link


@dataclass(frozen=True)
class Fix:
    """A position as the phone's browser gave it (Geolocation API: WGS84 degrees, accuracy in metres)."""

    lat: float
    lon: float
    accuracy_m: float

    def check(self) -> None:
        if not all(math.isfinite(v) for v in (self.lat, self.lon, self.accuracy_m)):
            raise Invalid("lat, lon and accuracy_m must be finite numbers")
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise Invalid("lat must lie within ±90 and lon within ±180 degrees")
        if not 0 < self.accuracy_m <= ACCURACY_MAX_M:
            raise Invalid(f"accuracy_m must be more than 0 and at most {ACCURACY_MAX_M} m")

    def raw(self, link_id: int) -> str:
        """What the page sent, kept with the location (as an AML report keeps its SMS) and compared for retries."""
        return json.dumps({"link": link_id, "lat": self.lat, "lon": self.lon, "accuracy_m": self.accuracy_m})


def report(
    *, session: Session, token: str, fix: Fix | None, note: str | None = None, now: datetime | None = None
) -> CallerLocation | None:
    """A position (and/or a short note) from a link's page, for the link's call and no other. Returns the location
    (None for a note alone). Everything is checked before anything is written: a refused report writes nothing.
    The same position again within `MIN_INTERVAL` is a retry whose answer was lost: that location, not a new
    one. Commits."""
    now = now or utcnow()
    note = (note or "").strip() or None
    if fix is None and note is None:
        raise Invalid("send a position (lat, lon, accuracy_m) or a note")
    if fix is not None:
        fix.check()
    if note is not None and len(note) > NOTE_MAX:
        raise Invalid(f"the note is longer than {NOTE_MAX} characters")
    link = find(session=session, token=token, now=now)
    if note is not None and link.notes >= NOTES_MAX:
        raise TooSoon(f"at most {NOTES_MAX} notes per link")
    if fix is None:
        _note(session, link, note or "", now)
        session.commit()
        return None
    recent = link.last_used_at is not None and now - as_utc(link.last_used_at) < MIN_INTERVAL
    if recent:
        again = _last(session, link, fix.raw(link.id))
        if again is not None and note is None:
            return again
        raise TooSoon(f"one position every {MIN_INTERVAL.seconds} s")
    if link.positions >= POSITIONS_MAX:
        raise TooSoon(f"at most {POSITIONS_MAX} positions per link")
    link.positions += 1
    link.last_used_at = now
    if note is not None:
        _note(session, link, note, now)
    call = calls.get(session=session, call_id=link.call_id)
    return locations.report(  # commits the link's counts with the location
        session=session, caller=call.caller, source=SOURCE, lat=fix.lat, lon=fix.lon, accuracy_m=fix.accuracy_m,
        fix_at=now, raw=fix.raw(link.id), actor=ACTOR, call_id=call.id,
    )  # fmt: skip


def _last(session: Session, link: LocationLink, raw: str) -> CallerLocation | None:
    """The link's last location, if it was this very report."""
    last = session.scalar(
        select(CallerLocation)
        .where(CallerLocation.call_id == link.call_id, CallerLocation.source == SOURCE)
        .order_by(CallerLocation.id.desc())
        .limit(1)
    )
    return last if last is not None and last.raw == raw else None


def _note(session: Session, link: LocationLink, note: str, now: datetime) -> None:
    """The caller's words join the call's messages, where the call-taker reads a text caller's (`call.message`)."""
    call = calls.get(session=session, call_id=link.call_id)
    link.notes += 1
    message = CallMessage(call_id=call.id, direction="in", body=note, at=now, author=ACTOR, status="received")
    session.add(message)
    session.flush()
    data = MessageOut.model_validate(message).model_dump(mode="json")
    record(session, "call.message", actor=ACTOR, data=data, call_id=call.id, incident_id=call.incident_id)
