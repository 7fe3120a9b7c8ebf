"""Supervisor reports (`/api/v1/reports/...`, JSON or `?format=csv`); complaints referred to agencies."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from dispatch.agencies.models import Agency
from dispatch.bounds import Day, Id
from dispatch.referrals import service as referrals
from dispatch.referrals.schemas import ReferralIn, ReferralStatusIn
from dispatch.reports import calls as call_reports
from dispatch.reports import queue
from dispatch.reports.follow_up import follow_up
from dispatch.reports.period import Period, period
from dispatch.reports.response_times import By, response_times
from dispatch.reports.table import Table
from ui import audit, idempotent
from ui.context import Ctx
from ui.deps import DB, CtxDep, Staff, Supervisor, Taker, shown

router = APIRouter(prefix="/api/v1", tags=["reports"])

Format = Literal["json", "csv"]
First = Annotated[Day | None, Query(alias="from", description="first day, region time zone (YYYY-MM-DD)")]
Last = Annotated[Day | None, Query(alias="to", description="last day, inclusive")]
# Cells starting with these are formulas to a spreadsheet; caller text must never run as one.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"\+?[\d* ]+")  # a phone number, masked or not: harmless, and must stay readable


def _period(ctx: Ctx, first: date | None, last: date | None) -> Period:
    return period(first, last, ctx.region.pack.timezone)


def _answer(ctx: Ctx, user: Any, name: str, table: Table, fmt: Format) -> Response:
    rows = shown(ctx, user, table.rows)
    if fmt == "csv":
        span = "..".join(str(table.meta[k]) for k in ("from", "to") if k in table.meta)
        audit.exported(ctx.sessions, user, f"CSV {name}{' ' + span if span else ''}", rows)  # fails closed
        return _csv(name, table, rows)
    return JSONResponse({**table.meta, "columns": list(table.columns), "rows": rows})


def _csv(name: str, table: Table, rows: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in table.columns])
    span = "-".join(str(table.meta[k]) for k in ("from", "to") if k in table.meta)
    filename = f"tanggap112-{name}{'-' + span if span else ''}.csv"
    # The BOM makes Excel, which most command centers use, read the file as UTF-8.
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str) and value.startswith(_FORMULA) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _report(name: str, build: Callable[[], Table], ctx: Ctx, user: Any, fmt: Format) -> Response:
    return _answer(ctx, user, name, build(), fmt)


@router.get("/reports/response-times")
def response_time_report(
    ctx: CtxDep,
    db: DB,
    user: Supervisor,
    first: First = None,
    last: Last = None,
    by: By = "all",
    format: Format = "json",
) -> Response:
    """Answering, processing, turnout, travel and total times: n, p50, p90 and % within the standard."""
    span = _period(ctx, first, last)
    return _report(f"response-times-{by}", lambda: response_times(session=db, period=span, by=by), ctx, user, format)


@router.get("/reports/call-mix")
def call_mix_report(
    ctx: CtxDep, db: DB, user: Supervisor, first: First = None, last: Last = None, format: Format = "json"
) -> Response:
    span = _period(ctx, first, last)
    return _report("call-mix", lambda: call_reports.call_mix(session=db, period=span), ctx, user, format)


@router.get("/reports/call-mix/daily")
def call_mix_daily_report(
    ctx: CtxDep, db: DB, user: Supervisor, first: First = None, last: Last = None, format: Format = "json"
) -> Response:
    span = _period(ctx, first, last)
    return _report("call-mix-daily", lambda: call_reports.call_mix_daily(session=db, period=span), ctx, user, format)


@router.get("/reports/callbacks")
def callback_report(ctx: CtxDep, db: DB, user: Supervisor, format: Format = "json") -> Response:
    span = _period(ctx, None, None)
    return _report("callbacks", lambda: call_reports.callbacks(session=db, period=span), ctx, user, format)


@router.get("/reports/recordings")
def recordings_report(
    ctx: CtxDep, db: DB, user: Supervisor, first: First = None, last: Last = None, format: Format = "json"
) -> Response:
    """Recorded conversations of the period, newest first, to listen back to (the sound: telephony API)."""
    span = _period(ctx, first, last)
    return _report("recordings", lambda: call_reports.recordings(session=db, period=span), ctx, user, format)


@router.get("/reports/follow-up")
def follow_up_report(
    ctx: CtxDep, db: DB, user: Supervisor, first: First = None, last: Last = None, format: Format = "json"
) -> Response:
    """Referred complaints per agency and the share each agency followed up (done)."""
    span = _period(ctx, first, last)
    return _report("follow-up", lambda: follow_up(session=db, period=span), ctx, user, format)


@router.get("/reports/queue")
def queue_report(ctx: CtxDep, db: DB, user: Supervisor, format: Format = "json") -> Response:
    tz = ctx.region.pack.timezone
    return _report("queue", lambda: queue.waiting(session=db, tz=tz), ctx, user, format)


@router.get("/reports/takers")
def takers_report(ctx: CtxDep, db: DB, user: Supervisor, format: Format = "json") -> Response:
    tz = ctx.region.pack.timezone
    return _report("call-takers", lambda: queue.takers(session=db, tz=tz), ctx, user, format)


@router.post("/referrals", status_code=201)
def create_referral(body: ReferralIn, request: Request, ctx: CtxDep, db: DB, user: Taker) -> Any:
    """Forward a non-emergency complaint to the responsible agency."""

    def action() -> Any:
        topics = {t.code: t for t in ctx.region.pack.topics}
        row = referrals.create(session=db, body=body, actor=user.username, user_id=user.id, topics=topics)
        return shown(ctx, user, referrals.data(row))

    return idempotent.run(request, db, user, action, status=201)


@router.get("/referrals")
def list_referrals(
    ctx: CtxDep,
    db: DB,
    user: Staff,
    open: bool = True,
    agency_id: Id | None = None,
    overdue: bool = False,
    limit: int = Query(200, ge=1, le=1000),
) -> Any:
    """Referrals, newest first: open ones (`open=false`: all), or those still open past their deadline."""
    rows = referrals.listing(session=db, open_only=open, agency_id=agency_id, overdue_only=overdue, limit=limit)
    return shown(ctx, user, [referrals.data(r) for r in rows])


@router.get("/referral-topics")
def referral_topics(ctx: CtxDep, db: DB, _user: Staff) -> list[dict[str, Any]]:
    """The region's complaint topics: the agency that takes each (its id here) and the hours it has."""
    ids = {a.code: a.id for a in db.scalars(select(Agency))}
    return [{**asdict(t), "agency_id": ids.get(t.agency)} for t in ctx.region.pack.topics]


@router.get("/referrals/{referral_id}")
def get_referral(referral_id: Id, ctx: CtxDep, db: DB, user: Staff) -> Any:
    return shown(ctx, user, referrals.data(referrals.get(session=db, referral_id=referral_id)))


@router.post("/referrals/{referral_id}/status")
def referral_status(referral_id: Id, body: ReferralStatusIn, ctx: CtxDep, db: DB, user: Staff) -> Any:
    """Record what the agency reported back: in progress, done or rejected (with a note)."""
    row = referrals.step(session=db, referral_id=referral_id, status=body.status, note=body.note, actor=user.username)
    return shown(ctx, user, referrals.data(row))
