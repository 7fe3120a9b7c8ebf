"""What the database can hold, as types for the API's paths, queries and bodies: an id, a sequence number, a day
or a moment out of range is refused at the edge (422), never handed to the database (SQLite's overflow,
PostgreSQL's NumericValueOutOfRange) or to Python's date arithmetic (OverflowError past the year 9999)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator

INT32_MAX = 2**31 - 1  # INTEGER on PostgreSQL: every id column (SQLite's are wider)
INT64_MAX = 2**63 - 1  # BIGINT: the event log's sequence numbers
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)  # no call of this system is older or newer

Id = Annotated[int, Ge(1), Le(INT32_MAX)]
Seq = Annotated[int, Ge(0), Le(INT64_MAX)]
Day = Annotated[date, Ge(FIRST_DAY), Le(LAST_DAY)]


def _sane(value: datetime) -> datetime:
    # The year is checked as given, before any conversion: 9999-12-31T23:59-12:00 cannot even be turned into UTC.
    if not FIRST_DAY.year <= value.year <= LAST_DAY.year:
        raise ValueError(f"must lie between {FIRST_DAY.year} and {LAST_DAY.year}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# A moment a client or the bridge reports (a call offered, answered or ended, a GPS fix): naive is UTC. Whether
# it lies in the future is for the service to say (`dispatch.clock.not_ahead`): it knows the time.
Stamp = Annotated[datetime, AfterValidator(_sane)]
