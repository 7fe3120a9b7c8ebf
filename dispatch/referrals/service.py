"""Referring a complaint to an agency (OPD) and recording the agency's follow-up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.agencies.models import Agency
from dispatch.calls import service as calls
from dispatch.clock import utcnow
from dispatch.errors import Invalid, NotFound
from dispatch.events.service import record
from dispatch.incidents import service as incidents
from dispatch.referrals import events
from dispatch.referrals.enums import OPEN, REFERRAL, STAMP, ReferralStatus
from dispatch.referrals.models import Referral
from dispatch.referrals.schemas import AGENCY_FIELDS, ReferralIn, ReferralOut
from dispatch.referrals.topics import Topic


def data(referral: Referral, *, now: datetime | None = None) -> dict[str, Any]:
    """The referral as the API shows it, with `overdue` as of `now` (consoles recompute it from `due_at`)."""
    out = ReferralOut.model_validate(referral).model_dump(mode="json")
    return {**out, "overdue": is_overdue(referral, now or utcnow())}


def agency_view(referral: Referral) -> dict[str, Any]:
    """What the agency's own desk sees: never the caller (nor the center's call and incident)."""
    return {k: v for k, v in data(referral).items() if k in AGENCY_FIELDS}


def is_overdue(referral: Referral, now: datetime) -> bool:
    return referral.status in OPEN and referral.due_at is not None and referral.due_at < now


def get(*, session: Session, referral_id: int, agency_id: int | None = None) -> Referral:
    """The referral; with `agency_id`, only if it was sent to that agency (another's is not found, not refused)."""
    row = session.get(Referral, referral_id)
    if row is None or (agency_id is not None and row.agency_id != agency_id):
        raise NotFound(f"referral {referral_id} not found")
    return row


def create(
    *,
    session: Session,
    body: ReferralIn,
    actor: str,
    user_id: int | None,
    topics: Mapping[str, Topic] | None = None,
) -> Referral:
    """Forward a complaint to an agency; due by the topic's hours (`topics`: the region pack's). Everything is
    checked before anything is written. The agency need not be the topic's: the call-taker may know better."""
    if session.get(Agency, body.agency_id) is None:
        raise Invalid(f"unknown agency {body.agency_id}")
    topic = (topics or {}).get(body.topic) if body.topic else None
    if body.topic and topic is None:
        raise Invalid(f"unknown topic {body.topic!r}")
    if (body.lat is None) != (body.lon is None):
        raise Invalid("a place needs both lat and lon")
    call = calls.get(session=session, call_id=body.call_id) if body.call_id else None
    if body.incident_id is not None:
        incidents.get(session=session, incident_id=body.incident_id)
    now = utcnow()
    row = Referral(
        agency_id=body.agency_id,
        call_id=call.id if call else None,
        incident_id=body.incident_id,
        caller=call.caller if call else None,
        summary=body.summary,
        address=body.address,
        topic=topic.code if topic else None,
        lat=body.lat,
        lon=body.lon,
        status=ReferralStatus.referred,
        created_by=user_id,
        referred_at=now,
        due_at=topic.due(now) if topic else None,
    )
    session.add(row)
    session.flush()
    _record(session, events.CREATED, actor, row)
    session.commit()
    return row


def step(
    *,
    session: Session,
    referral_id: int,
    status: str,
    actor: str,
    note: str | None = None,
    agency_id: int | None = None,
) -> Referral:
    """Record the agency's follow-up (`agency_id`: only on a referral of that agency, for its own desk).
    Repeating the current status is a no-op (a retried request)."""
    row = get(session=session, referral_id=referral_id, agency_id=agency_id)
    target = ReferralStatus(status)
    if row.status == target:
        return row
    REFERRAL.check(row.status, target)
    row.status = target
    setattr(row, STAMP[target], utcnow())
    if note:
        row.note = note
    row.version += 1
    _record(session, events.STATUS, actor, row)
    session.commit()
    return row


def listing(
    *,
    session: Session,
    open_only: bool = True,
    agency_id: int | None = None,
    overdue_only: bool = False,
    limit: int = 200,
) -> Sequence[Referral]:
    """Referrals, newest first; by default only those the agency has not finished; `overdue_only`: those still
    open past their deadline."""
    query = select(Referral).order_by(Referral.id.desc()).limit(limit)
    if open_only or overdue_only:
        query = query.where(Referral.status.in_(OPEN))
    if overdue_only:
        query = query.where(Referral.due_at < utcnow())
    if agency_id is not None:
        query = query.where(Referral.agency_id == agency_id)
    return session.scalars(query).all()


def _record(session: Session, kind: str, actor: str, row: Referral) -> None:
    event = events.ReferralEvent(kind, data(row))
    record(session, event.type, actor=actor, data=event.payload(), call_id=row.call_id, incident_id=row.incident_id)
