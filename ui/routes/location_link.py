"""Location links on the web: a call-taker asks for one (sent by SMS, or read out), the caller's phone opens
`/l/{token}` and posts its position there.

The page and its POST need no login: the token is the only key, and the page shows nothing of the call. Both
are limited per client address and per token in this process (a flood or a guesser is answered 429 before the
database is asked). The POST carries no cookie, so the Origin check of cookie sessions (`ui.origin`) does not
apply to it; the page is same-origin anyway.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dispatch.bounds import Id
from dispatch.calls import links
from dispatch.calls import service as calls
from dispatch.errors import NotFound
from ui import idempotent, simulator
from ui.deps import DB, CtxDep, Taker
from ui.pages import STATIC
from ui.routes.calls import sms_sender

log = logging.getLogger(__name__)
router = APIRouter(tags=["calls"])
PAGE = STATIC / "pages" / "l.html"
PATH = "/l/{token}"


class Limiter:
    """At most `limit` hits per key within `per_s` seconds, remembered in this process (a sliding window).

    Several servers behind the proxy each keep their own: a client meets at most their number times the limit,
    enough against a flood. The keys kept are bounded: the oldest are forgotten first."""

    def __init__(self, limit: int, per_s: float, *, keys: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.limit, self.per_s, self.keys, self.clock = limit, per_s, keys, clock
        self._hits: dict[str, deque[float]] = {}

    def wait(self, key: str) -> float:
        """0 if `key` may go on now (the hit is counted), else the seconds until it may."""
        now = self.clock()
        hits = self._hits.pop(key, None) or deque()
        while hits and hits[0] <= now - self.per_s:
            hits.popleft()
        self._hits[key] = hits  # last in the dict: the most recently seen key
        if len(hits) >= self.limit:
            return hits[0] + self.per_s - now
        hits.append(now)
        while len(self._hits) > self.keys:
            del self._hits[next(iter(self._hits))]
        return 0.0


class Limits:
    """What one server lets through to the links (tests set their own in `app.state.link_limits`)."""

    def __init__(self) -> None:
        # Many phones share one address behind an operator's NAT: generous per address, tight per token.
        self.address = Limiter(120, 60)
        self.misses = Limiter(20, 600)  # unknown or expired tokens from one address: a guesser
        self.token = Limiter(30, 60)


def limits_of(request: Request) -> Limits:
    found: Limits | None = getattr(request.app.state, "link_limits", None)
    if found is None:
        found = request.app.state.link_limits = Limits()
    return found


# ---- the call-taker's side -------------------------------------------------------------------------------


def sms_text(url: str) -> str:
    """One SMS (GSM alphabet, under 160 characters with a 60-character link), in Bahasa."""
    return f"112: petugas meminta lokasi Anda. Buka tautan ini & izinkan akses lokasi (30 menit): {url}"


def read_out(url: str, token: str) -> str:
    """The link as a call-taker reads it to the caller: the token in groups of four."""
    return url[: -len(token)] + "-".join(token[i : i + 4] for i in range(0, len(token), 4))


@router.post("/api/v1/calls/{call_id}/location-link", status_code=201)
def create_link(call_id: Id, request: Request, ctx: CtxDep, db: DB, user: Taker) -> Any:
    """A location link for this call's caller, valid 30 minutes: sent by SMS when this server can send one
    (`sent_by: "sms"`), else (no Twilio, no number, the SMS refused) to be read out (`sent_by: "none"`)."""
    call = calls.get(session=db, call_id=call_id)
    simulated = call.provider == simulator.PROVIDER  # a made-up number: the simulator's handset, never Twilio
    send = simulator.delivered if simulated else sms_sender(request.app, ctx)
    base = (ctx.settings.public_url or str(request.base_url)).rstrip("/")

    def action() -> Any:
        issued = links.create(session=db, call_id=call_id, created_by=user.username)
        url = f"{base}/l/{issued.token}"
        sent_by, error = "none", None
        if send is not None and call.caller:
            try:
                send(call.caller, sms_text(url), None)
                sent_by = links.mark_sent(session=db, link_id=issued.link.id, sent_by="sms").sent_by
            except Exception as exc:  # the provider refused or is unreachable: the call-taker reads it out
                error = f"SMS not sent ({type(exc).__name__})"
                log.warning("location link %s on call %s: SMS failed (%s)", issued.link.id, call_id, error)
        log.info("location link %s for call %s, sent by %s", issued.link.id, call_id, sent_by)
        return {
            "id": issued.link.id,
            "call_id": call_id,
            "url": url,
            "read_out": read_out(url, issued.token),
            "expires_at": issued.link.expires_at.isoformat(),
            "sent_by": sent_by,
            "sms_error": error,
        }

    return idempotent.run(request, db, user, action, status=201)


# ---- the caller's side -----------------------------------------------------------------------------------

REFUSED = {
    404: ("Tautan lokasi tidak dikenal", "This location link is not known"),
    410: ("Tautan lokasi sudah kedaluwarsa", "This location link has expired"),
    429: ("Terlalu banyak permintaan; coba lagi sebentar lagi", "Too many requests; try again in a moment"),
}
HINT = (
    "Jika Anda masih butuh bantuan, telepon 112 lagi.",
    "If you still need help, call 112 again.",
)


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _gate(request: Request, token: str) -> float:
    """Seconds to wait before this request is heard (0: go on)."""
    limits = limits_of(request)
    return limits.address.wait(_address(request)) or limits.token.wait(token[:64])


def _missed(request: Request) -> float:
    """Count an unknown or expired token against its address; seconds it must now wait (0: none)."""
    return limits_of(request).misses.wait(_address(request))


def _refused_page(status: int, retry: float = 0) -> Response:
    """A plain page, no script: what went wrong in Bahasa, then English."""
    (id_, en), (hint_id, hint_en) = REFUSED[status], HINT
    body = (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        '<link rel="icon" href="data:,"><link rel="stylesheet" href="/static/css/l.css">'
        f"<title>Tanggap 112</title></head><body><main><h1>{escape(id_)}</h1><p>{escape(hint_id)}</p>"
        f'<h2 lang="en">{escape(en)}</h2><p lang="en">{escape(hint_en)}</p></main></body></html>'
    )
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=_headers(retry))


def _headers(retry: float = 0) -> dict[str, str]:
    found = {"cache-control": "no-store", "x-robots-tag": "noindex"}
    if retry:
        found["retry-after"] = str(math.ceil(retry))
    return found


@lru_cache(maxsize=2)
def _page(_mtime_ns: int) -> bytes:
    return PAGE.read_bytes()


@router.get(PATH, include_in_schema=False)
def link_page(token: str, request: Request, db: DB) -> Response:
    """The caller's page: asks the phone for its position and posts it here. Nothing of the call is on it."""
    wait = _gate(request, token)
    if wait:
        return _refused_page(429, wait)
    try:
        links.find(session=db, token=token)
    except NotFound as exc:
        status = 410 if isinstance(exc, links.Expired) else 404
        return _refused_page(429, wait) if (wait := _missed(request)) else _refused_page(status)
    body = _page(PAGE.stat().st_mtime_ns)
    return Response(body, media_type="text/html; charset=utf-8", headers=_headers())


class LinkReportIn(BaseModel):
    """What the page posts: the phone's position (all three, as the Geolocation API gives them), a short note,
    or both."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    accuracy_m: float | None = Field(None, gt=0, le=links.ACCURACY_MAX_M)
    note: str | None = Field(None, max_length=links.NOTE_MAX)

    @model_validator(mode="after")
    def _whole(self) -> LinkReportIn:
        given = [v is not None for v in (self.lat, self.lon, self.accuracy_m)]
        if any(given) and not all(given):
            raise ValueError("lat, lon and accuracy_m come together")
        if not any(given) and not self.note:
            raise ValueError("send a position (lat, lon, accuracy_m) or a note")
        return self

    def fix(self) -> links.Fix | None:
        if self.lat is None or self.lon is None or self.accuracy_m is None:
            return None
        return links.Fix(self.lat, self.lon, self.accuracy_m)


def _refused(status: int, retry: float = 0) -> JSONResponse:
    id_, en = REFUSED[status]
    return JSONResponse(
        {"error": f"{id_}. / {en}.", "kind": "LinkRefused"}, status_code=status, headers=_headers(retry)
    )


@router.post(PATH)
def link_report(token: str, body: LinkReportIn, request: Request, db: DB) -> Any:
    """A position and/or note from the page, for the link's call: 200 `{"ok": true, "expires_at": ...}`;
    404 an unknown link, 410 an expired one, 429 too often, 422 a position that locates no one."""
    wait = _gate(request, token)
    if wait:
        return _refused(429, wait)
    try:
        links.report(session=db, token=token, fix=body.fix(), note=body.note)
        expires_at = links.find(session=db, token=token).expires_at
    except links.TooSoon:
        return _refused(429, links.MIN_INTERVAL.seconds)
    except NotFound as exc:
        if wait := _missed(request):
            return _refused(429, wait)
        return _refused(410 if isinstance(exc, links.Expired) else 404)
    return JSONResponse({"ok": True, "expires_at": expires_at.isoformat()}, headers=_headers())
