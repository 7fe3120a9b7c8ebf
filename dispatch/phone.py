"""Caller numbers: normalised to E.164 so 0812..., +62812... and 62812... are one caller; an extension is kept apart."""

from __future__ import annotations

import re

import phonenumbers

_WITHHELD = {"", "anonymous", "unknown", "restricted", "private", "unavailable"}
# An Indonesian number in E.164 (+62812...) or national form (0812...) whose length libphonenumber calls
# possible comes out of parse + format as +62 and the rest; checking that here is 13-20x cheaper, which
# matters when a burst of 200 callers is written in one transaction (tests/dispatch/test_phone.py compares
# both ways for every length and first digit).
_ID_NUMBER = re.compile(r"(?:\+62|0)[1-9]\d*")
# An extension at the end of a number: "ext 5", "ext. 5", "ext:5", "extension 5", ";ext=5" (RFC 3966), "x5", "#5",
# and the Indonesian "pes. 5" / "psw 5" (pesawat) and "ekst. 5". Its digits were appended to the number's
# (security finding 8: "+62 812-3456-7890 ext 5" was stored as +62812345678905, another caller).
_EXTENSION = re.compile(
    r";?\s*(?:(?:ext(?:ension|n)?|ekst(?:ensi)?|pes(?:awat)?|psw)\.?|x|#)\s*[:=.]?\s*(\d+)\s*$", re.IGNORECASE
)
_DIGIT = re.compile(r"\d")


def _possible_lengths(region: str) -> frozenset[int]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    general = metadata.general_desc if metadata is not None else None
    return frozenset(general.possible_length if general is not None else ())


_ID_LENGTHS = _possible_lengths("ID")


def normalise(raw: str | None, *, region: str = "ID") -> str | None:
    """E.164 for anything dialable; None when the number is withheld.

    A string that is not a possible number (a short code, garbage from a trunk) keeps its digits, so history
    still groups it, but gets no '+'. An extension is left out (`extension` gives it): the number without it is
    the caller, for history and abuse flags.
    """
    if raw is None:
        return None
    text = split_extension(raw)[0].strip()
    if text.lower() in _WITHHELD:
        return None
    digits = re.sub(r"[^\d+]", "", text)
    if not digits.strip("+"):
        return None
    # "62812..." without the plus is how many trunks and SMS gateways send Indonesian numbers.
    if digits.startswith("62") and len(digits) >= 10:
        digits = "+" + digits
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if region == "ID" and _ID_NUMBER.fullmatch(digits):
        national = digits[3:] if digits.startswith("+") else digits[1:]
        if len(national) in _ID_LENGTHS:
            return "+62" + national
    return _parsed(digits, region)


def split_extension(raw: str) -> tuple[str, str | None]:
    """The number and its extension's digits: ("+62 812-3456-7890", "5") for "+62 812-3456-7890 ext. 5", and
    (raw, None) without one. A marker with no digit before it starts no extension: "#5" alone is a number."""
    found = _EXTENSION.search(raw)
    if found is None or _DIGIT.search(raw, 0, found.start()) is None:
        return raw, None
    return raw[: found.start()], found.group(1)


def extension(raw: str | None) -> str | None:
    """The digits of the extension written after the number, if any ("5" for "0812-3456-7890 pes. 5")."""
    return split_extension(raw)[1] if raw else None


def _parsed(digits: str, region: str) -> str:
    """What libphonenumber makes of `digits` (only digits, perhaps a leading '+')."""
    try:
        parsed = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return digits.lstrip("+")
    if not phonenumbers.is_possible_number(parsed):
        return digits.lstrip("+")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_HIDDEN_MIN = 4  # digits a masked number always hides, however short it is


def mask(number: str | None) -> str | None:
    """Keep the country code, the operator prefix and the last three digits: enough to tell callers apart.

    A short number (a local one a trunk passed through that could not be made E.164) keeps only its last two
    characters: with the prefix and three digits kept, a 7-character number was shown whole."""
    if not number:
        return number
    if len(number) <= 6:
        return "*" * len(number)
    head = 6 if number.startswith("+") else 4
    if len(number) - head - 3 < _HIDDEN_MIN:
        return "*" * (len(number) - 2) + number[-2:]
    return number[:head] + "*" * (len(number) - head - 3) + number[-3:]
