"""Twilio during a major incident: the announcement in a `<Gather>` of one key, a `<Redirect>` for the caller who
presses nothing, the choice kept on the call, the information for 3, and every caller queued in the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring
from fastapi.testclient import TestClient
from pydantic import SecretStr

from config.settings import Settings
from dispatch.calls.models import Call
from dispatch.major import service as major
from dispatch.major.schemas import MajorIn
from telephony import twilio_voice
from tests.telephony.test_twilio import calls, payload, signed
from ui.app import create_app
from ui.context import Ctx

TOKEN = "twilio-auth-token-for-tests"
CHOICE = "/telephony/twilio/choice"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url, region="padang", twilio_auth_token=SecretStr(TOKEN), journal_dir=tmp_path / "journal"
    )


@pytest.fixture
def client(ctx: Ctx) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=ctx)) as client:
        yield client


@pytest.fixture
def disaster(ctx: Ctx) -> int:
    with ctx.sessions() as session:
        body = MajorIn(name="Gempa Padang M7,2", type_code="earthquake")
        return major.declare(session=session, region=ctx.region, body=body, user_id=None, actor="sup1").id


def twiml(text: str) -> Element:
    root: Element = fromstring(text)
    assert root.tag == "Response"
    return root


def call_in(client: TestClient, ctx: Ctx) -> tuple[Call, Element]:
    response = signed(client, "/telephony/twilio/voice", payload("voice_incoming.json"))
    assert response.status_code == 200
    [call] = calls(ctx)
    return call, twiml(response.text)


def press(client: TestClient, call_id: int, digits: str | None, *, info: bool = False) -> Element:
    path = f"{CHOICE}?call_id={call_id}" + ("&info=1" if info else "")
    form = {**payload("voice_incoming.json"), **({"Digits": digits} if digits is not None else {})}
    response = signed(client, path, form)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    return twiml(response.text)


def enqueued(root: Element) -> bool:
    return root[-1].tag == "Enqueue" and root[-1].text == "tanggap112"


def choice_of(ctx: Ctx, call_id: int) -> int | None:
    with ctx.sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None
        return call.major_choice


def test_without_a_major_incident_the_caller_is_greeted_and_queued(client: TestClient, ctx: Ctx) -> None:
    _, root = call_in(client, ctx)
    assert [e.tag for e in root] == ["Say", "Enqueue"] and root[0].text == twilio_voice.GREETING


def test_the_announcement_gathers_one_key_and_falls_through_to_choice_one(
    client: TestClient, ctx: Ctx, disaster: int
) -> None:
    call, root = call_in(client, ctx)
    assert [e.tag for e in root] == ["Gather", "Redirect"]
    gather, redirect = root
    assert gather.get("numDigits") == "1" and gather.get("timeout") == "6"
    assert gather.get("action") == f"{CHOICE}?call_id={call.id}" and gather.get("method") == "POST"
    assert [(e.tag, e.get("language")) for e in gather] == [("Say", "id-ID")]
    assert "Tekan 1" in (gather[0].text or "") and "Tekan 3 untuk informasi" in (gather[0].text or "")
    assert redirect.text == gather.get("action") and redirect.get("method") == "POST"
    # no key: the <Redirect> comes without Digits, the caller is queued and counts as 1
    root = press(client, call.id, None)
    assert enqueued(root) and choice_of(ctx, call.id) is None


@pytest.mark.parametrize(("digits", "choice"), [("1", 1), ("2", 2), ("*", 1), ("9", 1), ("0", 1)])
def test_a_key_is_kept_and_noise_counts_as_one(
    client: TestClient, ctx: Ctx, disaster: int, digits: str, choice: int
) -> None:
    call, _ = call_in(client, ctx)
    root = press(client, call.id, digits)
    assert enqueued(root) and "Gather" not in [e.tag for e in root]
    assert choice_of(ctx, call.id) == choice


def test_three_hears_the_information_and_is_queued(client: TestClient, ctx: Ctx, disaster: int) -> None:
    call, _ = call_in(client, ctx)
    root = press(client, call.id, "3")
    assert choice_of(ctx, call.id) == 3
    assert [e.tag for e in root] == ["Gather", "Say", "Enqueue"] and enqueued(root)
    gather = root[0]
    assert gather.get("action") == f"{CHOICE}?call_id={call.id}&info=1"
    information, person = (e.text or "" for e in gather)
    assert information.startswith("Informasi keadaan darurat: Gempa Padang M7,2.")
    assert "Shelter Nurul Haq" in information  # the region's shelters (without a position: the first of the list)
    assert person == twilio_voice.PERSON
    # 0: a person, please; the choice stays, and the caller is queued
    assert enqueued(press(client, call.id, "0", info=True)) and choice_of(ctx, call.id) == 3
    # noise during the information changes nothing; 1 does
    assert enqueued(press(client, call.id, "#", info=True)) and choice_of(ctx, call.id) == 3
    assert enqueued(press(client, call.id, "1", info=True)) and choice_of(ctx, call.id) == 1


def test_the_choice_webhook_is_signed_and_checked(client: TestClient, ctx: Ctx, disaster: int) -> None:
    call, _ = call_in(client, ctx)
    form = {**payload("voice_incoming.json"), "Digits": "2"}
    assert client.post(f"{CHOICE}?call_id={call.id}", data=form).status_code == 403
    assert signed(client, f"{CHOICE}?call_id={call.id}&info=5", form).status_code == 422
    assert choice_of(ctx, call.id) is None
    # a call we have no record of: the caller is queued all the same
    assert enqueued(press(client, 999_999, "2"))


def test_the_call_is_found_by_its_callsid_without_call_id(client: TestClient, ctx: Ctx, disaster: int) -> None:
    call, _ = call_in(client, ctx)
    form = {**payload("voice_incoming.json"), "Digits": "2"}
    assert signed(client, CHOICE, form).status_code == 200
    assert choice_of(ctx, call.id) == 2
