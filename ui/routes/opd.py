"""An agency's desk (role `opd`): the complaints referred to its agency, and what it reports back.

It is shown no caller and nothing of the center's calls or incidents (`referrals.agency_view`), whatever
`roles_seeing_caller` says: an agency answers the complaint, the center calls the caller back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from dispatch.agencies.models import Agency
from dispatch.bounds import Id
from dispatch.referrals import service as referrals
from dispatch.referrals.schemas import ReferralStatusIn
from dispatch.users.models import User
from ui.deps import DB, CtxDep, Opd

router = APIRouter(prefix="/api/v1/opd", tags=["referrals"])


def _agency_id(user: User) -> int:
    if user.agency_id is None:  # made before the binding existed, or by hand in the database
        raise HTTPException(403, "this desk is bound to no agency")
    return user.agency_id


@router.get("/referrals")
def desk(ctx: CtxDep, db: DB, user: Opd, limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    """The desk's agency, the region's topics and clock, and its referrals, newest first (finished ones too)."""
    agency = db.get(Agency, _agency_id(user))
    assert agency is not None  # a foreign key
    pack = ctx.region.pack
    rows = referrals.listing(session=db, open_only=False, agency_id=agency.id, limit=limit)
    return {
        "me": {"name": user.name, "username": user.username, "language": user.language},
        "agency": {"id": agency.id, "code": agency.code, "name": agency.name},
        "region": {"name": pack.name, "timezone": str(pack.timezone), "tz_label": pack.tz_label},
        "topics": {t.code: {"name": t.name, "name_en": t.name_en} for t in pack.topics},
        "referrals": [referrals.agency_view(r) for r in rows],
    }


@router.post("/referrals/{referral_id}/status")
def step(referral_id: Id, body: ReferralStatusIn, db: DB, user: Opd) -> dict[str, Any]:
    """Taken up, done or rejected (with a note), on a referral of the desk's own agency (else 404)."""
    row = referrals.step(
        session=db,
        referral_id=referral_id,
        status=body.status,
        note=body.note,
        actor=user.username,
        agency_id=_agency_id(user),
    )
    return referrals.agency_view(row)
