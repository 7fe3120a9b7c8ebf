"""Calls the PBX's dialplan took while no bridge was connected, made call records afterwards.

When the ARI bridge is down or was replaced, `Stasis()` fails and the sample dialplan rings the desk phones
itself (config/asterisk/extensions.conf), writing a trace of the call into the PBX's own durable store. The
bridge reads it back when it is connected again; this module turns one such trace into a call with every
timestamp the trace has, the desk that answered as its call-taker, and `source = "fallback"`. Reading the
same trace again (a retry, two bridges, a crash between reading and forgetting it) changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dispatch.calls import service as calls
from dispatch.calls.records import FallbackCall as FallbackCall
from dispatch.calls.service import CallBrief, Ringing
from dispatch.clock import SKEW, not_ahead, utcnow
from dispatch.lifecycle import CallStatus
from dispatch.users.models import User

SOURCE = "fallback"


def taker_at(*, session: Session, desk: str | None) -> int | None:
    """The call-taker whose desk phone this is (`--sip taker1` or `PJSIP/taker1`)."""
    if not desk:
        return None
    return session.scalar(
        select(User.id).where(or_(User.sip_endpoint == desk, User.sip_endpoint == f"PJSIP/{desk}")).limit(1)
    )


def record(*, session: Session, provider: str, trace: FallbackCall, actor: str, skew: timedelta = SKEW) -> CallBrief:
    """Make (or bring up to date) the call of one trace. Commits. `Invalid`, with nothing written, if one of its
    times lies more than `skew` ahead of now."""
    now = utcnow()
    for name, at in (("start", trace.started_at), ("answer", trace.answered_at), ("end", trace.ended_at)):
        if at is not None:
            not_ahead(at, what=f"the fallback call's {name}", now=now, skew=skew)
    (brief,) = calls.offer_many(
        session=session,
        ringing=[Ringing(trace.caller, provider, trace.channel_id, "112", trace.started_at, None, SOURCE)],
        actor=actor,
        skew=skew,
    )
    session.commit()
    call = calls.get(session=session, call_id=brief.id)
    if trace.answered_at is not None and call.status == CallStatus.offered:
        taker = taker_at(session=session, desk=trace.desk)
        call = calls.answer(
            session=session, call_id=call.id, taker_id=taker, actor=actor, at=trace.answered_at, skew=skew
        )
    if trace.ended_at is not None and call.status != CallStatus.ended:
        cause = f"fallback: {trace.cause}" if trace.cause else "fallback"
        call = calls.end(session=session, call_id=call.id, actor=actor, at=trace.ended_at, cause=cause, skew=skew)
    return CallBrief.of(call)
