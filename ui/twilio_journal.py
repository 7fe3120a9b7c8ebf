"""A Twilio caller never hears an error because the database blinked: each webhook's database step
(ui/twilio_steps.py) is retried once on a dropped connection, and if the database still cannot be reached the
webhook is kept in a local journal (telephony/spool.py) and the caller answered all the same. The server replays
the journal, in order and at the times the webhooks came in, as soon as the database answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from dispatch.errors import DomainError
from telephony.spool import Entry, Spool, SpoolUnwritable
from ui.context import Ctx
from ui.twilio_steps import JOURNALED, STEPS, Hook

log = logging.getLogger(__name__)
RETRY_PAUSE_S = 0.3  # a dropped connection is tried again once, after this (pool pre-ping then reconnects)
DOWN_FOR_S = 2.0  # after the database failed twice, webhooks go straight to the journal for this long
REPLAY_EVERY_S = 1.0
BATCH = 50  # entries a replay applies before it lets a webhook's own replay in
REFUSALS = 3  # an entry the database refuses (not: cannot be reached) this often in a row is set aside
FIRST_WAIT_S = 2.0  # how long a webhook waits for a replay running elsewhere before it joins the journal


@dataclass(frozen=True)
class Deferred:
    """The step did not run (the database could not be reached); `kept`: the webhook is in the journal."""

    kept: bool


def dropped(exc: BaseException) -> bool:
    """The database connection failed or went away (server restarting, network), as opposed to a statement
    the database refused: worth one more try, and, failing that, the journal."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | PoolTimeout)


def _same_caller(hook: Hook) -> Callable[[Entry], bool]:
    """The entries a webhook's own step must follow: those of its call or message, and for an SMS those of its
    sender too (an AML report needs the call it belongs to, and texts join a conversation in order)."""
    sender = hook.form.get("From") if hook.route == "sms" else None

    def match(entry: Entry) -> bool:
        return entry.get("sid") == hook.sid or (sender is not None and entry.get("form", {}).get("From") == sender)

    return match


class TwilioJournal:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.spool = Spool(ctx.settings.journal_dir, "twilio")
        # Entries a replay could not apply for a reason other than the database (a bug): kept for a person to
        # look at, out of the way of the others.
        self.set_aside = Spool(ctx.settings.journal_dir, "twilio.rejected")
        self._down_until = 0.0
        self._refusals: dict[tuple[str, str, object], int] = {}

    def down(self) -> bool:
        return time.monotonic() < self._down_until

    async def run(self, hook: Hook) -> Any:
        """The webhook's step (after the journal's entries for its call, if any), or `Deferred`."""
        if self.down():  # failed twice a moment ago: the caller is not kept waiting for it to fail again
            return await self._defer(hook, "the database is down")
        if not self.spool.empty() and await asyncio.to_thread(self.spool.find, _same_caller(hook)):
            if not await asyncio.to_thread(self._replay_first, hook):
                return await self._defer(hook, "earlier steps of this call wait in the journal")
        for attempt in (1, 2):
            try:
                result = await asyncio.to_thread(self._apply, hook)
            except SQLAlchemyError as exc:
                if attempt == 1 and dropped(exc):
                    log.warning("Twilio %s %s: database connection lost (%s); trying once more",
                                hook.route, hook.sid, type(exc).__name__)  # fmt: skip
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                if dropped(exc):
                    self._down_until = time.monotonic() + DOWN_FOR_S
                return await self._defer(hook, type(exc).__name__)  # its text may quote a caller's number
            self._down_until = 0.0
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _apply(self, hook: Hook) -> Any:
        with self.ctx.sessions() as session:
            return STEPS[hook.route](session, hook)

    def _replay_first(self, hook: Hook) -> bool:
        """Replay this call's waiting entries (an offer before its status); False if some are still waiting."""
        match = _same_caller(hook)
        done = self.spool.replay_some(self._replay, only=match, wait_s=FIRST_WAIT_S)
        return not done.stopped and not self.spool.find(match)

    async def _defer(self, hook: Hook, why: str) -> Deferred:
        if hook.route not in JOURNALED:
            log.info("Twilio %s %s answered without the database (%s)", hook.route, hook.sid, why)
            return Deferred(kept=False)
        if hook.route == "voice" and self.ctx.settings.twilio_fallback_numbers:
            hook = replace(hook, desks=True)
        try:
            await asyncio.to_thread(self.spool.append, hook.entry())
        except SpoolUnwritable:
            log.warning("Twilio %s %s is lost: the journal cannot be written (%s)", hook.route, hook.sid, why)
            return Deferred(kept=False)
        log.info("Twilio %s %s kept in the journal (%s)", hook.route, hook.sid, why)
        return Deferred(kept=True)

    # -- replay -------------------------------------------------------------------------------------------

    def _replay(self, entry: Entry) -> None:
        """Apply one entry. Raises (and the replay stops, the entry kept) only while the database fails."""
        try:
            hook = Hook.of(entry)
        except (KeyError, TypeError, ValueError) as exc:
            self._put_aside(entry, f"unreadable entry ({exc})")
            return
        try:
            self._apply(hook)
        except DomainError as exc:
            # What the live webhook would have answered 4xx (a reply or call that does not exist): nothing to do.
            log.warning("journal: Twilio %s %s refused on replay (%s); dropped", hook.route, hook.sid, exc.message)
        except SQLAlchemyError as exc:
            if dropped(exc):
                self._down_until = time.monotonic() + DOWN_FOR_S
                raise
            # Refused by the database itself: a race with a live webhook passes on the next try; a statement that
            # can never pass must not hold every later entry back for ever.
            key = (hook.route, hook.sid, entry.get("at"))
            self._refusals[key] = self._refusals.get(key, 0) + 1
            if self._refusals[key] < REFUSALS:
                raise
            del self._refusals[key]
            self._put_aside(entry, f"{type(exc).__name__} {REFUSALS} times")
        except Exception as exc:
            log.exception("journal: Twilio %s %s failed on replay", hook.route, hook.sid)
            self._put_aside(entry, type(exc).__name__)
        else:
            self._down_until = 0.0

    def _put_aside(self, entry: Entry, why: str) -> None:
        """Out of the journal into `twilio.rejected.jsonl`, or, if that cannot be written, kept (raises)."""
        self.set_aside.append({**entry, "rejected": why})
        log.error("journal: a Twilio %s entry was set aside in %s (%s)", entry.get("route"), self.set_aside.path, why)

    def replay(self) -> int:
        """Replay what waits, in batches; the number of entries applied. Blocking: run it in a thread."""
        applied = 0
        while not self.spool.empty():
            done = self.spool.replay_some(self._replay, limit=BATCH)
            applied += done.applied
            if done.stopped or not done.applied:
                break
        if applied:
            log.info("journal: %d Twilio steps replayed into the database, %d wait", applied, self.spool.pending())
        return applied

    async def replay_forever(self, stop: asyncio.Event) -> None:
        """Every `REPLAY_EVERY_S` until `stop`: replay the journal if it holds anything (two `stat`s when it does
        not), and while it cannot be written, try whether it can again (a failed append is the alarm)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REPLAY_EVERY_S)
            if stop.is_set():
                return
            try:
                if self.spool.error is not None:
                    await asyncio.to_thread(self.spool.probe)
                if not self.spool.empty():
                    await asyncio.to_thread(self.replay)
            except Exception:
                log.exception("journal replay failed; trying again in %.0f s", REPLAY_EVERY_S)

    def health(self) -> dict[str, Any]:
        """For /healthz: "down" when the journal cannot be written, "degraded" while entries wait (or some were
        set aside), else "ok"."""
        pending, rejected = self.spool.pending(), self.set_aside.pending()
        state = "down" if self.spool.error else "degraded" if pending or rejected else "ok"
        out: dict[str, Any] = {"status": state, "pending": pending, "error": self.spool.error}
        if rejected:
            out["rejected"] = rejected
        return out


def journal_of(app: FastAPI) -> TwilioJournal:
    journal: TwilioJournal | None = getattr(app.state, "twilio_journal", None)
    if journal is None:
        journal = app.state.twilio_journal = TwilioJournal(app.state.ctx)
    return journal
