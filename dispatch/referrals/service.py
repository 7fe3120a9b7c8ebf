"""Referring a complaint to an agency (OPD) and recording the agency's follow-up."""

from __future__ import annotations

from collections.abc import Sequence
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
from dispatch.referrals.schemas import ReferralIn, ReferralOut


def data(referral: Referral) -> dict[str, Any]:
    return ReferralOut.model_validate(referral).model_dump(mode="json")


def get(*, session: Session, referral_id: int) -> Referral:
    row = session.get(Referral, referral_id)
    if row is None:
        raise NotFound(f"referral {referral_id} not found")
    return row


def create(*, session: Session, body: ReferralIn, actor: str, user_id: int | None) -> Referral:
    """Forward a complaint to an agency. Everything is checked before anything is written."""
    if session.get(Agency, body.agency_id) is None:
        raise Invalid(f"unknown agency {body.agency_id}")
    call = calls.get(session=session, call_id=body.call_id) if body.call_id else None
    if body.incident_id is not None:
        incidents.get(session=session, incident_id=body.incident_id)
    row = Referral(
        agency_id=body.agency_id,
        call_id=call.id if call else None,
        incident_id=body.incident_id,
        caller=call.caller if call else None,
        summary=body.summary,
        address=body.address,
        status=ReferralStatus.referred,
        created_by=user_id,
        referred_at=utcnow(),
    )
    session.add(row)
    session.flush()
    _record(session, events.CREATED, actor, row)
    session.commit()
    return row


def step(*, session: Session, referral_id: int, status: str, actor: str, note: str | None = None) -> Referral:
    """Record the agency's follow-up. Repeating the current status is a no-op (a retried request)."""
    row = get(session=session, referral_id=referral_id)
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
    *, session: Session, open_only: bool = True, agency_id: int | None = None, limit: int = 200
) -> Sequence[Referral]:
    """Referrals, newest first; by default only those the agency has not finished."""
    query = select(Referral).order_by(Referral.id.desc()).limit(limit)
    if open_only:
        query = query.where(Referral.status.in_(OPEN))
    if agency_id is not None:
        query = query.where(Referral.agency_id == agency_id)
    return session.scalars(query).all()


def _record(session: Session, kind: str, actor: str, row: Referral) -> None:
    event = events.ReferralEvent(kind, data(row))
    record(session, event.type, actor=actor, data=event.payload(), call_id=row.call_id, incident_id=row.incident_id)
