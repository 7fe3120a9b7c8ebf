"""What Twilio is told to do: TwiML read back as Twilio reads it, the URL it signed, and what the log says is on."""

import logging
import xml.etree.ElementTree as ET

import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from config.settings import Settings
from telephony import twilio_voice as twilio

Node = tuple[str, dict[str, str], str | None, list["Node"]]
ENQUEUE: Node = (
    "Enqueue",
    {
        "action": "/telephony/twilio/queue-exit?call_id=7",
        "method": "POST",
        "waitUrl": "/telephony/twilio/wait?call_id=7",
        "waitUrlMethod": "POST",
    },
    "tanggap112",
    [],
)
PAUSE: Node = ("Pause", {"length": "8"}, None, [])


def read(twiml: str) -> Node:
    def node(e: ET.Element) -> Node:
        return (e.tag, dict(e.attrib), e.text, [node(c) for c in e])

    return node(ET.fromstring(twiml))


def say(text: str) -> Node:
    return ("Say", {"language": "id-ID"}, text, [])


def settings(**kw: object) -> Settings:
    return Settings(database_url="sqlite://", region="padang", **kw)


@pytest.mark.parametrize("flagged", [False, True])
def test_a_caller_is_greeted_and_queued_and_a_flagged_one_warned_first(flagged: bool) -> None:
    warning = [say(twilio.WARNING)] if flagged else []
    expected = ("Response", {}, None, [*warning, say(twilio.GREETING), ENQUEUE])
    assert read(twilio.greet_and_enqueue(7, flagged=flagged)) == expected


def test_a_retry_says_so_and_queues_the_same_call_again() -> None:
    assert read(twilio.retry(7)) == ("Response", {}, None, [say(twilio.RETRY), ENQUEUE])


@pytest.mark.parametrize(("position", "spoken"), [(None, 1), (1, 1), (3, 3)])
def test_hold_tells_the_place_in_the_queue(position: int | None, spoken: int) -> None:
    text = f"Mohon tetap di saluran. Anda berada di antrean nomor {spoken}."
    assert read(twilio.hold(position)) == ("Response", {}, None, [say(text), PAUSE])


def test_dialling_a_taker_reports_back_for_this_call_and_this_taker() -> None:
    client: Node = (
        "Client",
        {
            "statusCallback": "/telephony/twilio/client-status?call_id=7&taker_id=3",
            "statusCallbackEvent": "answered",
            "statusCallbackMethod": "POST",
        },
        "taker1",
        [],
    )
    dial: Node = (
        "Dial",
        {"action": "/telephony/twilio/dial?call_id=7&taker_id=3", "method": "POST", "timeout": "20"},
        None,
        [client],
    )
    assert read(twilio.dial_taker(7, 3, "taker1")) == ("Response", {}, None, [dial])


@pytest.mark.parametrize("flagged", [False, True])
def test_the_major_incident_s_announcement_asks_one_key_and_queues_without_one(flagged: bool) -> None:
    warning = [say(twilio.WARNING)] if flagged else []
    action = {"action": "/telephony/twilio/choice?call_id=7", "method": "POST"}
    gather: Node = ("Gather", {**action, "numDigits": "1", "timeout": "6"}, None, [say(twilio.ANNOUNCEMENT)])
    redirect: Node = ("Redirect", {"method": "POST"}, "/telephony/twilio/choice?call_id=7", [])
    expected = ("Response", {}, None, [*warning, gather, redirect])
    assert read(twilio.announce(7, flagged=flagged)) == expected


def test_after_the_choice_the_caller_is_queued_and_choice_3_hears_the_information_first() -> None:
    queued = [say(twilio.HOLD_ON), ENQUEUE]
    assert read(twilio.after_choice(7)) == ("Response", {}, None, queued)
    action = {"action": "/telephony/twilio/choice?call_id=7&info=1", "method": "POST"}
    gather: Node = ("Gather", {**action, "numDigits": "1", "timeout": "2"}, None, [say("Info"), say(twilio.PERSON)])
    assert read(twilio.after_choice(7, "Info")) == ("Response", {}, None, [gather, *queued])


@pytest.mark.parametrize(
    ("digits", "choice"), [("", None), ("1", 1), ("2", 2), ("3", 3), ("0", 1), ("*", 1), ("21", 2), ("12", 1)]
)
def test_a_key_at_the_announcement_is_its_choice_and_any_other_key_is_1(digits: str, choice: int | None) -> None:
    assert twilio.choice_of(digits) == choice


def test_without_the_database_the_desks_are_rung_all_at_once_or_the_caller_held() -> None:
    numbers: list[Node] = [("Number", {}, "+6281100001", []), ("Number", {}, "+6281100002", [])]
    dial: Node = ("Dial", {"action": "/telephony/twilio/dial", "method": "POST", "timeout": "20"}, None, numbers)
    expected = ("Response", {}, None, [say(twilio.GREETING), dial])
    assert read(twilio.greet_and_dial_desks(["+6281100001", "+6281100002"])) == expected
    assert read(twilio.hold_on()) == ("Response", {}, None, [say(twilio.HOLD_ON), PAUSE])


def test_the_short_answers() -> None:
    assert read(twilio.hangup()) == ("Response", {}, None, [("Hangup", {}, None, [])])
    assert read(twilio.empty()) == ("Response", {}, None, [])
    assert read(twilio.leave_queue()) == ("Response", {}, None, [("Leave", {}, None, [])])
    assert read(twilio.sms_reply(None)) == ("Response", {}, None, [])
    assert read(twilio.sms_reply("hi")) == ("Response", {}, None, [("Message", {}, "hi", [])])


def test_a_callback_url_carries_only_the_values_given() -> None:
    assert twilio.url("/telephony/twilio/wait") == "/telephony/twilio/wait"
    assert twilio.url("/telephony/twilio/wait", call_id=None) == "/telephony/twilio/wait"
    assert twilio.url("/telephony/twilio/wait", call_id=7, taker_id=None) == "/telephony/twilio/wait?call_id=7"


@pytest.mark.parametrize("public", ["https://112.padangkota.go.id/cad", "https://112.padangkota.go.id/cad/"])
def test_behind_a_proxy_the_signed_url_is_the_public_one(public: str) -> None:
    conf = settings(public_url=public)
    assert twilio.signed_url(conf, "http://127.0.0.1:8112/telephony/twilio/voice") == (
        "https://112.padangkota.go.id/cad/telephony/twilio/voice"
    )
    assert twilio.signed_url(conf, "http://127.0.0.1:8112/telephony/twilio/wait?call_id=7") == (
        "https://112.padangkota.go.id/cad/telephony/twilio/wait?call_id=7"
    )


def test_only_the_trailing_slash_of_the_public_url_is_dropped() -> None:
    conf = settings(public_url="https://cad.example.go.id/PSCX/")
    assert twilio.signed_url(conf, "http://127.0.0.1:8112/telephony/twilio/voice") == (
        "https://cad.example.go.id/PSCX/telephony/twilio/voice"
    )


def test_a_signature_made_for_the_public_url_is_accepted() -> None:
    conf = settings(public_url="https://112.padangkota.go.id/", twilio_auth_token=SecretStr("t0ken"))
    params = {"CallSid": "CA1", "From": "+6281200000000"}
    signature = RequestValidator("t0ken").compute_signature(
        "https://112.padangkota.go.id/telephony/twilio/voice", params
    )
    assert twilio.valid_signature(conf, "http://127.0.0.1:8112/telephony/twilio/voice", params, signature)
    assert not twilio.valid_signature(
        conf, "http://127.0.0.1:8112/telephony/twilio/voice", {**params, "To": "1"}, signature
    )


@pytest.mark.parametrize(
    ("sid", "sender", "on"),
    [(None, None, False), ("AC1", None, False), (None, "+6275100000", False), ("AC1", "+6275100000", True)],
)
def test_sms_needs_the_token_the_account_and_a_sender(sid: str | None, sender: str | None, on: bool) -> None:
    conf = settings(twilio_auth_token=SecretStr("t0ken"), twilio_account_sid=sid, twilio_from_number=sender)
    assert twilio.sms_enabled(conf) is on
    assert not twilio.sms_enabled(settings(twilio_account_sid=sid, twilio_from_number=sender))


def logged(caplog: pytest.LogCaptureFixture, conf: Settings) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="telephony.twilio_voice"):
        twilio.log_status(conf)
    return [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]


def test_the_log_says_what_is_switched_on(caplog: pytest.LogCaptureFixture) -> None:
    assert logged(caplog, settings()) == [
        "Twilio webhooks disabled (TANGGAP_TWILIO_AUTH_TOKEN not set): /telephony/twilio/* answer 503"
    ]
    assert logged(caplog, settings(twilio_auth_token=SecretStr("t0ken"))) == [
        "Twilio webhooks enabled; signatures checked against the request URL (set TANGGAP_PUBLIC_URL behind a proxy)",
        "SMS alerts to units disabled (TANGGAP_TWILIO_ACCOUNT_SID / TWILIO_FROM_NUMBER not set)",
    ]
    full = settings(
        twilio_auth_token=SecretStr("t0ken"),
        twilio_account_sid="AC1",
        twilio_from_number="+6275100000",
        public_url="https://112.padangkota.go.id",
    )
    assert logged(caplog, full) == ["Twilio webhooks enabled; signatures checked against https://112.padangkota.go.id"]
