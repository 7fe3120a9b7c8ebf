"""Idempotency keys: the same action submitted twice with one key creates one record.

The stored response is written in the same transaction as the action, so a retry after a lost reply gets the
first answer back and a crash in between leaves neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatch.clock import utcnow
from dispatch.db import Base, UTCDateTime
from dispatch.errors import Conflict


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idem_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(300))  # method and path
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def lookup(session: Session, *, user_id: int, key: str, scope: str) -> IdempotencyKey | None:
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))
    if row is not None and row.scope != scope:
        raise Conflict(f"idempotency key {key!r} was already used for {row.scope}")
    return row


def remember(
    session: Session, *, user_id: int, key: str, scope: str, status_code: int, response: Any
) -> IdempotencyKey:
    """Add the key to the session; it is written by the action's own commit."""
    row = IdempotencyKey(
        user_id=user_id, key=key, scope=scope, status_code=status_code, response=response, created_at=utcnow()
    )
    session.add(row)
    return row
