"""Callbacks through Twilio: ring the call-taker's Twilio Client, then dial the abandoned caller from it.

`calls.create` rings the desk (`client:<identity>`, as the queue's <Dial><Client> does) with TwiML that, once the
call-taker picks up, tells them whom they are calling and dials the caller showing the command center's number.
Twilio reports the desk's leg to `/telephony/twilio/callback-status` and the caller's (<Dial>'s action) to
`/telephony/twilio/callback-dial`: both URLs must be absolute, since TwiML given inline has no URL to resolve
a relative one against, so without TANGGAP_PUBLIC_URL the attempt stays `ringing` and the call-taker records
what came of it. The sender is a function (`Place`) so that tests and the simulator put in their own.
"""

from __future__ import annotations

from collections.abc import Callable

from twilio.twiml.voice_response import VoiceResponse

from config.settings import Settings
from telephony.twilio_voice import LANGUAGE, url

Place = Callable[[str, str, str, str | None], str]  # (to, from, twiml, status_callback) -> CallSid
BRIEFING = "Panggilan balik ke penelepon 112 yang terputus. Mohon tunggu, nomor penelepon sedang dihubungi."
NOT_ANSWERED = "Penelepon tidak menjawab. Catat hasil panggilan balik di konsol."
RING_S = 30  # how long the caller's phone rings

# <Dial>'s DialCallStatus for the caller's leg -> the callback's state, and why it failed.
DIAL: dict[str, tuple[str, str | None]] = {
    "completed": ("answered", None),
    "answered": ("answered", None),
    "busy": ("busy", None),
    "no-answer": ("no_answer", None),
    "failed": ("failed", "Nomor penelepon tidak dapat dihubungi (Twilio: failed)"),
    "canceled": ("failed", "Panggilan ke penelepon dibatalkan sebelum diangkat"),
}
# The desk's leg (the call `calls.create` made) ending before anyone picked up.
DESK: dict[str, str] = {
    "busy": "Telepon Twilio petugas sedang sibuk",
    "no-answer": "Telepon Twilio petugas tidak diangkat",
    "failed": "Twilio tidak dapat menghubungi telepon petugas",
    "canceled": "Panggilan ke telepon petugas dibatalkan",
}


def enabled(settings: Settings) -> bool:
    """Twilio can place calls: an account, its token and a number to call from."""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    return bool(token and settings.twilio_account_sid and settings.twilio_from_number)


def caller_id(settings: Settings) -> str | None:
    """What the caller sees: the command center's number, else the Twilio number the call comes from."""
    return settings.callback_caller_id or settings.twilio_from_number


def hooks(public_url: str | None, callback_id: int) -> tuple[str | None, str | None]:
    """The absolute URLs of the desk leg's status callback and of <Dial>'s action, or None without a public URL."""
    if not public_url:
        return None, None
    base = public_url.rstrip("/")
    return (
        base + url("/telephony/twilio/callback-status", callback_id=callback_id),
        base + url("/telephony/twilio/callback-dial", callback_id=callback_id),
    )


def twiml(number: str, shown_as: str | None, action: str | None) -> str:
    """What the call-taker's Client runs once answered: a briefing, then the caller rung for `RING_S`."""
    response = VoiceResponse()
    response.say(BRIEFING, language=LANGUAGE)
    options: dict[str, object] = {"timeout": RING_S}
    if shown_as:
        options["caller_id"] = shown_as
    if action:
        options.update(action=action, method="POST")
    dial = response.dial(**options)
    dial.number(number)
    return str(response)


def not_answered() -> str:
    """What the call-taker hears when the caller did not pick up, before their leg hangs up."""
    response = VoiceResponse()
    response.say(NOT_ANSWERED, language=LANGUAGE)
    response.hangup()
    return str(response)


def twilio_placer(settings: Settings) -> Place:
    """Place calls from the command center's Twilio account (`enabled` must hold)."""
    from twilio.rest import Client

    assert settings.twilio_auth_token is not None
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())

    def place(to: str, from_: str, text: str, status_callback: str | None) -> str:
        extra: dict[str, object] = {}
        if status_callback:
            extra = {
                "status_callback": status_callback,
                "status_callback_event": ["answered", "completed"],
                "status_callback_method": "POST",
            }
        return str(client.calls.create(to=to, from_=from_, twiml=text, timeout=RING_S, **extra).sid)

    return place
