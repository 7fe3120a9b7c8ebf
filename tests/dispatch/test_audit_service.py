"""The access audit's table: rows are added and read, never changed or removed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.audit import service as audit
from dispatch.audit.models import Access, AccessAction
from dispatch.errors import Invalid

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def entry(action: AccessAction = AccessAction.full_number_seen, username: str = "taker1", **kw: object) -> audit.Entry:
    values: dict[str, object] = {"user_id": 7, "role": "call_taker", "subject": "GET /api/v1/calls", "at": T0, **kw}
    return audit.Entry(action, username=username, **values)  # type: ignore[arg-type]


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Access)) or 0)


def test_a_row_keeps_who_what_when_and_from_where(session: Session) -> None:
    audit.record(session=session, entries=[entry(call_ids=[17, 3, 17], address="10.1.2.3")])
    (row,) = audit.listing(session=session).rows
    assert audit.data(row) == {
        "id": row.id,
        "at": T0.isoformat(),
        "user_id": 7,
        "username": "taker1",
        "role": "call_taker",
        "action": "full_number_seen",
        "subject": "GET /api/v1/calls",
        "call_ids": [3, 17],
        "address": "10.1.2.3",
    }
    audit.record(session=session, entries=[])  # nothing to write is fine
    assert count(session) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE access_audit SET username = 'someone-else'",
        "DELETE FROM access_audit",
        "DELETE FROM access_audit WHERE id > 0",
    ],
)
def test_the_database_refuses_to_change_or_remove_a_row(session: Session, statement: str) -> None:
    audit.record(session=session, entries=[entry()])
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(text(statement))
    session.rollback()
    assert count(session) == 1 and audit.listing(session=session).rows[0].username == "taker1"


def test_postgresql_refuses_truncate_too(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE; its DELETE without WHERE is refused above")
    audit.record(session=session, entries=[entry()])
    with pytest.raises(IntegrityError, match="append-only"):
        session.execute(text("TRUNCATE access_audit"))
    session.rollback()
    assert count(session) == 1


def test_the_orm_refuses_first_with_a_domain_error(session: Session) -> None:
    audit.record(session=session, entries=[entry()])
    row = audit.listing(session=session).rows[0]
    row.username = "someone-else"
    with pytest.raises(Invalid, match="append-only"):
        session.flush()
    session.rollback()
    session.delete(audit.listing(session=session).rows[0])
    with pytest.raises(Invalid, match="append-only"):
        session.flush()
    session.rollback()
    assert count(session) == 1


def test_the_listing_filters_and_pages_newest_first(session: Session) -> None:
    audit.record(
        session=session,
        entries=[
            entry(call_ids=[1]),
            entry(AccessAction.recording_played, "sup1", call_ids=[12], at=T0 + timedelta(days=1)),
            entry(AccessAction.csv_exported, "sup1", call_ids=[1, 112], at=T0 + timedelta(days=2)),
            entry(AccessAction.full_number_stream, at=T0 + timedelta(days=3)),
        ],
    )
    subjects = [r.action for r in audit.listing(session=session).rows]
    assert subjects == ["full_number_stream", "csv_exported", "recording_played", "full_number_seen"]
    assert [r.action for r in audit.listing(session=session, username="sup1").rows] == [
        "csv_exported",
        "recording_played",
    ]
    assert [r.username for r in audit.listing(session=session, action=AccessAction.recording_played).rows] == ["sup1"]
    by_call = audit.listing(session=session, call_id=1).rows
    assert [r.action for r in by_call] == ["csv_exported", "full_number_seen"]  # not call 12 nor 112
    assert [r.action for r in audit.listing(session=session, call_id=12).rows] == ["recording_played"]
    window = audit.listing(session=session, start=T0 + timedelta(days=1), end=T0 + timedelta(days=3)).rows
    assert [r.action for r in window] == ["csv_exported", "recording_played"]
    first = audit.listing(session=session, limit=3)
    assert len(first.rows) == 3 and first.next_before == first.rows[-1].id
    rest = audit.listing(session=session, limit=3, before=first.next_before)
    assert [r.action for r in rest.rows] == ["full_number_seen"] and rest.next_before is None
