"""Reading the PBX's fallback journal: calls the dialplan took while no bridge was connected.

When `Stasis()` fails (no bridge connected, or the app was given to another connection), the sample dialplan
rings the desk phones itself and writes a trace of the call into AstDB, Asterisk's own store on the PBX's disk
(config/asterisk/extensions.conf, `[tanggap-fallback]`): family `<install>-fallback`, key the caller channel's
uniqueid, value `caller=<number>&start=<epoch>` then `&answered=<epoch>&desk=<endpoint>` and
`&end=<epoch>&cause=<HANGUPCAUSE>`. It needs nothing of ours to be running, survives an Asterisk restart, and
is read over ARI from wherever the bridge runs: ARI evaluates dialplan functions (`DB_KEYS`, `DB`,
`DB_DELETE`) on a channel's variable endpoint, so the reader originates a Local channel into `[tanggap-journal]`
(it only waits), reads through it, and hangs it up. A trace is forgotten (`DB_DELETE`) only once its call has
ended and been recorded, so a crash in between reads it again, and recording it again changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qs

from dispatch.calls.records import FallbackCall
from telephony.ari.client import AriClient, AriError

log = logging.getLogger(__name__)
CONTEXT, EXTENSION = "tanggap-journal", "read"


def parse(key: str, value: str) -> FallbackCall | None:
    """One trace; None (and a warning) for one that is not ours or cannot be read."""
    fields = {k: v[0] for k, v in parse_qs(value, keep_blank_values=True).items() if v}
    start = _epoch(fields.get("start"))
    if start is None:
        log.warning("fallback journal entry %s has no start time; left in the journal", key)
        return None
    return FallbackCall(
        channel_id=key,
        caller=fields.get("caller") or None,
        started_at=start,
        answered_at=_epoch(fields.get("answered")),
        desk=fields.get("desk") or None,
        ended_at=_epoch(fields.get("end")),
        cause=fields.get("cause") or None,
    )


def _epoch(raw: str | None) -> datetime | None:
    if not raw or not raw.isdigit():
        return None
    return datetime.fromtimestamp(int(raw), tz=UTC)


class Journal:
    """The fallback journal of one installation, read through a reader channel."""

    def __init__(self, client: AriClient, install: str) -> None:
        self.client, self.family, self.install = client, f"{install}-fallback", install

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[Reader]:
        channel_id = f"{self.install}-journal-{uuid.uuid4().hex[:12]}"
        await self.client.originate_dialplan(
            endpoint=f"Local/{EXTENSION}@{CONTEXT}", context=CONTEXT, extension=EXTENSION, channel_id=channel_id
        )
        try:
            yield Reader(self.client, channel_id, self.family)
        finally:
            with contextlib.suppress(AriError):
                await self.client.hangup(channel_id)


class Reader:
    def __init__(self, client: AriClient, channel_id: str, family: str) -> None:
        self.client, self.channel_id, self.family = client, channel_id, family

    async def traces(self) -> list[FallbackCall]:
        keys = await self.client.variable(self.channel_id, f"DB_KEYS({self.family})") or ""
        found = []
        for key in filter(None, keys.split(",")):
            value = await self.client.variable(self.channel_id, f"DB({self.family}/{key})")
            trace = parse(key, value or "")
            if trace is not None:
                found.append(trace)
        return found

    async def forget(self, channel_id: str) -> None:
        await self.client.variable(self.channel_id, f"DB_DELETE({self.family}/{channel_id})")
