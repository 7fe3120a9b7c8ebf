"""What a caller said, line by line: `call.transcript` events in the event log, no table of their own.

A simulated caller's words (ui/simulator.py) are written here once a call-taker answers; a speech-to-text engine
could write its lines the same way. The call's `text` stays what it is: the first SMS of a text call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.events.models import Event
from dispatch.events.service import record

KIND = "call.transcript"


def add(
    *, session: Session, call_id: int, words: str, source: str, actor: str, extra: dict[str, Any] | None = None
) -> None:
    """One line the caller said (in the language they said it). `extra`: what the source knows about the line
    (a simulator's scenario). Commits."""
    call = calls.get(session=session, call_id=call_id)
    data = {**(extra or {}), "call_id": call.id, "words": words, "source": source, "speaker": "caller"}
    record(session, KIND, actor=actor, data=data, call_id=call.id, incident_id=call.incident_id)
    session.commit()


def for_call(*, session: Session, call_id: int) -> list[dict[str, Any]]:
    """The call's lines, oldest first, each with the `seq` of its event (a console merges them with the stream's
    events by it). Read by call and type: indexed."""
    rows = session.execute(
        select(Event.seq, Event.at, Event.data).where(Event.call_id == call_id, Event.type == KIND).order_by(Event.seq)
    )
    return [{**data, "seq": seq, "at": at.isoformat()} for seq, at, data in rows]
