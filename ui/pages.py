"""The console's pages and static files, served by the app itself: no CDN, so it runs on a LAN without internet.

Pages are static HTML shells; their scripts load data from the API. Static files are sent gzip-compressed when
the browser accepts it (a responder on a weak mobile link) and revalidated by ETag.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, unquote, urlencode, urlsplit

import fastapi_offline
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from ui.access import Level, allows
from ui.deps import get_db, user_for

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
I18N = HERE / "i18n" / "messages.json"
# Swagger UI's own files, as the fastapi-offline package ships them: /docs works on a LAN without internet, and
# under the console's CSP (nothing from elsewhere, no inline script).
DOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")

# Who may open each page (an access level of `ui.access`), and where each role lands after logging in.
PAGES: dict[str, Level] = {
    "console": "staff",
    "responder": "responder",
    "supervisor": "supervisor",
    "docs": "staff",  # the API's documentation
    "opd": "opd",  # an agency's desk: its referred complaints
}
HOME = {
    "call_taker": "/console",
    "dispatcher": "/console",
    "responder": "/responder",
    "supervisor": "/supervisor",
    "admin": "/supervisor",
    "opd": "/opd",
}
# Files the pages cannot work without that come from npm (scripts/build_console.sh).
VENDORED = ("vendor/leaflet/leaflet.js", "vendor/chart.js/chart.umd.min.js")

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = (".html", ".js", ".css", ".json", ".svg", ".txt", ".md")

DB = Annotated[Session, Depends(get_db)]


@router.get("/")
def home(request: Request, db: DB) -> Response:
    user = user_for(db, request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME.get(user.role, "/login?role=none"), status_code=303)


# Control characters and backslashes: browsers drop tabs and newlines from a URL and read "\\" as "/", so
# "/\t/evil.example" or "/\\evil.example" would leave this server.
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f\\]")


def _path_only(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//") or _UNSAFE_IN_PATH.search(value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_next(raw: str | None) -> str:
    """Where to go after logging in: `raw` if it is a path on this server, else "/". It must start with one
    "/" (not "//" or "/\\"), name no scheme or host, and hold no control character or backslash, and so must
    every further percent-decoding of it (the login page's script applies the same rules)."""
    value = raw or "/"
    for _ in range(4):
        if not _path_only(value):
            return "/"
        decoded = unquote(value)
        if decoded == value:
            return raw or "/"
        value = decoded
    return "/"  # still encoded four times over: nobody's page


@router.get("/login")
def login_page(request: Request) -> Response:
    raw = request.query_params.get("next")
    if raw is not None and safe_next(raw) != raw:
        # Dropped here too, not only by the page's script: the address bar no longer shows it.
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "next"]
        return RedirectResponse("/login" + (f"?{urlencode(rest)}" if rest else ""), status_code=303)
    return _file(request, STATIC / "pages" / "login.html", page=True)


@router.get("/docs")
def docs_page(request: Request, db: DB) -> Response:
    """Swagger UI over /openapi.json, for logged-in staff; "Try it out" sends their session cookie."""
    return _page("docs", request, db)


@router.get("/docs/assets/{name}")
def docs_asset(name: str, request: Request) -> Response:
    if name not in DOCS_FILES:
        raise HTTPException(404, f"{name} not found")
    return _file(request, DOCS_ASSETS / name)


@router.get("/console")
def console_page(request: Request, db: DB) -> Response:
    return _page("console", request, db)


@router.get("/responder")
def responder_page(request: Request, db: DB) -> Response:
    return _page("responder", request, db)


@router.get("/supervisor")
def supervisor_page(request: Request, db: DB) -> Response:
    return _page("supervisor", request, db)


@router.get("/opd")
def opd_page(request: Request, db: DB) -> Response:
    return _page("opd", request, db)


@router.get("/i18n.json")
def translations(request: Request) -> Response:
    return _file(request, I18N)


@router.get("/static/{path:path}")
def static(path: str, request: Request) -> Response:
    file = (STATIC / path).resolve()
    hidden = any(part.startswith(".") for part in Path(path).parts)
    if hidden or not file.is_relative_to(STATIC) or not file.is_file() or file.suffix not in TYPES:
        if path.startswith("vendor/"):
            raise HTTPException(404, f"{path} is not built: run scripts/build_console.sh")
        raise HTTPException(404, f"{path} not found")
    return _file(request, file)


def _page(name: str, request: Request, db: Session) -> Response:
    user = user_for(db, request)
    if user is None:
        return RedirectResponse(f"/login?next={quote('/' + name)}", status_code=303)
    if not allows(PAGES[name], user.role):
        return RedirectResponse(HOME.get(user.role, "/login?role=none"), status_code=303)
    _warn_unbuilt()
    return _file(request, STATIC / "pages" / f"{name}.html", page=True)


@lru_cache(maxsize=1)
def _warn_unbuilt() -> None:
    missing = [p for p in VENDORED if not (STATIC / p).is_file()]
    if missing:
        log.warning("console assets missing (%s): run scripts/build_console.sh", ", ".join(missing))


def _file(request: Request, file: Path, *, page: bool = False) -> Response:
    stat = file.stat()
    body, packed, etag = _load(str(file), stat.st_mtime_ns, stat.st_size)
    # Pages always come fresh (they carry no data, but a new release must show at once); assets revalidate.
    headers = {"etag": etag, "cache-control": "no-store" if page else "no-cache", "vary": "accept-encoding"}
    if not page and etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    media = TYPES.get(file.suffix, "application/octet-stream")
    if packed is not None and "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type=media, headers={**headers, "content-encoding": "gzip"})
    return Response(body, media_type=media, headers=headers)


@lru_cache(maxsize=256)
def _load(path: str, _mtime_ns: int, _size: int) -> tuple[bytes, bytes | None, str]:
    """Read (and compress) a file once per version of it; the cache key changes when the file does."""
    body = Path(path).read_bytes()
    packed = gzip.compress(body, 9, mtime=0) if path.endswith(_COMPRESSIBLE) and len(body) > 512 else None
    return body, packed, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
