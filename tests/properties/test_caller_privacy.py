"""A dispatcher or a responder never receives a full caller number, on any channel (UU PDP No. 27/2022).

Generated caller numbers, in the forms trunks and people write them, go through a day of the command center
driven through the real app: a voice call with a location, queue, recording and incident; a second call linked
to it; an SMS text call; a prankster flagged and cleared; an abandoned call called back; an assignment with its
SMS alert, escalation and lifecycle; a duplicate; a referral. Then every channel a dispatcher or a responder
has is read: the live websocket, the websocket's catch-up, every GET route of the API (CSV exports included)
and the SMS the unit is sent. None may carry the number whole.

Every event type the code can write is found in the source; a new one the scenario does not produce fails the
test, so no event type reaches the consoles unchecked: add what writes it to `day_of_work`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from dispatch.agencies import service as agencies
from dispatch.agencies.models import Unit
from dispatch.calls import abuse, intake, locations, messages, queue, transcript
from dispatch.calls import service as calls
from dispatch.calls.models import Call
from dispatch.clock import utcnow
from dispatch.events import service as events
from dispatch.events.bus import Published
from dispatch.incidents import escalation
from dispatch.lifecycle import CallStatus
from dispatch.users import service as users
from dispatch.users.models import User
from telephony.sms import SmsNotifier
from tests.properties.support import fast
from tests.streams import Inbox
from ui.context import Ctx

ROOT = Path(__file__).resolve().parents[2]
Headers = dict[str, dict[str, str]]
UNIT = "DAMKAR-03-PMK1"  # the responder's unit (tests/conftest.py)
UNIT_SMS = "+6281100000001"
PLACE = {"lat": -0.9262, "lon": 100.3560}
AML = 'A"ML=1;lt=-0.92620;lg=+100.35600;rd=12;top=20261102030405;lc=90;pm=G;ml=104'
BLIND = ("dispatcher", "responder")  # the roles that must never see a number whole


# ---- numbers ------------------------------------------------------------------------------------------------


def _varied(digits: str) -> bool:
    """No digit three times running and five different ones: a number cannot then be mistaken for the zeros
    of a float or the digits of a timestamp."""
    return len(set(digits)) >= 5 and not re.search(r"(\d)\1\1", digits)


nationals = st.text("0123456789", min_size=8, max_size=10).map(lambda rest: "8" + rest).filter(_varied)


@st.composite
def written(draw: st.DrawFn, national: str) -> str:
    """One number the way a trunk, an SMS gateway or a person writes it."""
    grouped = f"{national[:3]}-{national[3:7]}-{national[7:]}"
    return draw(st.sampled_from(["0" + national, "+62" + national, "62" + national, "+62 " + grouped, "0" + grouped]))


callers = nationals.flatmap(lambda n: st.tuples(st.just(n), written(n)))


def leaks(text: str, national: str, raw: str) -> list[str]:
    """Any seven digits of the number in a row, or the number as it was given: masking keeps three at most."""
    found = [national[i : i + 7] for i in range(len(national) - 6) if national[i : i + 7] in text]
    return found + ([raw] if raw in text else [])


# ---- the day's work -----------------------------------------------------------------------------------------


@dataclass
class Day:
    numbers: list[tuple[str, str]] = field(default_factory=list)  # (national digits, as given)
    ids: dict[str, int] = field(default_factory=dict)
    sms: list[str] = field(default_factory=list)
    types: set[str] = field(default_factory=set)


def unit_id(ctx: Ctx, callsign: str = UNIT) -> int:
    with ctx.sessions() as s:
        return s.scalars(select(Unit.id).where(Unit.callsign == callsign)).one()


def day_of_work(ctx: Ctx, client: TestClient, auth: Headers, raw: str, prank: str, day: Day) -> None:
    taker, disp, resp = auth["call_taker"], auth["dispatcher"], auth["responder"]
    policy = ctx.region.policy

    def ok(r: Any) -> Any:
        assert r.status_code < 300, r.text
        return r.json()

    # A voice call: waiting in the queue, rung at a taker who does not answer, requeued, answered, located.
    call = ok(client.post("/api/v1/calls", json={"caller": raw, "provider": "asterisk"}, headers=taker))
    # The caller pressed 1 at a major incident's announcement (the bridge's API).
    ok(client.post(f"/api/v1/telephony/calls/{call['id']}/choice", json={"choice": 1}, headers=auth["telephony"]))
    with ctx.sessions() as s:
        intake.queued(session=s, call_id=call["id"], actor="ari")
        acd = s.scalars(select(User).where(User.username == "acd-taker")).one()
        users.set_available(session=s, user=acd, available=True)
        [match] = queue.claim(session=s, provider="asterisk", actor="ari")
        assert match.call_id == call["id"]
        queue.requeue(
            session=s, call_id=call["id"], taker_id=acd.id, reason="no answer", taker_available=False, actor="ari"
        )
    ok(client.post(f"/api/v1/calls/{call['id']}/answer", headers=taker))
    with ctx.sessions() as s:
        locations.report(
            session=s, caller=raw, source="aml", lat=PLACE["lat"], lon=PLACE["lon"], accuracy_m=12.0,
            fix_at=utcnow(), raw=AML, actor="sms",
        )  # fmt: skip
        calls.set_recording(session=s, call_id=call["id"], ref=f"rec-{uuid.uuid4().hex}", actor="ari")
        transcript.add(session=s, call_id=call["id"], words="tolong, rumah terbakar", source="simulator", actor="sim")
    incident = ok(
        client.post(
            "/api/v1/incidents",
            json={"type_code": "fire_house", "call_id": call["id"], **PLACE, "notes": "rumah terbakar"},
            headers=taker,
        )
    )
    ok(client.patch(f"/api/v1/incidents/{incident['id']}", json={"notes": "dua rumah"}, headers=taker))
    # The same caller again: linked to the incident.
    again = ok(client.post("/api/v1/calls", json={"caller": raw}, headers=taker))
    ok(client.post(f"/api/v1/calls/{again['id']}/answer", headers=taker))
    ok(client.post(f"/api/v1/incidents/{incident['id']}/calls/{again['id']}", json={"notes": "asap"}, headers=taker))
    # The responder's unit is sent, alerted by SMS, escalated, and works the incident.
    unit = unit_id(ctx)
    a = ok(client.post(f"/api/v1/incidents/{incident['id']}/assignments", json={"unit_id": unit}, headers=disp))
    with ctx.sessions() as s:
        created = [e for e in events.for_incident(s, incident["id"]) if e.type == "assignment.created"][-1]
    published = Published(
        created.seq, created.type, created.at, created.actor, created.data, created.incident_id, None, created.unit_id
    )

    def send(_to: str, body: str, _callback: str | None) -> str:
        day.sms.append(body)
        return f"SM{uuid.uuid4().hex}"

    def fail(_to: str, _body: str, _callback: str | None) -> str:
        raise ConnectionError("gateway down")

    SmsNotifier(ctx.sessions, send, public_url=None).alert(published)
    SmsNotifier(ctx.sessions, fail, public_url=None).alert(published)
    with ctx.sessions() as s:
        intake.sms_event(
            session=s, kind="sms.status", actor="twilio", incident_id=incident["id"], unit_id=unit,
            data={"message_sid": "SMx", "status": "delivered", "error_code": None, "unit_id": unit,
                  "assignment_id": a["id"]},
        )  # fmt: skip
        late = datetime.fromisoformat(a["dispatched_at"]) + timedelta(seconds=policy.ack_timeout_s)
        assert escalation.escalate_due(session=s, region=ctx.region, now=late) == [a["id"]]
    for status in ("acknowledged", "en_route", "on_scene", "cleared"):
        ok(client.post(f"/api/v1/assignments/{a['id']}/status", json={"status": status}, headers=resp))
    # A second report of the same fire, marked duplicate; then the first is closed.
    dup = ok(client.post("/api/v1/incidents", json={"type_code": "fire_market", **PLACE}, headers=taker))
    ok(client.post(f"/api/v1/incidents/{dup['id']}/duplicate-of/{incident['id']}", headers=taker))
    ok(client.post(f"/api/v1/incidents/{incident['id']}/close", json={"closure": "padam"}, headers=disp))
    # An SMS to 112 from the caller: a text call, answered by text.
    with ctx.sessions() as s:
        text_call, _ = messages.receive(
            session=s, provider="twilio", message_id=f"SM{uuid.uuid4().hex}", caller=raw, dialled="112",
            text="tolong ada kebakaran", actor="twilio",
        )  # fmt: skip
        messages.draft_reply(session=s, call_id=text_call.id, text="Petugas menuju lokasi", author="taker")
    # A complaint referred to an agency.
    agency = ok(client.get("/api/v1/agencies", headers=taker))[0]["id"]
    referral = ok(
        client.post(
            "/api/v1/referrals",
            json={"agency_id": agency, "summary": "lampu jalan mati", "call_id": again["id"]},
            headers=taker,
        )
    )
    ok(
        client.post(
            f"/api/v1/referrals/{referral['id']}/status", json={"status": "in_progress"}, headers=auth["supervisor"]
        )
    )
    # A prankster: three pranks flag the number, the fourth call still comes through; a supervisor clears it.
    for _ in range(policy.abuse_threshold + 1):
        p = ok(client.post("/api/v1/calls", json={"caller": prank}, headers=taker))
        ok(client.post(f"/api/v1/calls/{p['id']}/answer", headers=taker))
        ok(client.post(f"/api/v1/calls/{p['id']}/classify", json={"classification": "prank"}, headers=taker))
    with ctx.sessions() as s:
        sup = s.scalars(select(User.id).where(User.role == "supervisor")).first()
        assert sup is not None
        abuse.clear(session=s, caller=calls.get(session=s, call_id=p["id"]).caller or "", user_id=sup, actor="sup")
    # An abandoned call, called back.
    gone = ok(client.post("/api/v1/calls", json={"caller": raw}, headers=taker))
    ok(client.post(f"/api/v1/calls/{gone['id']}/end", headers=taker))
    ok(client.post(f"/api/v1/calls/{gone['id']}/callback-done", headers=taker))
    # The unit goes out of service and back, and reports where it is: the responder's last event.
    with ctx.sessions() as s:
        agencies.set_status(session=s, unit_id=unit, status="out_of_service", actor="sup")
        agencies.set_status(session=s, unit_id=unit, status="available", actor="sup")
        agencies.report_position(
            session=s, unit_id=unit, lat=PLACE["lat"], lon=PLACE["lon"], accuracy_m=5.0, at=utcnow(), actor="r"
        )
        s.execute(update(Call).where(Call.status != CallStatus.ended).values(status=CallStatus.ended))
        s.commit()
    day.ids.update(
        incident_id=incident["id"], other_id=dup["id"], call_id=call["id"], referral_id=referral["id"], unit_id=unit
    )


# ---- reading every channel ----------------------------------------------------------------------------------


def read_ws(inbox: Inbox, last: int) -> Iterator[str]:
    """Every message up to the event `last` (the responder sees it: its own unit's position)."""
    while True:
        message = inbox.next()
        yield repr(message)
        if message["seq"] >= last and message["type"] not in ("live",):
            return


def rest_reads(client: TestClient, headers: dict[str, str], day: Day, raw: str) -> Iterator[tuple[str, str]]:
    """Every GET route of the API (as /openapi.json lists them) that a path can be made for, in JSON and, for
    reports, CSV."""
    fill = {**{k: str(v) for k, v in day.ids.items()}, "number": raw, "level": "kecamatan"}
    paths = [p for p, ops in client.get("/openapi.json").json()["paths"].items() if "get" in ops]
    assert "/api/v1/incidents/{incident_id}" in paths and len(paths) > 20
    for template in paths:
        names = re.findall(r"{(\w+)}", template)
        if any(n not in fill for n in names):
            continue
        path = re.sub(r"{(\w+)}", lambda m: fill[m.group(1)], template)
        variants = [{}, {"format": "csv"}] if "/reports/" in path else [{}]
        if path == "/api/v1/events":
            variants = [{"since": "0", "limit": "5000"}]
        for params in variants:
            r = client.get(path, params=params, headers=headers)
            if r.status_code == 200:
                yield f"GET {path} {params}", r.text


def test_no_full_caller_number_reaches_a_dispatcher_or_responder(ctx: Ctx, client: TestClient, auth: Headers) -> None:
    with ctx.sessions() as s:
        users.create(session=s, username="acd-taker", password="rahasia-112", role="call_taker", sip_endpoint="t9")
        s.execute(update(Unit).where(Unit.callsign == UNIT).values(sms_number=UNIT_SMS))
        s.commit()
    day = Day()

    @fast(6)  # each example is a whole day's work through the app, on both databases
    @given(caller=callers, prankster=callers)
    def never_whole(caller: tuple[str, str], prankster: tuple[str, str]) -> None:
        with ctx.sessions() as s:
            start = events.last_seq(s)
        day.numbers += [caller, prankster]
        with ExitStack() as stack:
            live = {
                role: Inbox(stack.enter_context(client.websocket_connect("/ws", headers=auth[role]))) for role in BLIND
            }
            for inbox in live.values():
                assert inbox.next()["type"] == "live"
            day_of_work(ctx, client, auth, caller[1], prankster[1], day)
            with ctx.sessions() as s:
                last = events.last_seq(s)
                day.types |= {e.type for e in events.since(s, start, limit=5000)}
            seen = {f"live /ws as {role}": list(read_ws(inbox, last)) for role, inbox in live.items()}
        for role in BLIND:
            with client.websocket_connect(f"/ws?since={start}", headers=auth[role]) as ws:
                seen[f"/ws?since= as {role}"] = list(read_ws(Inbox(ws), last))
            for what, text in rest_reads(client, auth[role], day, caller[1]):
                seen[f"{what} as {role}"] = [text]
        seen["SMS to the unit"] = day.sms
        # The detector is not blind: a call-taker, who needs the number, gets it whole.
        whole = client.get(f"/api/v1/calls/{day.ids['call_id']}", headers=auth["call_taker"]).text
        assert leaks(whole, *caller), "a call-taker must see the number; the leak check would miss it"
        assert any("caller" in t for t in seen["live /ws as dispatcher"]), "the scenario must carry caller fields"
        for where, texts in seen.items():
            for national, raw in day.numbers:
                found = [hit for text in texts for hit in leaks(text, national, raw)]
                assert not found, f"{where} carries the caller number {raw!r}: {found}"

    never_whole()
    unchecked = event_types_in_code() - day.types
    assert not unchecked, f"event types the scenario never wrote, so never checked for caller numbers: {unchecked}"


def event_types_in_code() -> set[str]:
    """Event types the code can write: string literals naming one, wherever they are (constants included)."""
    pattern = re.compile(r"""["']((?:call|caller|incident|assignment|unit|taker|referral|sms|bridge)\.[a-z_]+)["']""")
    found: set[str] = set()
    for package in ("dispatch", "ui", "telephony"):
        for path in (ROOT / package).rglob("*.py"):
            found |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def test_the_scan_finds_the_event_types() -> None:
    """The scan itself finds the types we know the code writes (so a broken scan cannot pass silently)."""
    found = event_types_in_code()
    assert {"call.offered", "call.message", "assignment.escalated", "referral.created", "sms.sent"} <= found
