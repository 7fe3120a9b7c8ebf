"""The CAP feed poller: a feed of links or a single alert is taken once; a feed that fails is a warning, never a
crash. Only the network edge is replaced (`fetch`), except where the real client meets a closed port."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from dispatch.alerts import service as alerts
from tests.cap_samples import fresh
from ui.alert_feed import FeedError, FeedPoller, http_fetch, links
from ui.context import Ctx

ROOT = Path(__file__).resolve().parents[2]
ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Peringatan Dini Cuaca</title>
<entry><title>Sumatera Barat</title><link href="https://feed.test/CSB20240415003_alert.xml"/></entry>
<entry><title>Jawa Timur</title><link href="https://feed.test/CJI20240415007_alert.xml"/></entry>
<entry><title>Rusak</title><link href="https://feed.test/broken.xml"/></entry></feed>"""
RSS = b"""<rss version="2.0"><channel><title>BMKG</title>
<item><title>Sumatera Barat</title><link>https://feed.test/CSB20240415003_alert.xml</link></item></channel></rss>"""


def poller(ctx: Ctx, pages: dict[str, bytes], asked: list[str]) -> FeedPoller:
    async def fetch(url: str) -> bytes:
        asked.append(url)
        if url not in pages:
            raise FeedError("HTTP 404")
        return pages[url]

    return FeedPoller(ctx, "https://feed.test/rss", fetch)


def test_links_of_atom_and_rss_and_none_for_cap() -> None:
    assert links(ATOM) == [f"https://feed.test/{n}" for n in ("CSB20240415003_alert.xml", "CJI20240415007_alert.xml",
                                                             "broken.xml")]  # fmt: skip
    assert links(RSS) == ["https://feed.test/CSB20240415003_alert.xml"]
    assert links(fresh("bmkg_cuaca_padang.xml")) is None


def test_a_feed_of_links_is_taken_once(ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    pages = {
        "https://feed.test/rss": ATOM,
        "https://feed.test/CSB20240415003_alert.xml": fresh("bmkg_cuaca_padang.xml"),
        "https://feed.test/CJI20240415007_alert.xml": fresh("bmkg_cuaca_jatim.xml"),
        "https://feed.test/broken.xml": b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>',
    }
    asked: list[str] = []
    feed = poller(ctx, pages, asked)
    with caplog.at_level(logging.WARNING):
        assert asyncio.run(feed.poll_once()) == 2
    assert "refused" in caplog.text and "DTD" in caplog.text
    asked.clear()
    assert asyncio.run(feed.poll_once()) == 0
    assert asked == ["https://feed.test/rss"]  # what was taken is not fetched again
    with ctx.sessions() as session:
        taken = alerts.listing(session=session)
        assert sorted(a.identifier for a in taken) == ["CJI20240415007", "CSB20240415003"]
        assert {a.source for a in taken} == {"feed"}


def test_a_feed_that_is_one_alert(ctx: Ctx) -> None:
    asked: list[str] = []
    feed = poller(ctx, {"https://feed.test/rss": fresh("bmkg_gempa_padang.xml")}, asked)
    assert asyncio.run(feed.poll_once()) == 1 and asyncio.run(feed.poll_once()) == 0


def test_a_feed_that_cannot_be_reached_is_a_warning(ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there

    async def once() -> int:
        async with aiohttp.ClientSession() as session:
            return await FeedPoller(ctx, f"http://127.0.0.1:{port}/cap", http_fetch(session, timeout_s=3)).poll_once()

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(once()) == 0
    assert "could not be read" in caplog.text


def test_the_cli_imports_an_alert_file(database_url: str, tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(ROOT), "TANGGAP_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    tanggap = [sys.executable, "-m", "ui.cli"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*tanggap, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert run("db", "upgrade").returncode == 0
    alert = tmp_path / "gempa.xml"
    alert.write_bytes(fresh("bmkg_gempa_padang.xml"))
    first, again = run("alerts", "import", str(alert)), run("alerts", "import", str(alert))
    assert first.returncode == 0 and "created" in first.stdout and "applies to the region" in first.stdout
    assert again.returncode == 0 and "unchanged" in again.stdout
    hostile = tmp_path / "hostile.xml"
    hostile.write_bytes(b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>')
    refused = run("alerts", "import", str(hostile))
    assert refused.returncode == 2 and "Dokumen CAP ditolak" in refused.stderr
    assert run("alerts", "import", str(tmp_path / "missing.xml")).returncode == 2
