"""Callbacks from the console over the API (ui/routes/callbacks.py), on SQLite and PostgreSQL: the call-takers'
list, placing a callback by hand, through the PBX (the bridge's claim and steps) and through Twilio (a sender put
in the app, and Twilio's signed webhooks), the outcome, masking and the refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from config.settings import Settings
from dispatch.calls import service as calls
from dispatch.calls.models import Callback
from dispatch.events.service import since
from dispatch.users import service as users
from ui.app import create_app
from ui.context import Ctx

TOKEN = "twilio-auth-token-for-tests"
Headers = dict[str, str]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """A server that knows a PBX (its bridge runs elsewhere) and can place Twilio calls."""
    return Settings(
        database_url=database_url,
        region="padang",
        ari_url="http://127.0.0.1:9",
        twilio_auth_token=SecretStr(TOKEN),
        public_url="https://tanggap.example.id",
        callback_caller_id="+62751112",
        journal_dir=tmp_path / "journal",
    )


@pytest.fixture
def client(ctx: Ctx) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=ctx)) as client:
        yield client


def login(ctx: Ctx, username: str, role: str, sip: str | None = None) -> Headers:
    with ctx.sessions() as session:
        user = users.create(session=session, username=username, password="rahasia-112", role=role, sip_endpoint=sip)
        token = users.issue_token(session=session, user=user, kind="api", lifetime=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def taker(ctx: Ctx) -> Headers:
    return login(ctx, "taker1", "call_taker", sip="taker1")


def abandoned(ctx: Ctx, caller: str = "081234567890", provider: str = "asterisk", channel: str = "c1") -> int:
    with ctx.sessions() as session:
        call = calls.offer(session=session, caller=caller, provider=provider, channel_id=channel)
        return calls.end(session=session, call_id=call.id, actor="ari").id


def attempt_row(ctx: Ctx, callback_id: int) -> Callback:
    with ctx.sessions() as session:
        found = session.get(Callback, callback_id)
        assert found is not None
        return found


def signed(client: TestClient, path: str, form: dict[str, str]) -> Any:
    signature = RequestValidator(TOKEN).compute_signature("https://tanggap.example.id" + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def test_the_call_takers_see_the_list_in_full_and_a_dispatcher_masked(
    client: TestClient, ctx: Ctx, taker: Headers, make_user: Callable[..., str]
) -> None:
    call_id = abandoned(ctx)
    rows = client.get("/api/v1/callbacks", headers=taker).json()
    assert [(r["id"], r["caller"], r["attempts"]) for r in rows] == [(call_id, "+6281234567890", [])]
    dispatcher = login(ctx, "disp1", "dispatcher")
    assert client.get("/api/v1/callbacks", headers=dispatcher).json()[0]["caller"] == "+62812*****890"
    responder = {"Authorization": f"Bearer {make_user('responder', unit='DAMKAR-03-PMK1')}"}
    assert client.get("/api/v1/callbacks", headers=responder).status_code == 403


def test_without_pbx_or_twilio_the_number_is_dialled_by_hand_and_the_outcome_recorded(
    client: TestClient, ctx: Ctx
) -> None:
    call_id = abandoned(ctx, provider="simulator")  # a made-up number: never dialled by a machine
    taker = login(ctx, "taker2", "call_taker")
    made = client.post(f"/api/v1/calls/{call_id}/callbacks", headers=taker)
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["route"], body["state"], body["caller"]) == ("none", "requested", "+6281234567890")
    done = client.post(
        f"/api/v1/callbacks/{body['id']}/outcome", json={"outcome": "reached", "note": "  aman  "}, headers=taker
    )
    assert done.status_code == 200 and done.json()["outcome"] == "reached" and done.json()["note"] == "aman"
    assert client.get("/api/v1/callbacks", headers=taker).json() == []
    again = client.post(f"/api/v1/callbacks/{body['id']}/outcome", json={"outcome": "voicemail"}, headers=taker)
    assert again.status_code == 409 and again.json()["kind"] == "Conflict"


def test_a_pbx_callback_is_claimed_by_the_bridge_and_its_steps_recorded(
    client: TestClient, ctx: Ctx, taker: Headers
) -> None:
    call_id = abandoned(ctx)
    made = client.post(f"/api/v1/calls/{call_id}/callbacks", headers={**taker, "Idempotency-Key": "cb-key-0001"})
    assert made.status_code == 201 and made.json()["route"] == "pbx" and made.json()["desk"] == "taker1"
    replay = client.post(f"/api/v1/calls/{call_id}/callbacks", headers={**taker, "Idempotency-Key": "cb-key-0001"})
    assert replay.json()["id"] == made.json()["id"]  # a retry places nothing twice
    twice = client.post(f"/api/v1/calls/{call_id}/callbacks", headers=taker)
    assert twice.status_code == 409 and "under way" in twice.json()["error"]
    bridge = login(ctx, "bridge", "telephony")
    assert client.post("/api/v1/telephony/callbacks/claim", headers=taker).status_code == 403
    jobs = client.post("/api/v1/telephony/callbacks/claim", headers=bridge).json()
    assert jobs == [
        {"id": made.json()["id"], "call_id": call_id, "number": "+6281234567890", "desk": "taker1",
         "caller_id": "+62751112"}
    ]  # fmt: skip
    step = f"/api/v1/telephony/callbacks/{jobs[0]['id']}/state"
    assert client.post(step, json={"state": "ringing", "ref": "tanggap-callback-1-desk"}, headers=bridge).is_success
    assert client.post(step, json={"state": "busy"}, headers=bridge).json() == {"id": jobs[0]["id"], "state": "busy"}
    assert client.post(step, json={"state": "answered"}, headers=bridge).status_code == 409
    assert client.post(step, json={"state": "exploded"}, headers=bridge).status_code == 422
    shown = client.get(f"/api/v1/callbacks/{jobs[0]['id']}", headers=taker).json()
    assert shown["state"] == "busy" and shown["ringing_at"] and shown["ended_at"]
    with ctx.sessions() as session:
        kinds = [e.type for e in since(session, 0, limit=500) if e.type.startswith("callback.")]
    assert kinds == ["callback.requested", "callback.ringing", "callback.busy"]


def test_a_twilio_callback_rings_the_takers_client_then_dials_the_caller_showing_our_number(
    client: TestClient, ctx: Ctx
) -> None:
    placed: list[tuple[str, str, str, str | None]] = []

    def place(to: str, from_: str, twiml: str, status_callback: str | None) -> str:
        placed.append((to, from_, twiml, status_callback))
        return "CA0123456789abcdef0123456789abcdef"

    client.app.state.callback_place = place  # type: ignore[attr-defined]
    call_id = abandoned(ctx, provider="twilio", channel="CAfeed")
    taker = login(ctx, "taker3", "call_taker")  # no desk phone: Twilio Client by username
    body = client.post(f"/api/v1/calls/{call_id}/callbacks", headers=taker).json()
    assert (body["route"], body["state"], body["desk"]) == ("twilio", "ringing", "taker3")
    ((to, _from, twiml, status),) = placed
    assert to == "client:taker3" and status == (
        f"https://tanggap.example.id/telephony/twilio/callback-status?callback_id={body['id']}"
    )
    assert 'callerId="+62751112"' in twiml and "<Number>+6281234567890</Number>" in twiml
    assert f"callback-dial?callback_id={body['id']}" in twiml
    dial = f"/telephony/twilio/callback-dial?callback_id={body['id']}"
    assert client.post(dial, data={"DialCallStatus": "completed"}).status_code == 403  # unsigned
    answered = signed(client, dial, {"DialCallStatus": "completed", "DialCallDuration": "42"})
    assert answered.status_code == 200 and "<Hangup" in answered.text
    row = attempt_row(ctx, body["id"])
    assert row.state == "answered" and row.answered_at and row.ended_at
    assert row.provider_ref == "CA0123456789abcdef0123456789abcdef"
    late = signed(client, f"/telephony/twilio/callback-status?callback_id={body['id']}", {"CallStatus": "busy"})
    assert late.status_code == 200 and attempt_row(ctx, body["id"]).state == "answered"  # out of order: dropped


def test_twilio_refusing_or_the_caller_not_answering_is_recorded_with_a_reason(client: TestClient, ctx: Ctx) -> None:
    def refuse(to: str, from_: str, twiml: str, status_callback: str | None) -> str:
        raise ConnectionError("twilio unreachable")

    client.app.state.callback_place = refuse  # type: ignore[attr-defined]
    taker = login(ctx, "taker4", "call_taker")
    first = client.post(f"/api/v1/calls/{abandoned(ctx, provider='twilio')}/callbacks", headers=taker)
    assert first.status_code == 201 and first.json()["state"] == "failed"
    assert first.json()["reason"] == "Twilio tidak dapat melakukan panggilan balik (ConnectionError)"

    client.app.state.callback_place = lambda *args: "CA1"  # type: ignore[attr-defined]
    second = client.post(f"/api/v1/calls/{abandoned(ctx, provider='twilio', channel='c2')}/callbacks", headers=taker)
    path = f"/telephony/twilio/callback-dial?callback_id={second.json()['id']}"
    said = signed(client, path, {"DialCallStatus": "no-answer"})
    assert "Penelepon tidak menjawab" in said.text and attempt_row(ctx, second.json()["id"]).state == "no_answer"

    third = client.post(f"/api/v1/calls/{abandoned(ctx, provider='twilio', channel='c3')}/callbacks", headers=taker)
    path = f"/telephony/twilio/callback-status?callback_id={third.json()['id']}"
    assert signed(client, path, {"CallStatus": "no-answer"}).status_code == 200
    row = attempt_row(ctx, third.json()["id"])
    assert row.state == "failed" and row.reason == "Telepon Twilio petugas tidak diangkat"


def test_refusals_are_4xx_with_a_reason(client: TestClient, ctx: Ctx, taker: Headers) -> None:
    assert client.post("/api/v1/calls/999999/callbacks", headers=taker).status_code == 404
    with ctx.sessions() as session:
        live = calls.offer(session=session, caller="0812", provider="asterisk", channel_id="live").id
    refused = client.post(f"/api/v1/calls/{live}/callbacks", headers=taker)
    assert refused.status_code == 422 and "abandoned" in refused.json()["error"]
    withheld = abandoned(ctx, caller="anonymous", channel="anon")
    assert client.post(f"/api/v1/calls/{withheld}/callbacks", headers=taker).status_code == 422
    short = client.post(f"/api/v1/calls/{abandoned(ctx, caller='1500', channel='s')}/callbacks", headers=taker)
    assert short.status_code == 201 and short.json()["state"] == "failed" and "manual" in short.json()["reason"]
    bad = client.post("/api/v1/callbacks/1/outcome", json={"outcome": "maybe"}, headers=taker)
    assert bad.status_code == 422
    assert (
        client.post("/api/v1/callbacks/999999/outcome", json={"outcome": "reached"}, headers=taker).status_code == 404
    )
