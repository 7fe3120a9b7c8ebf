"""A flagged or repeat-prank caller is always offered to a call-taker, in its turn: flagged, never dropped.

The queue promises first come, first served (`dispatch/calls/queue.py`): each time takers are ready, the
longest-waiting voice calls go to them, whoever is calling. Interleavings of new calls (from flagged and
unflagged numbers) and of takers becoming ready are generated; every round must claim exactly the head of a
first-in-first-out model, so a flagged call waits for no more takers than there were calls ahead of it, and
draining the queue leaves nobody behind.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session

from dispatch.calls import abuse, queue
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.lifecycle import CallStatus
from dispatch.users import service as users
from dispatch.users.models import User
from tests.properties.support import fast
from ui.context import Ctx

PRANKSTER = "+6281377700001"  # flagged the way a caller is: three prank calls
TAKERS = 4
# A step: a new call (flagged or not), or some takers becoming ready (the ACD then runs).
Step = tuple[str, int]
steps = st.lists(
    st.one_of(
        st.booleans().map(lambda flagged: ("call", int(flagged))),
        st.integers(min_value=1, max_value=TAKERS).map(lambda n: ("ready", n)),
    ),
    min_size=1,
    max_size=16,
)


def flag_prankster(ctx: Ctx, session: Session) -> None:
    for n in range(ctx.region.policy.abuse_threshold):
        call = calls.offer(session=session, caller=PRANKSTER, provider="manual", channel_id=f"prank-{n}")
        calls.answer(session=session, call_id=call.id, taker_id=None, actor="t")
        calls.classify(session=session, call_id=call.id, classification="prank", actor="t", policy=ctx.region.policy)
    assert abuse.is_flagged(session=session, caller=PRANKSTER)


def test_flagged_callers_are_claimed_in_turn_never_starved(ctx: Ctx, session: Session) -> None:
    flag_prankster(ctx, session)
    takers = [
        users.create(
            session=session, username=f"taker{i}", password="rahasia-112", role="call_taker", sip_endpoint=f"t{i}"
        )
        for i in range(TAKERS)
    ]

    @fast(60)
    @given(plan=steps)
    def claimed_in_turn(plan: list[Step]) -> None:
        # A clean floor: no call waiting, nobody ready.
        session.execute(update(Call).where(Call.status != CallStatus.ended).values(status=CallStatus.ended))
        session.execute(update(User).values(available=False))
        session.commit()
        start = utcnow() - timedelta(hours=1)
        waiting: list[int] = []  # the model: call ids, first come first
        flagged: set[int] = set()
        for i, (kind, n) in enumerate([*plan, *[("ready", TAKERS)] * (len(plan) + 1)]):
            if kind == "call":
                caller = PRANKSTER if n else f"+62812{uuid.uuid4().int % 10**7:07d}"
                call = calls.offer(
                    session=session, caller=caller, provider="asterisk", channel_id=uuid.uuid4().hex,
                    at=start + timedelta(seconds=i),
                )  # fmt: skip
                assert call.flagged == bool(n) and call.status == CallStatus.offered  # flagged, not dropped
                waiting.append(call.id)
                if n:
                    flagged.add(call.id)
                continue
            idle = [t for t in takers if not session.get(User, t.id).available][:n]  # type: ignore[union-attr]
            for taker in idle:
                users.set_available(session=session, user=taker, available=True)
            for position, call_id in enumerate(waiting[: len(idle) + 2], start=1):
                assert queue.position(session=session, call_id=call_id) == position
            ready = len(users.available_takers(session=session))
            matches = queue.claim(session=session, provider="asterisk", actor="acd")
            expected = waiting[:ready]
            assert [m.call_id for m in matches] == expected, ("flagged:", sorted(flagged))
            for match in matches:  # the phone rang and the taker answered: the call leaves the queue
                calls.answer(session=session, call_id=match.call_id, taker_id=match.taker_id, actor="acd")
            del waiting[: len(matches)]
        assert waiting == [], "calls left waiting after every taker was ready again and again"

    claimed_in_turn()
