"""A call-taker whose desk phone answered busy is made ready again after the pause, unless they changed their
state meanwhile: a break they asked for must never be undone by the queue."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dispatch.calls import queue
from dispatch.users import service as users
from dispatch.users.models import User


def taker(session: Session) -> User:
    user = users.create(
        session=session, username="taker1", password="rahasia-112", role="call_taker", sip_endpoint="taker1"
    )
    users.set_available(session=session, user=user, available=True)
    return user


def busy(session: Session, user: User) -> None:
    queue.requeue(
        session=session, call_id=0, taker_id=user.id, reason=queue.DESK_BUSY, taker_available=False, actor="asterisk"
    )


def test_ready_again_once_the_pause_is_over(session: Session) -> None:
    user = taker(session)
    busy(session, user)
    assert not user.available
    assert queue.ready_after_busy(session=session, taker_id=user.id, actor="asterisk")
    session.refresh(user)
    assert user.available
    assert not queue.ready_after_busy(session=session, taker_id=user.id, actor="asterisk")  # once


def test_a_break_taken_meanwhile_stands(session: Session) -> None:
    user = taker(session)
    busy(session, user)
    users.set_available(session=session, user=user, available=True)
    users.set_available(session=session, user=user, available=False)  # "tidak siap": a break
    assert not queue.ready_after_busy(session=session, taker_id=user.id, actor="asterisk")
    session.refresh(user)
    assert not user.available


def test_not_after_another_reason(session: Session) -> None:
    user = taker(session)
    queue.requeue(
        session=session,
        call_id=0,
        taker_id=user.id,
        reason="no_answer (cause 19)",
        taker_available=False,
        actor="asterisk",
    )
    assert not queue.ready_after_busy(session=session, taker_id=user.id, actor="asterisk")
