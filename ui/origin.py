"""Did a request come from this server's own pages? The check between a cookie session and other sites.

A page on another site, or on another port of this host (`SameSite=Strict` counts those as the same site), can
make the browser send the session cookie with a body-less POST or open `/ws` with it, but it cannot set an
`Authorization` header and it cannot hide its `Origin`. So a state-changing request or a websocket that
authenticates by cookie must come from one of the server's own origins: its public URL (`TANGGAP_PUBLIC_URL`),
the address it was reached at (the `Host` header), or its bind address. A request without `Origin` (curl, old
clients) is let through unless `Sec-Fetch-Site` says another site sent it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import HTTPException
from fastapi.requests import HTTPConnection

from config.settings import Settings

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` as a browser writes an Origin (lower case, no default port), None if not http(s)."""
    parts = urlsplit(url.strip())
    scheme = _SCHEMES.get(parts.scheme.lower())
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number
        return None
    if scheme is None or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def own_origins(conn: HTTPConnection, settings: Settings) -> set[str]:
    found = {origin_of(f"{conn.url.scheme}://{conn.headers.get('host', '')}")}
    if settings.public_url:
        found.add(origin_of(settings.public_url))
    if settings.host not in _WILDCARDS:
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        found.add(origin_of(f"http://{host}:{settings.port}"))
    return {o for o in found if o is not None}


def foreign(conn: HTTPConnection, settings: Settings) -> str | None:
    """The other site this request says it came from, or None (one of ours, or it does not say)."""
    sent = conn.headers.get("origin")
    if sent is None:
        site = conn.headers.get("sec-fetch-site", "").lower()
        return f"Sec-Fetch-Site: {site}" if site in ("cross-site", "same-site") else None
    return None if origin_of(sent) in own_origins(conn, settings) else sent


def refusal(who: str) -> str:
    return (
        f"Permintaan dari situs lain ditolak ({who}): buka Tanggap 112 dari alamatnya sendiri; di balik proxy, "
        f"atur TANGGAP_PUBLIC_URL. / Cross-origin request refused ({who}): use Tanggap 112 from its own "
        "address; behind a proxy, set TANGGAP_PUBLIC_URL."
    )


def forbid_cross_site(conn: HTTPConnection) -> None:
    """403 for a state-changing HTTP request that another site made (for a cookie session: `ui.deps`)."""
    if conn.scope["type"] != "http" or conn.scope["method"] not in UNSAFE:
        return
    who = foreign(conn, conn.app.state.ctx.settings)
    if who is not None:
        raise HTTPException(403, refusal(who))
