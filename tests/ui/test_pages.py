"""The console's pages and static files: who may open what, how files are served, the CSP-safe markup and
the one translation table (every text the pages use, in Bahasa Indonesia and English)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from ui.pages import STATIC

Headers = dict[str, dict[str, str]]
I18N = Path(__file__).resolve().parents[2] / "ui" / "i18n" / "messages.json"
PAGES = sorted((STATIC / "pages").glob("*.html"))
SCRIPTS = sorted(p for p in (STATIC / "js").rglob("*.js"))
# Keys built at run time from a code (`t(\`class.${kind}\`)`): every value the code can take must be there.
FAMILIES = {
    "class": ("emergency", "information", "prank", "ghost", "abandoned", "unclassified", "none"),
    "call.status": ("offered", "answered", "ended"),
    "conn": ("connecting", "live", "reconnecting", "offline"),
    "role": ("call_taker", "dispatcher", "responder", "supervisor", "admin", "telephony"),
    "istatus": ("new", "dispatched", "on_scene", "closed"),
    "astatus": (
        "dispatched",
        "acknowledged",
        "en_route",
        "on_scene",
        "transporting",
        "at_hospital",
        "cleared",
        "cancelled",
        "available",
        "out_of_service",
    ),
    "ustatus": (
        "available",
        "dispatched",
        "acknowledged",
        "en_route",
        "on_scene",
        "transporting",
        "at_hospital",
        "out_of_service",
    ),
    "rstatus": ("referred", "in_progress", "done", "rejected"),
    "ref": ("to_in_progress", "to_done", "to_rejected"),
    "resp.step": ("acknowledged", "en_route", "on_scene", "transporting", "at_hospital", "cleared"),
    "resp.refused": ("InvalidTransition", "Invalid", "Forbidden", "NotFound", "ValidationError", "other"),
    "interval": ("answering", "processing", "turnout", "travel", "total"),
    "sup.by": ("all", "agency", "type", "kecamatan"),
    "taker": ("available", "on_call", "away"),
    "source": ("aml", "gazetteer", "map", "caller", "unit", "history", "manual"),
    "kind": ("damkar", "psc119", "bpbd", "polisi", "basarnas", "satpolpp", "dishub", "dlh", "pupr"),
}


def table() -> dict[str, dict[str, str]]:
    return dict(json.loads(I18N.read_text(encoding="utf-8")))


def used_keys() -> set[str]:
    keys: set[str] = set()
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        keys |= set(re.findall(r"\bt\('([a-z0-9_.]+)'", text))
        keys |= set(re.findall(r"'((?:keys|assigned)\.[a-z0-9_.]+)'", text))
    for page in PAGES:
        keys |= set(re.findall(r'data-i18n(?:-[a-z]+)?="([a-z0-9_.]+)"', page.read_text(encoding="utf-8")))
    return keys


def test_every_text_is_in_the_table_in_both_languages() -> None:
    messages = table()
    wanted = used_keys() | {f"{family}.{value}" for family, values in FAMILIES.items() for value in values}
    assert sorted(wanted - set(messages)) == []
    for key, entry in messages.items():
        assert set(entry) == {"id", "en"}, key
        assert entry["id"].strip() and entry["en"].strip(), key
        assert set(re.findall(r"\{(\w+)\}", entry["id"])) == set(re.findall(r"\{(\w+)\}", entry["en"])), key


def test_markup_obeys_the_content_security_policy() -> None:
    for page in PAGES:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {page.name}"
        assert not re.search(r"\sstyle=", html), f"style attribute in {page.name}"
        assert not re.search(r"\son[a-z]+=", html), f"inline handler in {page.name}"
        assert "<style" not in html, page.name
        assert not re.search(r"(src|href)=\"(https?:)?//", html), f"off-site asset in {page.name}"
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        for danger in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert danger not in text, f"{danger} in {script.relative_to(STATIC)}"


def login(client: TestClient, make_user: object, role: str, unit: str | None = None) -> None:
    username = f"page-{role}"
    make_user(role, username=username, unit=unit)  # type: ignore[operator]
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("role", "unit", "home"),
    [
        ("call_taker", None, "/console"),
        ("dispatcher", None, "/console"),
        ("supervisor", None, "/supervisor"),
        ("admin", None, "/supervisor"),
        ("responder", "DAMKAR-01-PMK1", "/responder"),
        ("telephony", None, "/login?role=none"),
    ],
)
def test_each_role_lands_on_its_page(
    client: TestClient, make_user: object, role: str, unit: str | None, home: str
) -> None:
    login(client, make_user, role, unit)
    r = client.get("/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, home)


def test_pages_need_a_login_and_the_right_role(client: TestClient, make_user: object) -> None:
    for page in ("console", "responder", "supervisor"):
        r = client.get(f"/{page}", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, f"/login?next=/{page}")
    login(client, make_user, "call_taker")
    r = client.get("/console")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/console/main.js">' in r.text
    for page, target in (("supervisor", "/console"), ("responder", "/console")):
        r = client.get(f"/{page}", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, target)
    assert client.get("/login").status_code == 200


def test_static_files_are_compressed_and_revalidated(client: TestClient) -> None:
    r = client.get("/static/js/lib/api.js", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    assert "export async function api" in r.text  # the client inflated it
    raw = client.get("/static/js/lib/api.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)
    again = client.get("/static/js/lib/api.js", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304
    translations = client.get("/i18n.json")
    assert translations.json()["logout"] == {"id": "Keluar", "en": "Log out"}


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pages.py",
        "/static/%2e%2e/pages.py",
        "/static/vendor/.gitignore",
        "/static/pages/nothing.html",
        "/static/js",
        "/static/vendor/nothing/nothing.js",
    ],
)
def test_nothing_outside_the_static_files_is_served(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    if "vendor/nothing" in path:
        assert "scripts/build_console.sh" in r.json()["error"]


def test_no_framework_or_cdn_on_the_responder_page() -> None:
    html = (STATIC / "pages" / "responder.html").read_text(encoding="utf-8")
    assert "vendor/" not in html  # no Leaflet, no chart library: the phone page stays small
