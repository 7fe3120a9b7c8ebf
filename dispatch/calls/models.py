"""Calls, caller locations (AML and others) and repeat-abuse flags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Base, UTCDateTime
from dispatch.lifecycle import CallStatus


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("provider", "channel_id", name="uq_call_channel"),
        # The callback list is the newest abandoned calls: with the class alone indexed, every abandoned call
        # ever taken (58 % of them all) was read and sorted to show 200 (347 ms after 200,000 calls).
        Index("ix_calls_classification_offered_at", "classification", "offered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str | None] = mapped_column(String(32), index=True)  # E.164, None when withheld
    caller_raw: Mapped[str | None] = mapped_column(String(64))
    # The extension written after the number ("ext. 5", "pes. 5"): kept apart, never part of `caller`, which
    # history and abuse flags match on (dispatch.phone.split_extension).
    caller_ext: Mapped[str | None] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))  # asterisk, twilio, sms, manual
    channel_id: Mapped[str] = mapped_column(String(128))
    dialled: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=CallStatus.offered, index=True)
    classification: Mapped[str | None] = mapped_column(String(16))  # indexed with offered_at, above
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    taker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    recording_ref: Mapped[str | None] = mapped_column(String(300))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # caller flagged when the call came in
    is_text: Mapped[bool] = mapped_column(Boolean, default=False)  # SMS from a caller who cannot speak
    text: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    callback_done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # "fallback": rung to the desk phones by the dialplan while the bridge was away, read back from the PBX's
    # journal afterwards (telephony/ari/journal.py); None for calls the bridge or a webhook took live.
    source: Mapped[str | None] = mapped_column(String(16))
    # The caller's choice at a major incident's announcement: 1 in danger now, 2 damage, 3 information (None: no
    # announcement, or no key pressed). dispatch.major.enums.priority_of.
    major_choice: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)


class CallerLocation(Base):
    """A location report for a call: a suggestion until a call-taker confirms it."""

    __tablename__ = "caller_locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    caller: Mapped[str | None] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(16))  # aml, gazetteer, map, history
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    fix_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    raw: Mapped[str | None] = mapped_column(Text)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(String(300))


class CallerFlag(Base):
    """A caller flagged for repeated prank/ghost calls. Never used to drop a call."""

    __tablename__ = "caller_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(32), index=True)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    cleared_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CallMessage(Base):
    """One text of a text call (SMS to 112 from someone who cannot speak): the caller's, or a call-taker's reply.

    The conversation is the call: a caller's next SMS while their text call is live joins it, and a reply goes
    back to their number."""

    __tablename__ = "call_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # in (from the caller) or out (a reply)
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(64))  # the call-taker who replied
    # The provider's id (Twilio MessageSid): a webhook retried by Twilio is the same message, not a new one.
    provider_ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # received; sending, sent, delivered, undelivered, failed
    error: Mapped[str | None] = mapped_column(String(200))


class Callback(Base):
    """One attempt to call an abandoned caller back (dispatch/calls/callbacks.py): who asked, by which route, how
    far the phones got (every step's time) and what the call-taker says came of it."""

    __tablename__ = "callbacks"
    # The bridge's claim reads the attempts still waiting for the PBX: by state and age, never every attempt.
    __table_args__ = (Index("ix_callbacks_state_requested_at", "state", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    route: Mapped[str] = mapped_column(String(8))  # pbx, twilio, none (dialled by hand)
    state: Mapped[str] = mapped_column(String(16))  # requested, ringing, answered, no_answer, busy, failed
    desk: Mapped[str | None] = mapped_column(String(128))  # the call-taker's phone, rung first
    caller_id: Mapped[str | None] = mapped_column(String(32))  # the number the caller sees: the command center's
    provider_ref: Mapped[str | None] = mapped_column(String(128))  # the PBX's channel, Twilio's CallSid
    reason: Mapped[str | None] = mapped_column(String(300))  # why it failed, in Bahasa Indonesia
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the bridge took it
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the caller picked up
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))  # reached, no_answer, wrong_number, voicemail
    note: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class LocationLink(Base):
    """A link sent to a caller (by SMS, or read out) whose page reports the phone's position to one call.

    Only the token's SHA-256 is kept: whoever reads the database or a backup cannot open a caller's page, and a
    leaked link is worth nothing once it expires (dispatch/calls/links.py)."""

    __tablename__ = "location_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))  # the call-taker's username
    sent_by: Mapped[str] = mapped_column(String(8), default="none")  # sms, or none: read out by the call-taker
    positions: Mapped[int] = mapped_column(Integer, default=0)  # positions accepted from the page
    notes: Mapped[int] = mapped_column(Integer, default=0)  # notes accepted from the page
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the last position accepted
