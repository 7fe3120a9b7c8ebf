"""The access audit's table. Append-only: the database itself refuses UPDATE and DELETE (and, on PostgreSQL,
TRUNCATE), by triggers made with the table here and in migration 0017; the ORM refuses them first, with a
domain error, as it does for the event log (`dispatch.events.service`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Connection, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, UTCDateTime
from dispatch.errors import Invalid


class AccessAction(StrEnum):
    full_number_seen = "full_number_seen"  # an API answer held callers' full numbers (one row per request)
    full_number_stream = "full_number_stream"  # a /ws connection that receives full numbers opened
    full_number_stream_end = "full_number_stream_end"  # ... and closed
    recording_played = "recording_played"
    csv_exported = "csv_exported"


class Access(Base):
    """One access to personal data. No foreign key to the user: the row outlives any change to the account."""

    __tablename__ = "access_audit"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(300))  # the route (`GET /api/v1/calls/17`) or the report
    # The calls whose numbers were shown, as ",12,17,": "who saw call 17" is `LIKE '%,17,%'`.
    call_ids: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(64))  # the client's, as the server saw it


REFUSED = "access_audit is append-only"
# Also in migration 0017, which must keep its own copy (a migration is history).
SQLITE_TRIGGERS = tuple(
    f"CREATE TRIGGER access_audit_no_{verb.lower()} BEFORE {verb} ON access_audit "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
    for verb in ("UPDATE", "DELETE")
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION access_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER access_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON access_audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_audit_append_only()",
)


def _make_triggers(_table: Any, connection: Connection, **_kw: Any) -> None:
    """`create_all` (the tests) makes them as migration 0017 does."""
    for statement in SQLITE_TRIGGERS if connection.dialect.name == "sqlite" else POSTGRES_TRIGGERS:
        connection.exec_driver_sql(statement)


event.listen(Access.__table__, "after_create", _make_triggers)


def _refuse(_mapper: Any, _connection: Any, _target: Any) -> None:
    raise Invalid("the access audit is append-only")


event.listen(Access, "before_update", _refuse)
event.listen(Access, "before_delete", _refuse)
