"""During a major incident the queue serves callers in danger first and still starves nobody.

Interleavings of new calls (each with a choice at the announcement: 1, 2, 3, none, or a value no key gives) and
of call-takers becoming ready are generated, on a clock that moves on with each step. At every claim the calls
rung for are exactly the head of a model ordered by `turn` (offered, plus the lead for each step of priority
below the first): a caller in danger (1, none, noise) never waits behind a report made less than a lead before,
and a call that has waited its lead is never passed by anyone who called after it. Draining the queue leaves
nobody behind.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.calls import queue
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.lifecycle import CallStatus
from dispatch.major.enums import priority_of
from dispatch.users import service as users
from dispatch.users.models import User
from tests.properties.support import fast
from ui.context import Ctx

TAKERS = 3
LEAD = timedelta(seconds=30)
Step = tuple[str, int | None, int]  # ("call", choice, seconds since the last step) or ("ready", takers, seconds)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.sampled_from([None, 1, 2, 3, 7]), st.integers(0, 40)),
        st.tuples(st.just("ready"), st.integers(1, TAKERS), st.integers(0, 40)),
    ),
    min_size=1,
    max_size=14,
)


def test_callers_in_danger_first_and_nobody_starved(ctx: Ctx, session: Session) -> None:
    takers = [
        users.create(session=session, username=f"taker{i}", password="rahasia-112", role="call_taker",
                     sip_endpoint=f"t{i}")
        for i in range(TAKERS)
    ]  # fmt: skip

    @fast(50)
    @given(plan=steps)
    def served_by_turn(plan: list[Step]) -> None:
        session.execute(update(Call).where(Call.status != CallStatus.ended).values(status=CallStatus.ended))
        session.execute(update(User).values(available=False))
        session.commit()
        clock = utcnow() - timedelta(hours=2)
        waiting: dict[int, tuple[object, ...]] = {}  # the model: call id -> its place in the queue's order
        drain: list[Step] = [("ready", TAKERS, 0)] * (len(plan) + 1)
        for kind, n, seconds in [*plan, *drain]:
            clock += timedelta(seconds=seconds)
            if kind == "call":
                call = calls.offer(session=session, caller=None, provider="asterisk", channel_id=uuid.uuid4().hex,
                                   at=clock)  # fmt: skip
                call.major_choice = n
                session.commit()
                waiting[call.id] = (clock + LEAD * (priority_of(n) - 1), clock, call.id)
                continue
            idle = [t for t in takers if not session.get(User, t.id).available][: n or 0]  # type: ignore[union-attr]
            for taker in idle:
                users.set_available(session=session, user=taker, available=True)
            ready = len(users.available_takers(session=session))
            order = sorted(waiting, key=lambda i: waiting[i])
            for position, call_id in enumerate(order[: ready + 2], start=1):
                assert queue.position(session=session, call_id=call_id, lead=LEAD) == position
            matches = queue.claim(session=session, provider="asterisk", actor="acd", lead=LEAD)
            assert [m.call_id for m in matches] == order[:ready]
            for match in matches:
                _, offered, _ = waiting.pop(match.call_id)
                # Never starved: nobody still waiting had waited their lead when this later caller called.
                passed = [i for i, (turn, at, _) in waiting.items() if turn <= offered and at < offered]
                assert passed == [], f"call {match.call_id} went before {passed}, who waited their lead"
                calls.answer(session=session, call_id=match.call_id, taker_id=match.taker_id, actor="acd")
        assert waiting == {}, "calls left waiting after every taker was ready again and again"

    served_by_turn()
