"""Twilio: is it configured, is a webhook really from Twilio, and the TwiML we answer with.

The webhooks themselves are routes in `ui/routes/telephony.py`; everything Twilio-specific they need is here.
TwiML is built with the twilio library's `VoiceResponse` / `MessagingResponse`, never by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from config.settings import Settings

log = logging.getLogger(__name__)
LANGUAGE = "id-ID"
QUEUE_NAME = "tanggap112"
GREETING = "Anda terhubung dengan layanan darurat 112. Mohon tetap di saluran, petugas kami segera menjawab."
WARNING = (
    "Nomor Anda tercatat beberapa kali melakukan panggilan yang bukan keadaan darurat. "
    "Panggilan ini direkam. Jika Anda dalam keadaan darurat, tetap di saluran."
)
HOLD = "Mohon tetap di saluran. Anda berada di antrean nomor {position}."
HOLD_ON = "Mohon tetap di saluran, petugas kami segera menjawab."  # the place in the queue is not known
RETRY = "Petugas belum dapat menjawab. Mohon tetap di saluran."
SMS_ACK = "112: Pesan Anda diterima. Petugas akan segera membalas. Jika bisa, sebutkan alamat atau patokan lokasi."
ENDED = {"completed", "no-answer", "busy", "failed", "canceled"}
# During a major incident (issue 25), instead of the greeting: the announcement and its choice, then for choice 3
# the public information (dispatch.major.shelters.public_message) and a person if the caller wants one.
ANNOUNCEMENT = (
    "Anda terhubung dengan layanan darurat 112. Saat ini sedang terjadi bencana besar. "
    "Tekan 1 jika ada orang terjebak, terluka, atau dalam bahaya sekarang. "
    "Tekan 2 untuk melaporkan kerusakan atau bahaya. Tekan 3 untuk informasi."
)
PERSON = "Untuk berbicara dengan petugas, tekan 0 atau tetap di saluran."
CHOICE_TIMEOUT_S = 6  # after the announcement, then the caller is queued as 1
CHOICE_PATH = "/telephony/twilio/choice"


def enabled(settings: Settings) -> bool:
    return settings.twilio_auth_token is not None and bool(settings.twilio_auth_token.get_secret_value())


def sms_enabled(settings: Settings) -> bool:
    return enabled(settings) and bool(settings.twilio_account_sid) and bool(settings.twilio_from_number)


def log_status(settings: Settings) -> None:
    if not enabled(settings):
        log.info("Twilio webhooks disabled (TANGGAP_TWILIO_AUTH_TOKEN not set): /telephony/twilio/* answer 503")
        return
    where = settings.public_url or "the request URL (set TANGGAP_PUBLIC_URL behind a proxy)"
    log.info("Twilio webhooks enabled; signatures checked against %s", where)
    if not sms_enabled(settings):
        log.info("SMS alerts to units disabled (TANGGAP_TWILIO_ACCOUNT_SID / TWILIO_FROM_NUMBER not set)")


def signed_url(settings: Settings, request_url: str) -> str:
    """The URL Twilio signed: what it was configured with, which behind a proxy is the public one."""
    if not settings.public_url:
        return request_url
    public = urlsplit(settings.public_url.rstrip("/"))
    parts = urlsplit(request_url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{public.scheme}://{public.netloc}{public.path}{parts.path}{query}"


def valid_signature(settings: Settings, request_url: str, params: Mapping[str, str], signature: str | None) -> bool:
    if not signature or not enabled(settings):
        return False
    assert settings.twilio_auth_token is not None
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    return bool(validator.validate(signed_url(settings, request_url), dict(params), signature))


def url(path: str, **query: object) -> str:
    """A relative callback URL; Twilio resolves it against the webhook's own URL."""
    params = {k: v for k, v in query.items() if v is not None}
    return path + (f"?{urlencode(params)}" if params else "")


def greet_and_enqueue(call_id: int | None, *, flagged: bool) -> str:
    """Greet and queue. Without `call_id` (the database could not be asked) the queue's callbacks name the call
    by Twilio's CallSid, which they carry anyway."""
    response = VoiceResponse()
    if flagged:
        response.say(WARNING, language=LANGUAGE)
    response.say(GREETING, language=LANGUAGE)
    _enqueue(response, call_id)
    return str(response)


def choice_of(digits: str) -> int | None:
    """What the caller's key at the announcement means: 1, 2 or 3; any other key (noise, a wrong key) 1; no key
    None, which the queue counts as 1 too (`dispatch.major.enums.priority_of`)."""
    if not digits:
        return None
    return {"1": 1, "2": 2, "3": 3}.get(digits[:1], 1)


def announce(call_id: int, *, flagged: bool, timeout_s: int = CHOICE_TIMEOUT_S) -> str:
    """The major incident's announcement and its choice, one key. Without a key the <Gather> falls through to the
    <Redirect>, which queues the caller as 1: nobody is dropped for not pressing."""
    response = VoiceResponse()
    if flagged:
        response.say(WARNING, language=LANGUAGE)
    action = url(CHOICE_PATH, call_id=call_id)
    gather = response.gather(num_digits=1, timeout=timeout_s, action=action, method="POST")
    gather.say(ANNOUNCEMENT, language=LANGUAGE)
    response.redirect(action, method="POST")
    return str(response)


def after_choice(call_id: int | None, information: str | None = None) -> str:
    """Queue the caller; for choice 3 first the public information, during which 0 (a person) skips the rest and
    1 or 2 changes the choice. Whatever is pressed, or nothing, the caller ends up in the queue."""
    response = VoiceResponse()
    if information:
        action = url(CHOICE_PATH, call_id=call_id, info=1)
        gather = response.gather(num_digits=1, timeout=2, action=action, method="POST")
        gather.say(information, language=LANGUAGE)
        gather.say(PERSON, language=LANGUAGE)
    response.say(HOLD_ON, language=LANGUAGE)
    _enqueue(response, call_id)
    return str(response)


def greet_and_dial_desks(numbers: Sequence[str], timeout_s: int = 20) -> str:
    """Greet and ring these desk phones all at once, the first to answer takes the caller: for when the
    database cannot be asked who is ready. The <Dial> action hangs up after a conversation, and queues the caller
    when no desk answered."""
    response = VoiceResponse()
    response.say(GREETING, language=LANGUAGE)
    dial = response.dial(action=url("/telephony/twilio/dial"), method="POST", timeout=timeout_s)
    for number in numbers:
        dial.number(number)
    return str(response)


def _enqueue(response: VoiceResponse, call_id: int | None) -> None:
    response.enqueue(
        QUEUE_NAME,
        wait_url=url("/telephony/twilio/wait", call_id=call_id),
        wait_url_method="POST",
        action=url("/telephony/twilio/queue-exit", call_id=call_id),
        method="POST",
    )


def hold(position: int | None) -> str:
    """The wait music loop: Twilio requests the waitUrl again when this finishes."""
    response = VoiceResponse()
    response.say(HOLD.format(position=position or 1), language=LANGUAGE)
    response.pause(length=8)
    return str(response)


def hold_on() -> str:
    """Hold without a place in the queue (the database cannot be asked); Twilio asks the waitUrl again after."""
    response = VoiceResponse()
    response.say(HOLD_ON, language=LANGUAGE)
    response.pause(length=8)
    return str(response)


def leave_queue() -> str:
    response = VoiceResponse()
    response.leave()
    return str(response)


def dial_taker(call_id: int, taker_id: int, identity: str, timeout_s: int = 20) -> str:
    response = VoiceResponse()
    dial = response.dial(
        action=url("/telephony/twilio/dial", call_id=call_id, taker_id=taker_id), method="POST", timeout=timeout_s
    )
    dial.client(
        identity,
        status_callback_event="answered",
        status_callback=url("/telephony/twilio/client-status", call_id=call_id, taker_id=taker_id),
        status_callback_method="POST",
    )
    return str(response)


def retry(call_id: int | None) -> str:
    response = VoiceResponse()
    response.say(RETRY, language=LANGUAGE)
    _enqueue(response, call_id)
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())


def sms_reply(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
