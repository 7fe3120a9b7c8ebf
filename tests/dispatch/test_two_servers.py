"""Work that must happen once has one owner with N servers: two servers on one PostgreSQL database, each with its
own engine and pool as two `tanggap serve` processes have, never ring one call for two call-takers or one
call-taker for two calls, and escalate each late assignment once (docs/operations.md, "Several servers")."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from config.settings import Settings
from dispatch.agencies.models import Unit
from dispatch.calls import queue
from dispatch.calls import service as calls
from dispatch.calls.records import Match
from dispatch.clock import utcnow
from dispatch.events.models import Event
from dispatch.incidents import assignments, escalation
from dispatch.incidents import service as incidents
from dispatch.incidents.models import Assignment
from dispatch.incidents.schemas import IncidentIn
from dispatch.models import Base
from dispatch.regions import seed
from dispatch.users import service as users
from tests.conftest import database
from tests.servers import serve
from ui.app import create_app
from ui.context import Ctx, build

PADANG_BARAT = (-0.9262, 100.3560)


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[Ctx, Ctx]]:
    """Two servers on one PostgreSQL database (a schema of the test's own on the shared test server)."""
    with database("postgresql", tmp_path) as url:
        settings = Settings(database_url=url, region="padang", escalation_check_s=0.02)
        first, second = build(settings), build(settings.model_copy())
        Base.metadata.create_all(first.engine)
        with first.sessions() as session:
            seed(session, first.region.pack)
        try:
            yield first, second
        finally:
            first.engine.dispose()
            second.engine.dispose()


def make_takers(ctx: Ctx, count: int) -> list[int]:
    ids = []
    with ctx.sessions() as session:
        for n in range(count):
            user = users.create(
                session=session, username=f"taker{n}", password="rahasia-112", role="call_taker", sip_endpoint=f"t{n}"
            )
            users.set_available(session=session, user=user, available=True)
            ids.append(user.id)
    return ids


def offer_calls(ctx: Ctx, count: int, provider: str) -> list[int]:
    now = utcnow()
    with ctx.sessions() as session:
        return [
            calls.offer(
                session=session,
                caller=f"0812{n:08d}",
                provider=provider,
                channel_id=f"{provider}-{n}",
                at=now - timedelta(seconds=count - n),
                actor="test",
            ).id
            for n in range(count)
        ]


def reservation_log(ctx: Ctx) -> list[tuple[str, int, int]]:
    """Every reservation and its undoing, in the log's order: (type, call id, taker id)."""
    with ctx.sessions() as session:
        rows = session.execute(
            select(Event.type, Event.call_id, Event.data)
            .where(Event.type.in_((queue.CONNECTING, queue.REQUEUED)))
            .order_by(Event.seq)
        ).all()
    return [(kind, int(call_id), int(data["taker_id"])) for kind, call_id, data in rows]


def double_bookings(log: Sequence[tuple[str, int, int]]) -> list[str]:
    """A call reserved while its reservation still stood (two phones ring for it), or a call-taker reserved while
    theirs still stood (one phone rings for two calls)."""
    by_call: dict[int, int] = {}
    by_taker: dict[int, int] = {}
    found = []
    for kind, call_id, taker_id in log:
        if kind == queue.CONNECTING:
            if call_id in by_call:
                found.append(f"call {call_id} reserved to taker {taker_id} while reserved to {by_call[call_id]}")
            if taker_id in by_taker:
                found.append(f"taker {taker_id} reserved for call {call_id} while ringing for {by_taker[taker_id]}")
            by_call[call_id], by_taker[taker_id] = taker_id, call_id
        else:
            by_call.pop(call_id, None)
            by_taker.pop(taker_id, None)
    return found


def requeue(ctx: Ctx, match: Match) -> None:
    with ctx.sessions() as session:
        queue.requeue(
            session=session,
            call_id=match.call_id,
            taker_id=match.taker_id,
            reason="no_answer",
            taker_available=True,
            actor="test",
        )


def test_acd_claims_on_both_servers_at_once_reserve_each_call_and_each_taker_once(two: tuple[Ctx, Ctx]) -> None:
    """The bridge's claim over each server's API (`/api/v1/telephony/acd/claim`), many at once on both."""
    first, second = two
    with first.sessions() as session:
        user = users.create(session=session, username="bridge", password="rahasia-112", role="telephony")
        bearer = {"Authorization": f"Bearer {users.issue_token(session=session, user=user, kind='api', lifetime=None)}"}
    make_takers(first, 12)
    offer_calls(first, 20, "asterisk")

    async def claims(urls: list[str]) -> list[Match]:
        async with httpx.AsyncClient(timeout=30) as http:
            answers = await asyncio.gather(
                *(http.post(f"{url}/api/v1/telephony/acd/claim", json={}, headers=bearer) for url in urls * 16)
            )
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers if a.status_code != 200]
        return [Match(**row) for a in answers for row in a.json()]

    with serve(create_app(ctx=first)) as one, serve(create_app(ctx=second)) as other:
        for url in (one, other):  # FastAPI builds its routes on their first request, with a warnings filter that
            httpx.post(f"{url}/api/v1/telephony/acd/claim", json={})  # is not thread-safe: two apps in one test
        for _ in range(5):  # each round: every taker reserved once, then every call back in the queue
            matches = asyncio.run(claims([one, other]))
            assert len(matches) == 12
            assert len({m.call_id for m in matches}) == 12 and len({m.taker_id for m in matches}) == 12
            for match in matches:
                requeue(first, match)
    log = reservation_log(first)
    assert double_bookings(log) == []
    assert Counter(kind for kind, _, _ in log) == {queue.CONNECTING: 60, queue.REQUEUED: 60}


def test_claims_racing_requeues_on_two_servers_never_double_book(
    two: tuple[Ctx, Ctx], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Twilio path claims inside each wait webhook, in the request's thread (`_reserved` in
    ui/routes/telephony.py): here three such threads per server, while desks that did not answer put their calls
    back and make their takers ready again. Each server is slow now and then between reading the queue and
    writing its reservations (a busy CPU): every reservation must still be one call to one call-taker."""
    first, second = two
    make_takers(first, 6)
    offer_calls(first, 10, "twilio")
    plan = queue.plan

    def busy_plan(*args: Any) -> list[Any]:
        time.sleep(random.uniform(0, 0.002))
        return plan(*args)

    monkeypatch.setattr(queue, "plan", busy_plan)
    ringing: list[tuple[Ctx, Match]] = []
    claimed: list[Match] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    until = time.monotonic() + 15.0

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            while time.monotonic() < until and len(claimed) < 40:
                try:
                    work()
                except Exception as exc:  # a Twilio caller would have heard an error: counted, and on we go
                    errors.append(exc)

        return run

    def claimer(ctx: Ctx) -> None:
        with ctx.sessions() as session:
            matches = queue.claim(session=session, provider="twilio", actor="twilio")
        with lock:
            claimed.extend(matches)
            ringing.extend((ctx, m) for m in matches)

    def no_answer() -> None:
        with lock:
            taken = ringing.pop(random.randrange(len(ringing))) if ringing else None
        if taken is None:
            time.sleep(0.001)
            return
        requeue(*taken)

    threads = [threading.Thread(target=guarded(lambda c=ctx: claimer(c))) for ctx in (first, second) * 3]
    threads += [threading.Thread(target=guarded(no_answer)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    log = reservation_log(first)
    assert double_bookings(log) == []
    assert errors == []  # a deadlock, say, between a claim and a requeue taking their locks in opposite orders
    reserved = Counter((call_id, taker_id) for kind, call_id, taker_id in log if kind == queue.CONNECTING)
    assert reserved == Counter((m.call_id, m.taker_id) for m in claimed)  # each once, and to whom it was told
    assert len(claimed) >= 40, len(claimed)  # it did race: many rounds of claims and requeues


def late_assignments(ctx: Ctx, count: int) -> list[int]:
    """`count` house fires, each with an available unit dispatched long enough ago to be escalated now."""
    with ctx.sessions() as session:
        units = session.scalars(select(Unit.id).where(Unit.status == "available").order_by(Unit.id).limit(count))
        ids = []
        for unit_id in list(units):
            body = IncidentIn(type_code="fire_house", lat=PADANG_BARAT[0], lon=PADANG_BARAT[1])
            incident = incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)
            row = assignments.assign(session=session, incident_id=incident.id, unit_id=unit_id, actor="d", user_id=None)
            ids.append(row.id)
        long_ago = utcnow() - 3 * timedelta(seconds=ctx.region.policy.ack_timeout_s)
        session.execute(update(Assignment).values(dispatched_at=long_ago))
        session.commit()
    assert len(ids) == count
    return ids


def escalated(ctx: Ctx) -> Counter[int]:
    """Escalation events per assignment."""
    with ctx.sessions() as session:
        data = session.scalars(select(Event.data).where(Event.type == escalation.ESCALATED))
        return Counter(int(d["assignment"]["id"]) for d in data)


async def test_both_servers_escalation_loops_escalate_each_late_assignment_once(two: tuple[Ctx, Ctx]) -> None:
    """Both servers' loops (ui/app.py, every `escalation_check_s`) over the same late assignments."""
    first, second = two
    late = late_assignments(first, 8)
    apps = [create_app(ctx=first), create_app(ctx=second)]
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        async with asyncio.timeout(20):
            while set(escalated(first)) != set(late):  # noqa: ASYNC110 - the loops have no event to wait on
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # a dozen more passes on each server
    assert escalated(first) == dict.fromkeys(late, 1)


def test_escalation_passes_started_together_on_both_servers_escalate_once(two: tuple[Ctx, Ctx]) -> None:
    """Six passes, three a server, released at the same moment over the same late assignments: each has read
    them all before any has written."""
    first, second = two
    late = late_assignments(first, 8)
    now = utcnow()
    start = threading.Barrier(6, timeout=10)
    done: list[list[int]] = []
    errors: list[BaseException] = []

    def one_pass(ctx: Ctx) -> None:
        try:
            with ctx.sessions() as session:
                escalation.due(session=session, now=now, timeout=timedelta(seconds=ctx.region.policy.ack_timeout_s))
                start.wait()
                done.append(escalation.escalate_due(session=session, region=ctx.region, now=now))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one_pass, args=(ctx,)) for ctx in (first, second) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(a for ids in done for a in ids) == sorted(late)  # each escalated by exactly one pass
    assert escalated(first) == dict.fromkeys(late, 1)
