"""Admins read the access audit: who saw callers' full numbers, played recordings or exported CSVs, and when."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from dispatch.audit import service as audit
from dispatch.audit.models import AccessAction
from dispatch.bounds import INT64_MAX, Day, Id
from dispatch.reports.period import Period
from ui.deps import DB, Admin, CtxDep

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

First = Annotated[Day | None, Query(alias="from", description="first day, region time zone (YYYY-MM-DD)")]
Last = Annotated[Day | None, Query(alias="to", description="last day, inclusive")]


@router.get("/access-audit")
def access_audit(
    ctx: CtxDep,
    db: DB,
    _admin: Admin,
    user: Annotated[str | None, Query(max_length=64, description="username, exactly")] = None,
    action: AccessAction | None = None,
    call_id: Annotated[Id | None, Query(description="rows that showed this call's number")] = None,
    first: First = None,
    last: Last = None,
    before: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="the page after: `next_before`")] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """The newest first, `limit` a page; `next_before` asks for the next (older) page, null on the last."""
    tz = ctx.region.pack.timezone
    start = Period(first, first, tz).start if first else None
    end = Period(last, last, tz).end if last else None
    page = audit.listing(
        session=db, username=user, action=action, call_id=call_id, start=start, end=end, before=before, limit=limit
    )
    return {"rows": [audit.data(r) for r in page.rows], "next_before": page.next_before}
