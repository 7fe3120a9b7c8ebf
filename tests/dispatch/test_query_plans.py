"""The queries that run all day read through an index, whatever the size of the tables.

A year of a city's 112 line is about a million calls and ten million events. SQLite plans a query without
looking at the data (no `ANALYZE` here), so a plan read on an empty database is the plan it keeps: a `SCAN`
of a growing table is a query that gets slower every day. Each case runs the real function on SQLite and
reads the plan of every statement it sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.orm import Session

from dispatch.calls import intake, locations, messages, queue
from dispatch.calls import service as calls
from dispatch.calls.service import Ringing
from dispatch.incidents import service as incidents
from dispatch.models import Base
from dispatch.reports import calls as call_reports
from dispatch.reports.period import Period

# A scan of a growing table, or a search by a column that nearly every row shares (the provider of a call,
# the type of an event, should an index on it come back): both read rows by the million.
WHOLE_TABLE = re.compile(
    r"SCAN (calls|events|incidents|assignments|caller_locations|referrals|call_messages)\b"
    r"|SEARCH calls USING (COVERING )?INDEX sqlite_autoindex_calls_1 \(provider=\?\)$"
    r"|SEARCH events USING (COVERING )?INDEX ix_events_type\b"
)


def plans(tmp_path: Path, run: Callable[[Session], object]) -> list[str]:
    """Every step of the plans of the statements `run` sent (INSERTs have no plan worth reading)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    Base.metadata.create_all(engine)
    sent: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, params, *_: sent.append((sql, params)))
    with Session(engine) as session:
        run(session)
    with engine.connect() as conn:
        steps = [
            row[3]
            for sql, params in sent
            if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        ]
    engine.dispose()
    return steps


QUERIES: dict[str, Callable[[Session], object]] = {
    # Every offer asks which of its channels are known. By channel alone the lookup read every call ever taken
    # (the unique index starts with the provider).
    "new calls": lambda s: calls.offer_many(
        session=s, ringing=[Ringing("081234567890", "asterisk", "a"), Ringing(None, "asterisk", "b")], actor="t"
    ),
    # The console's list of live calls, and the bridge's reconciliation after a reconnect: "not ended" read
    # every call ever taken.
    "live calls": lambda s: calls.active(session=s),
    "a bridge's live calls": lambda s: intake.live(session=s, provider="asterisk"),
    "the queue": lambda s: calls.waiting(session=s),
    "the head of the queue": lambda s: queue.head(session=s, limit=50),
    # The ACD asks which waiting calls are ringing a taker, every pass. Through the index on the event type
    # SQLite read every `call.connecting` ever written: 130 ms a pass after 200,000 calls.
    "reservations": lambda s: queue.reservations(session=s, call_ids=[1, 2, 3]),
    "callbacks": lambda s: calls.callbacks(session=s),
    # Every AML SMS looks for the caller's call: through the caller's own calls, not every call.
    "an AML's call": lambda s: locations.current_call_for(session=s, caller="081234567890"),
    # Every SMS to 112 asks whether it was seen before (a retried webhook) and for the sender's live text call.
    "an SMS to 112": lambda s: messages.receive(
        session=s, provider="sms", message_id="SM1", caller="081234567890", dialled="112", text="Tolong", actor="t"
    ),
    "a text call's conversation": lambda s: messages.for_call(session=s, call_id=1),
    "open incidents": lambda s: incidents.open_incidents(session=s),
    # The supervisor's recordings: the period's newest, through the index on the time offered.
    "recordings": lambda s: call_reports.recordings(
        session=s, period=Period(date(2026, 11, 1), date(2026, 11, 7), ZoneInfo("Asia/Jakarta"))
    ),
    # The supervisor's chart: a count a day, each through the index on the time offered.
    "the daily call mix": lambda s: call_reports.call_mix_daily(
        session=s, period=Period(date(2026, 11, 1), date(2026, 11, 7), ZoneInfo("Asia/Jakarta"))
    ),
}


@pytest.mark.parametrize("name", QUERIES)
def test_no_query_of_the_day_reads_a_whole_growing_table(tmp_path: Path, name: str) -> None:
    steps = plans(tmp_path, QUERIES[name])
    assert steps, "no statement was sent"
    assert not [step for step in steps if WHOLE_TABLE.search(step)], steps


def test_the_callback_list_reads_the_newest_abandoned_calls_and_stops(tmp_path: Path) -> None:
    """Sorting is reading them all: every abandoned call ever taken, to show the newest 200."""
    steps = plans(tmp_path, QUERIES["callbacks"])
    assert not [step for step in steps if "TEMP B-TREE" in step], steps
