"""Twilio webhooks signed with the real RequestValidator: voice queueing, status callbacks, SMS and AML."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from config.settings import Settings
from dispatch.calls.models import Call, CallerLocation
from dispatch.events.service import since
from tests.telephony.conftest import FIXTURES
from ui.app import create_app
from ui.context import Ctx

TOKEN = "twilio-auth-token-for-tests"
BASE = "http://testserver"
AML_V2 = 'A"ML=2;en=112;et=1795334438;lo=-0.94921,100.35432,8.5;lt=17;lc=68;ls=G'


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, region="padang", twilio_auth_token=SecretStr(TOKEN), journal_dir=tmp_path / "journal"
    )


@pytest.fixture
def client(ctx: Ctx) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=ctx)) as client:
        yield client


def payload(name: str, **changes: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((FIXTURES / "twilio" / name).read_text())
    return {**data, **changes}


def signed(client: TestClient, path: str, form: dict[str, str], *, url_base: str = BASE, token: str = TOKEN) -> Any:
    signature = RequestValidator(token).compute_signature(url_base + path, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def calls(ctx: Ctx) -> list[Call]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Call).order_by(Call.id)))


def events(ctx: Ctx) -> list[Any]:
    with ctx.sessions() as session:
        return list(since(session, 0, limit=5000))


def test_unsigned_or_wrongly_signed_requests_are_refused(client: TestClient, ctx: Ctx) -> None:
    form = payload("voice_incoming.json")
    assert client.post("/telephony/twilio/voice", data=form).status_code == 403
    assert signed(client, "/telephony/twilio/voice", form, token="not-the-token").status_code == 403
    assert calls(ctx) == []


def test_incoming_call_is_recorded_greeted_and_enqueued(client: TestClient, ctx: Ctx) -> None:
    response = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert '<Say language="id-ID">' in response.text and ">tanggap112</Enqueue>" in response.text
    [call] = calls(ctx)
    assert (call.provider, call.caller, call.status) == ("twilio", "+6281234567890", "offered")
    # Twilio retries the webhook: still one call
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    assert len(calls(ctx)) == 1


def test_queue_to_taker_and_back(client: TestClient, ctx: Ctx, make_taker: Callable[..., int]) -> None:
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    [call] = calls(ctx)
    waiting = signed(client, f"/telephony/twilio/wait?call_id={call.id}", {"QueuePosition": "1"})
    assert "<Pause" in waiting.text and "antrean nomor 1" in waiting.text
    taker = make_taker("client-taker1")
    assert "<Leave" in signed(client, f"/telephony/twilio/wait?call_id={call.id}", {"QueuePosition": "1"}).text
    dial = signed(client, f"/telephony/twilio/queue-exit?call_id={call.id}", {"QueueResult": "leave"})
    assert ">client-taker1</Client>" in dial.text and 'statusCallbackEvent="answered"' in dial.text
    # the taker did not pick up: back in the queue, the taker stays unavailable
    retry = signed(
        client, f"/telephony/twilio/dial?call_id={call.id}&taker_id={taker}", {"DialCallStatus": "no-answer"}
    )
    assert "<Enqueue" in retry.text
    assert "call.requeued" in [e.type for e in events(ctx)]
    # another taker answers
    other = make_taker("client-taker2")
    signed(client, f"/telephony/twilio/wait?call_id={call.id}", {})
    signed(client, f"/telephony/twilio/client-status?call_id={call.id}&taker_id={other}", {"CallStatus": "in-progress"})
    assert calls(ctx)[0].status == "answered" and calls(ctx)[0].taker_id == other
    done = signed(client, "/telephony/twilio/status", payload("voice_incoming.json", CallStatus="completed"))
    assert done.status_code == 200 and calls(ctx)[0].status == "ended"


def test_caller_hangs_up_in_queue_is_abandoned(client: TestClient, ctx: Ctx) -> None:
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    signed(client, "/telephony/twilio/status", payload("voice_incoming.json", CallStatus="canceled"))
    [call] = calls(ctx)
    assert call.status == "ended" and call.classification == "abandoned"


def test_behind_a_proxy_the_public_url_is_validated(ctx: Ctx) -> None:
    ctx.settings = ctx.settings.model_copy(update={"public_url": "https://112.padang.go.id/cad"})
    with TestClient(create_app(ctx=ctx)) as client:
        form = payload("voice_incoming.json")
        assert signed(client, "/telephony/twilio/voice", form).status_code == 403
        ok = signed(client, "/telephony/twilio/voice", form, url_base="https://112.padang.go.id/cad")
        assert ok.status_code == 200


def test_without_token_the_webhooks_are_disabled(ctx: Ctx) -> None:
    ctx.settings = ctx.settings.model_copy(update={"twilio_auth_token": None})
    with TestClient(create_app(ctx=ctx)) as client:
        response = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    assert response.status_code == 503


def test_sms_becomes_a_text_call(client: TestClient, ctx: Ctx) -> None:
    response = signed(client, "/telephony/twilio/sms", payload("sms_incoming.json"))
    assert "<Message>112: Pesan Anda diterima" in response.text
    [call] = calls(ctx)
    assert call.provider == "sms" and call.is_text and "kebakaran" in (call.text or "")


def test_aml_sms_becomes_a_location_report(client: TestClient, ctx: Ctx, caplog: pytest.LogCaptureFixture) -> None:
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    caplog.set_level(logging.INFO)
    good = signed(client, "/telephony/twilio/sms", payload("sms_incoming.json", Body=AML_V2, MessageSid="SM1"))
    bad = signed(
        client,
        "/telephony/twilio/sms",
        payload("sms_incoming.json", Body=AML_V2.replace("lo=", "lo=x"), MessageSid="SM2"),
    )
    assert good.status_code == bad.status_code == 200 and "<Message>" not in good.text
    with ctx.sessions() as session:
        rows = list(session.scalars(select(CallerLocation).order_by(CallerLocation.id)))
    assert [(r.valid, r.lat) for r in rows] == [(True, -0.94921), (False, None)]
    assert rows[1].raw and rows[1].error and rows[1].call_id == calls(ctx)[0].id
    assert [e.type for e in events(ctx)].count("call.location") == 1
    assert len(calls(ctx)) == 1  # AML is not a text call
    assert "+62812" not in caplog.text and "100.35" not in caplog.text and "0.949" not in caplog.text


@pytest.mark.parametrize(
    "body",
    [AML_V2.replace("lc=68", "lc=²"), AML_V2.replace("et=1795", "et=\u0661\u0667\u0669")],
    ids=["superscript", "arabic-indic"],
)
def test_aml_with_digits_of_other_scripts_is_kept_raw(client: TestClient, ctx: Ctx, body: str) -> None:
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    response = signed(client, "/telephony/twilio/sms", payload("sms_incoming.json", Body=body, MessageSid="SM4"))
    assert response.status_code == 200
    with ctx.sessions() as session:
        [row] = session.scalars(select(CallerLocation))
    assert (row.valid, row.raw, row.lat) == (False, body, None) and "ASCII" in (row.error or "")
    assert "call.location" not in [e.type for e in events(ctx)]


def test_aml_the_parser_cannot_read_is_kept_raw(
    client: TestClient, ctx: Ctx, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the parser (here: an IndexError it never raises today) loses nothing and answers Twilio 200."""

    def broken(text: str, **_: Any) -> Any:
        raise IndexError(text)

    monkeypatch.setattr("telephony.aml.parse", broken)
    response = signed(client, "/telephony/twilio/sms", payload("sms_incoming.json", Body=AML_V2, MessageSid="SM5"))
    assert response.status_code == 200
    with ctx.sessions() as session:
        [row] = session.scalars(select(CallerLocation))
    assert (row.valid, row.raw, row.error) == (False, AML_V2, "AML message could not be read")
    assert "IndexError" in caplog.text and "100.35" not in caplog.text


def test_sms_delivery_status_is_an_event(client: TestClient, ctx: Ctx) -> None:
    form = {"MessageSid": "SM3", "MessageStatus": "delivered", "To": "+6281100000001"}
    response = signed(client, "/telephony/twilio/sms-status?unit_id=1&incident_id=2&assignment_id=3", form)
    assert response.status_code == 200
    status = [e for e in events(ctx) if e.type == "sms.status"]
    assert status[0].data["status"] == "delivered" and status[0].unit_id == 1


def test_fixture_files_exist() -> None:
    assert Path(FIXTURES / "twilio" / "voice_incoming.json").is_file()


def sms(client: TestClient, body: str, sid: str, *, url_base: str = BASE) -> Any:
    form = payload("sms_incoming.json", Body=body, MessageSid=sid)
    return signed(client, "/telephony/twilio/sms", form, url_base=url_base)


def conversation(client: TestClient, call_id: int, headers: dict[str, str]) -> list[tuple[str, str, str]]:
    detail = client.get(f"/api/v1/calls/{call_id}", headers=headers).json()
    return [(m["direction"], m["body"], m["status"]) for m in detail["messages"]]


def test_a_texting_callers_next_sms_joins_their_call(
    client: TestClient, ctx: Ctx, make_user: Callable[..., str]
) -> None:
    taker = {"Authorization": f"Bearer {make_user('call_taker')}"}
    first = sms(client, "Tolong, kebakaran di Jl. Sudirman", "SM-a1")
    second = sms(client, "dekat masjid raya, asap banyak", "SM-a2")
    sms(client, "dekat masjid raya, asap banyak", "SM-a2")  # Twilio retries the webhook: one message
    assert "<Message>112: Pesan Anda diterima" in first.text
    assert second.status_code == 200 and "<Message>" not in second.text  # a person answers, not the robot
    [call] = calls(ctx)
    assert call.is_text and call.text == "Tolong, kebakaran di Jl. Sudirman"
    assert conversation(client, call.id, taker) == [
        ("in", "Tolong, kebakaran di Jl. Sudirman", "received"),
        ("in", "dekat masjid raya, asap banyak", "received"),
    ]
    client.post(f"/api/v1/calls/{call.id}/end", headers=taker).raise_for_status()
    sms(client, "terima kasih", "SM-a3")  # after the call ended: a new text call
    assert len(calls(ctx)) == 2
    assert [e.type for e in events(ctx)].count("call.message") == 3


def test_a_call_taker_replies_by_sms_and_the_delivery_report_follows(
    client: TestClient, ctx: Ctx, make_user: Callable[..., str]
) -> None:
    taker = {"Authorization": f"Bearer {make_user('call_taker')}"}
    sent: list[tuple[str, str, str | None]] = []

    def send(to: str, body: str, callback: str | None) -> str:
        sent.append((to, body, callback))
        return "SM-reply-1"

    client.app.state.sms_send = send  # type: ignore[attr-defined]  # the network edge: Twilio's REST API
    public = "https://112.padang.go.id"  # Twilio signs what it was configured with, behind the proxy
    ctx.settings = ctx.settings.model_copy(update={"public_url": public})
    sms(client, "Tolong, saya tidak bisa bicara", "SM-b1", url_base=public)
    [call] = calls(ctx)
    answer = client.post(f"/api/v1/calls/{call.id}/messages", json={"text": " Petugas menuju lokasi. "}, headers=taker)
    assert answer.status_code == 201, answer.text
    reply = answer.json()
    assert (reply["direction"], reply["body"], reply["status"]) == ("out", "Petugas menuju lokasi.", "sent")
    assert sent == [
        (
            "+6281234567890",
            "Petugas menuju lokasi.",
            f"https://112.padang.go.id/telephony/twilio/sms-status?reply_id={reply['id']}",
        )
    ]
    path = f"/telephony/twilio/sms-status?reply_id={reply['id']}"
    report = signed(client, path, {"MessageSid": "SM-reply-1", "MessageStatus": "delivered"}, url_base=public)
    assert report.status_code == 200
    assert conversation(client, call.id, taker)[-1] == ("out", "Petugas menuju lokasi.", "delivered")
    statuses = [e.data["status"] for e in events(ctx) if e.type == "call.message" and e.data["direction"] == "out"]
    assert statuses == ["sending", "sent", "delivered"]  # the log says what the caller was told, and when
    # Twilio does not promise order: a `sent` report arriving after `delivered` is stale and changes nothing.
    late = signed(client, path, {"MessageSid": "SM-reply-1", "MessageStatus": "sent"}, url_base=public)
    assert late.status_code == 200
    assert conversation(client, call.id, taker)[-1] == ("out", "Petugas menuju lokasi.", "delivered")
    assert [e.type for e in events(ctx)].count("call.message") == 4  # the caller's text and the three steps


def test_a_reply_that_cannot_be_sent_is_kept_as_failed(
    client: TestClient, ctx: Ctx, make_user: Callable[..., str]
) -> None:
    taker = {"Authorization": f"Bearer {make_user('call_taker')}"}

    def send(to: str, body: str, callback: str | None) -> str:
        raise ConnectionError("Twilio unreachable")

    client.app.state.sms_send = send  # type: ignore[attr-defined]
    sms(client, "Tolong", "SM-c1")
    [call] = calls(ctx)
    answer = client.post(f"/api/v1/calls/{call.id}/messages", json={"text": "Kami datang"}, headers=taker)
    assert answer.status_code == 201
    assert (answer.json()["status"], answer.json()["error"]) == ("failed", "not sent (ConnectionError)")


def test_replies_are_refused_clearly_and_write_nothing(
    client: TestClient, ctx: Ctx, make_user: Callable[..., str]
) -> None:
    taker = {"Authorization": f"Bearer {make_user('call_taker')}"}
    sms(client, "Tolong", "SM-d1")
    signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    text_call, voice_call = calls(ctx)
    assert client.get("/api/v1/region", headers=taker).json()["sms_replies"] is False  # the console says so
    unconfigured = client.post(f"/api/v1/calls/{text_call.id}/messages", json={"text": "Halo"}, headers=taker)
    assert unconfigured.status_code == 503 and "TANGGAP_TWILIO" in unconfigured.json()["error"]
    client.app.state.sms_send = lambda to, body, callback: "SM-x"  # type: ignore[attr-defined]
    assert client.get("/api/v1/region", headers=taker).json()["sms_replies"] is True
    voice = client.post(f"/api/v1/calls/{voice_call.id}/messages", json={"text": "Halo"}, headers=taker)
    assert voice.status_code == 422 and "voice call" in voice.json()["error"]
    for body in ({"text": "   "}, {"text": "x" * 601}, {"txt": "Halo"}, {}):
        assert client.post(f"/api/v1/calls/{text_call.id}/messages", json=body, headers=taker).status_code == 422
    assert client.post("/api/v1/calls/999/messages", json={"text": "Halo"}, headers=taker).status_code == 404
    responder = {"Authorization": f"Bearer {make_user('responder', unit='DAMKAR-03-PMK1')}"}
    assert (
        client.post(f"/api/v1/calls/{text_call.id}/messages", json={"text": "x"}, headers=responder).status_code == 403
    )
    assert [m for m in conversation(client, text_call.id, taker) if m[0] == "out"] == []
    bad = signed(client, "/telephony/twilio/sms-status?reply_id=12345", {"MessageSid": "SM-y", "MessageStatus": "sent"})
    assert bad.status_code == 422
