"""Learned places: when an incident closes, the place words the call-taker typed for its confirmed point
become a gazetteer entry of this center (source "history"), ranked by how often they were used.

Only a phrase used at least MIN_USES times is offered by the search: one incident's address is often
somebody's home (UU PDP), while a phrase two call-takers typed for the same spot is how the town names
it. House numbers and RT/RW are dropped before anything is kept. A supervisor corrects or removes
entries; a removed entry stays (hidden) so that the next closed incident does not bring it back.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.clock import utcnow
from dispatch.context import Region
from dispatch.errors import Invalid, NotFound
from dispatch.incidents.duplicates import distance_m
from dispatch.incidents.models import Incident
from dispatch.places.models import LearnedPlace
from dispatch.places.schemas import LearnedPlaceOut, LearnedPlacePatch
from geo.gazetteer import Entry, Gazetteer, Hit, Place, merge
from geo.names import normalize

MIN_USES = 2
# The same words this close to an entry's point are that entry used again; further away, another place.
SAME_PLACE_M = 300.0
# How far from its point a learned place may be: the spread of call-takers' confirmed points.
ACCURACY_M = 100.0
MAX_PHRASES = 4
MAX_CHARS = 120
KIND = "riwayat"
SOURCE = "history"
_SPLIT = re.compile(r"[,;/\n]+|\s-\s")
# House numbers and neighbourhood units: private, and never what a caller names a place by.
_PRIVATE = re.compile(r"\b(?:no|nomor|nmr|rt|rw|blok|blk|kav)\b\.?\s*[0-9][0-9a-z/.-]*|#\s*\d+\w*", re.IGNORECASE)
_LETTERS = re.compile(r"[^\W\d_]{3,}")


def place_words(text: str | None) -> list[str]:
    """The place phrases of an address as typed: split at commas (and ; / newlines), house numbers and
    RT/RW dropped, phrases without a word of three letters left out."""
    phrases: list[str] = []
    for part in _SPLIT.split(text or ""):
        phrase = " ".join(_PRIVATE.sub(" ", part).split()).strip(" .-")
        if _LETTERS.search(phrase) and normalize(phrase) and phrase not in phrases:
            phrases.append(phrase[:MAX_CHARS])
    return phrases[:MAX_PHRASES]


def learn(*, session: Session, incident: Incident) -> list[LearnedPlace]:
    """Count the place words of a closing incident at its confirmed point. Does not commit: it runs in
    the transaction that closes the incident, so a place is counted once per closed incident."""
    if not incident.location_confirmed or incident.lat is None or incident.lon is None:
        return []
    learned = []
    now = utcnow()
    for phrase in place_words(incident.address):
        key = normalize(phrase)[:MAX_CHARS]
        rows = session.scalars(select(LearnedPlace).where(LearnedPlace.key == key)).all()
        near = [(distance_m(r.lat, r.lon, incident.lat, incident.lon), r) for r in rows]
        near = [(d, r) for d, r in near if d <= SAME_PLACE_M]
        if near:
            row = min(near, key=lambda dr: dr[0])[1]
            if not row.corrected:  # the point settles where call-takers keep confirming it
                row.lat = (row.lat * row.uses + incident.lat) / (row.uses + 1)
                row.lon = (row.lon * row.uses + incident.lon) / (row.uses + 1)
            row.uses += 1
        else:
            row = LearnedPlace(key=key, name=phrase, lat=incident.lat, lon=incident.lon, uses=1, created_at=now)
            row.corrected, row.hidden = False, False
            row.kecamatan, row.kelurahan = incident.kecamatan, incident.kelurahan
            session.add(row)
        row.last_incident_id, row.updated_at = incident.id, now
        learned.append(row)
    session.flush()
    return learned


def get(*, session: Session, place_id: int) -> LearnedPlace:
    row = session.get(LearnedPlace, place_id)
    if row is None:
        raise NotFound(f"learned place {place_id} not found")
    return row


def listing(*, session: Session, limit: int = 200, offset: int = 0, hidden: bool = False) -> list[dict[str, Any]]:
    """Entries for the supervisor, most used first; `hidden` lists the removed ones instead."""
    rows = session.scalars(
        select(LearnedPlace)
        .where(LearnedPlace.hidden.is_(hidden))
        .order_by(LearnedPlace.uses.desc(), LearnedPlace.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [out(r) for r in rows]


def out(row: LearnedPlace) -> dict[str, Any]:
    searchable = not row.hidden and (row.uses >= MIN_USES or row.corrected)
    return LearnedPlaceOut.model_validate({**_columns(row), "searchable": searchable}).model_dump(mode="json")


def correct(*, session: Session, region: Region, place_id: int, body: LearnedPlacePatch, actor: str) -> LearnedPlace:
    """A supervisor's correction. A new point is checked against the region (Invalid when far outside it)
    and fixes the entry there; a corrected entry is offered even when used once. Commits."""
    row = get(session=session, place_id=place_id)
    if (body.lat is None) != (body.lon is None):
        raise Invalid("give both lat and lon, or neither")
    if body.lat is not None and body.lon is not None:
        where = region.locate(body.lat, body.lon)
        row.lat, row.lon = body.lat, body.lon
        row.kecamatan, row.kelurahan = where.kecamatan_name, where.kelurahan_name
    if body.name is not None:
        name = " ".join(body.name.split())
        if not normalize(name):
            raise Invalid("the name has no letters or digits")
        row.name, row.key = name, normalize(name)[:MAX_CHARS]
    if body.hidden is not None:
        row.hidden = body.hidden
    row.corrected = row.corrected or body.name is not None or body.lat is not None
    row.updated_by, row.updated_at = actor, utcnow()
    session.commit()
    return row


def remove(*, session: Session, place_id: int, actor: str) -> LearnedPlace:
    """Take an entry out of the search for good: hidden, and kept so that it is not learned again."""
    row = get(session=session, place_id=place_id)
    row.hidden, row.updated_by, row.updated_at = True, actor, utcnow()
    session.commit()
    return row


def search(
    *, session: Session, region: Region, query: str, limit: int = 10, near: tuple[float, float] | None = None
) -> list[Place]:
    """The region's gazetteer and this center's learned places as one list, best first."""
    hits: Sequence[Hit] = region.gazetteer.ranked(query, limit, near=near)
    return [h.place for h in merge(hits, index(session=session).ranked(query, limit), limit=limit)]


_cache: dict[str, tuple[tuple[Any, ...], Gazetteer]] = {}
_cache_lock = threading.Lock()


def index(*, session: Session) -> Gazetteer:
    """The searchable learned places as a gazetteer, rebuilt only when an entry changed (every change
    moves updated_at), so every server process answers from the same rows."""
    state = tuple(
        session.execute(
            select(func.count(LearnedPlace.id), func.max(LearnedPlace.updated_at), func.max(LearnedPlace.id))
        ).one()
    )
    url = str(session.get_bind().engine.url)
    with _cache_lock:
        cached = _cache.get(url)
        if cached is not None and cached[0] == state:
            return cached[1]
    rows = session.scalars(
        select(LearnedPlace).where(
            LearnedPlace.hidden.is_(False), (LearnedPlace.uses >= MIN_USES) | LearnedPlace.corrected.is_(True)
        )
    ).all()
    gazetteer = Gazetteer((_entry(r) for r in rows), aliases={})
    with _cache_lock:
        _cache[url] = (state, gazetteer)
    return gazetteer


def _entry(row: LearnedPlace) -> Entry:
    place = Place(row.name, KIND, None, row.kecamatan, row.lat, row.lon, ACCURACY_M, row.kelurahan, SOURCE)
    return Entry(place, weight=float(row.uses))


def _columns(row: LearnedPlace) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in LearnedPlace.__table__.columns}
