"""Polling a CAP feed (TANGGAP_CAP_FEED_URL): a CAP <alert>, or an Atom/RSS feed of links to them (BMKG's
nowcast), every TANGGAP_CAP_FEED_INTERVAL_S seconds.

Offline-safe: a feed that cannot be reached, is slow, too large or not CAP is a warning in the log and the next
poll tries again; it never stops the server. What comes in goes through the same parser and service as a
supervisor's POST, and an alert is kept once however often the feed repeats it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from contextlib import suppress
from typing import Protocol
from xml.etree.ElementTree import Element, ParseError

import aiohttp
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from dispatch.alerts import service as alerts
from dispatch.alerts.parse import MAX_BYTES, parse
from dispatch.errors import DomainError
from ui.context import Ctx

log = logging.getLogger(__name__)
ATOM = "{http://www.w3.org/2005/Atom}"
MAX_LINKS = 50  # CAP documents fetched from one feed per poll
_REMEMBERED = 2000  # links already taken, not fetched again


class Fetch(Protocol):
    async def __call__(self, url: str) -> bytes: ...


class FeedError(Exception):
    """The feed could not be read this time."""


def http_fetch(session: aiohttp.ClientSession, *, timeout_s: float = 15) -> Fetch:
    async def fetch(url: str) -> bytes:
        try:
            async with asyncio.timeout(timeout_s), session.get(url) as answer:
                if answer.status != 200:
                    raise FeedError(f"HTTP {answer.status}")
                body = await answer.content.read(MAX_BYTES + 1)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise FeedError(type(exc).__name__) from None
        if len(body) > MAX_BYTES:
            raise FeedError(f"larger than {MAX_BYTES // 1024} KB")
        return body

    return fetch


def links(document: bytes) -> list[str] | None:
    """The CAP links of an Atom or RSS feed; None when the document is itself a CAP alert (or not a feed)."""
    try:
        root: Element = fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError):
        return None
    if root.tag == f"{ATOM}feed":
        found = [
            link.get("href", "")
            for entry in root.findall(f"{ATOM}entry")
            for link in entry.findall(f"{ATOM}link")
            if link.get("rel", "alternate") in ("alternate", "related") or "cap" in link.get("type", "")
        ]
    elif root.tag == "rss":
        found = [(item.findtext("link") or "").strip() for item in root.iter("item")]
    else:
        return None
    return [url for url in found if url.startswith(("http://", "https://"))][:MAX_LINKS]


class FeedPoller:
    """One poll at a time; tests call `poll_once` with a fetch of their own."""

    def __init__(self, ctx: Ctx, url: str, fetch: Fetch) -> None:
        self.ctx, self.url, self.fetch = ctx, url, fetch
        self.taken: OrderedDict[str, None] = OrderedDict()

    async def poll_once(self) -> int:
        """Fetch the feed and take what it holds; the number of alerts created or changed."""
        try:
            document = await self.fetch(self.url)
        except FeedError as exc:
            log.warning("CAP feed %s could not be read (%s); trying again later", self.url, exc)
            return 0
        found = links(document)
        if found is None:
            return await self._take(document, self.url) or 0
        changed = 0
        for url in found:
            if url in self.taken:
                continue
            try:
                taken = await self._take(await self.fetch(url), url)
            except FeedError as exc:
                log.warning("CAP document %s could not be read (%s)", url, exc)
                continue
            if taken is None:
                continue  # not stored this time: fetched again next poll
            changed += taken
            self.taken[url] = None
            while len(self.taken) > _REMEMBERED:
                self.taken.popitem(last=False)
        return changed

    async def _take(self, document: bytes, url: str) -> int | None:
        """1 when an alert was created or changed, 0 when not (a repeat, or refused for good), None when it could
        not be stored this time."""

        def take() -> int:
            message = parse(document)
            with self.ctx.sessions() as session:
                decision = alerts.ingest(
                    session=session,
                    geo_dir=self.ctx.region.pack.geo_dir,
                    message=message,
                    source="feed",
                    actor="cap-feed",
                )
            return 0 if decision.action == "unchanged" else 1

        try:
            return await asyncio.to_thread(take)
        except DomainError as exc:
            log.warning("CAP document from %s refused: %s", url, exc.message)
            return 0
        except Exception as exc:  # a database that blinked: the next poll takes it again
            log.warning("CAP document from %s not taken (%s); trying again next poll", url, type(exc).__name__)
            return None


async def poll_forever(ctx: Ctx, stop: asyncio.Event) -> None:
    """Poll the configured feed until `stop` is set; the first poll right away."""
    url, every = ctx.settings.cap_feed_url, ctx.settings.cap_feed_interval_s
    if not url:
        return
    log.info("CAP feed %s polled every %g s", url, every)
    async with aiohttp.ClientSession(headers={"Accept": "application/xml, application/atom+xml"}) as session:
        poller = FeedPoller(ctx, url, http_fetch(session))
        while not stop.is_set():
            try:
                await poller.poll_once()
            except Exception:  # never the server's end: logged, and the next poll tries again
                log.exception("CAP feed poll failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
