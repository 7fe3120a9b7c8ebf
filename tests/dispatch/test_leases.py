"""One active bridge: the lease is taken by one holder at a time, renewed by it, taken over once it runs out,
and given up with a reason /healthz can show; on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from dispatch import leases
from dispatch.clock import utcnow

TTL = timedelta(seconds=3)


def test_one_holder_at_a_time_and_a_takeover_once_it_runs_out(session: Session) -> None:
    now = utcnow()
    a = leases.acquire(session=session, name="b", holder="a", ttl=TTL, now=now)
    assert a.granted and a.live
    assert not leases.acquire(session=session, name="b", holder="s", ttl=TTL, now=now + timedelta(seconds=1)).granted
    renewed = leases.acquire(session=session, name="b", holder="a", ttl=TTL, now=now + timedelta(seconds=2))
    assert renewed.granted and renewed.acquired_at == a.acquired_at  # renewing keeps when it was taken
    # still within the renewed lease: the standby waits; once it runs out (a dead holder), it takes over
    assert not leases.acquire(session=session, name="b", holder="s", ttl=TTL, now=now + timedelta(seconds=4.9)).granted
    taken = leases.acquire(session=session, name="b", holder="s", ttl=TTL, now=now + timedelta(seconds=5.1))
    assert taken.granted and taken.acquired_at > a.acquired_at
    assert not leases.acquire(session=session, name="b", holder="a", ttl=TTL, now=now + timedelta(seconds=5.2)).granted


def test_given_up_with_a_reason(session: Session) -> None:
    leases.acquire(session=session, name="b", holder="a", ttl=TTL)
    assert not leases.release(session=session, name="b", holder="someone-else")
    assert leases.release(session=session, name="b", holder="a", why="replaced")
    gone = leases.current(session=session, name="b")
    assert not gone.live and gone.holder == "a" and gone.state == "replaced"
    assert leases.acquire(session=session, name="b", holder="a", ttl=TTL).granted  # free again at once
    assert leases.current(session=session, name="b", holder="a").state == "active"
