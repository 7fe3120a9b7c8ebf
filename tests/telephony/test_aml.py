"""AML SMS parsing: both versions, the length check, and odd inputs that must never crash intake."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime

import pytest

from telephony.aml import AmlError, AmlFix, is_aml, parse

IMSI, IMEI = "510101234567890", "353472104343540"
V1 = f'A"ML=1;lt=-0.94921;lg=+100.35432;rd=12;top=20261122080045;lc=68;pm=G;si={IMSI};ei={IMEI};mcc=510;mnc=10;ml='
V2 = 'A"ML=2;en=112;et=1795334438;lo=-0.94921,100.35432,8.5;lt=17;lc=68;lz=12.1,3.0;ls=G;ei=1;nc=51010;hc=51010;lg=id'


def v1(prefix: str = V1) -> str:
    """Append the ml field so that it states the total length, itself included."""
    for digits in (2, 3):
        guess = len(prefix) + digits
        if len(str(guess)) == digits:
            return prefix + str(guess)
    raise AssertionError


def test_v1_reference_example_length() -> None:
    text = (
        'A"ML=1;lt=+48.902963;lg=+2.516582;rd=1964;top=20220210134654;lc=95;pm=G;si=<IMSI>;ei=<IMEI>;'
        "mcc=208;mnc=01;ml=131"
    )
    real = text.replace("<IMSI>", "208011234567890").replace("<IMEI>", "353472104343540")
    fix = parse(real)
    assert (fix.lat, fix.lon, fix.accuracy_m, fix.confidence, fix.source) == (48.902963, 2.516582, 1964, 95, "gnss")
    assert fix.fix_at == datetime(2022, 2, 10, 13, 46, 54, tzinfo=UTC)


def test_v1() -> None:
    fix = parse(v1())
    assert fix == AmlFix(
        version=1,
        lat=-0.94921,
        lon=100.35432,
        accuracy_m=12,
        confidence=68,
        source="gnss",
        fix_at=datetime(2026, 11, 22, 8, 0, 45, tzinfo=UTC),
        imei=IMEI,
    )


def test_v1_length_mismatch_is_an_error() -> None:
    text = v1()
    with pytest.raises(AmlError, match="length"):
        parse(text.replace("rd=12", "rd=1"))
    with pytest.raises(AmlError, match="no ml"):
        parse(V1[:-4])


def test_v2_branches_on_version() -> None:
    fix = parse(V2)
    assert (fix.version, fix.lat, fix.lon, fix.accuracy_m, fix.dialled, fix.altitude_m) == (
        2,
        -0.94921,
        100.35432,
        8.5,
        "112",
        12.1,
    )
    assert fix.call_start == datetime.fromtimestamp(1795334438, tz=UTC)
    assert fix.fix_at is not None and (fix.fix_at - fix.call_start).total_seconds() == 17


def test_v2_unknown_time_to_fix() -> None:
    fix = parse(V2.replace("lt=17", "lt=-9999"))
    assert fix.fix_at is None and fix.lat == -0.94921


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('A"ML=3;lt=1;lg=1', "version"),
        (V2.replace("lo=-0.94921,100.35432,8.5", "lo=-0.94921"), "lo=lat,lon"),
        (V2.replace("lo=-0.94921", "lo=-91.0"), "out of range"),
        (V2.replace("lo=-0.94921,100.35432", "lo=0,0"), "0,0"),
        (V2.replace("lo=-0.94921", "lo=nan"), "finite"),
        (V2.replace("lc=68", "lc=101"), "confidence"),
        (V2.replace("lc=68", "lc=6;lc=7"), "repeated"),
        (V2.replace("ls=G", "ls=N"), "no location"),
        (V2.replace("et=1795334438", "et=99999999999999"), "epoch"),
        (V2.replace("et=1795334438", "et=99999999999"), "call start is out of range"),  # the year 5138
        (V2.replace("lt=17", "lt=1e20"), "time to fix is out of range"),  # past the year 9999: an OverflowError
        (v1(V1.replace("top=20261122080045", "top=99991231235959")), "fix time is out of range"),
        ("hello 112", "not an AML"),
    ],
)
def test_clear_errors_without_personal_data(text: str, reason: str) -> None:
    with pytest.raises(AmlError, match=reason) as info:
        parse(text)
    assert "0.949" not in str(info.value) and "100.35" not in str(info.value)


def test_a_fix_time_after_the_sms_came_is_an_error() -> None:
    """The fix time comes from the handset's GNSS: one later than the SMS (plus a clock's skew) is forged."""
    fix = parse(V2, now=datetime(2026, 11, 22, 7, 56, tzinfo=UTC))  # a handset's clock a few minutes ahead
    assert fix.fix_at == datetime(2026, 11, 22, 8, 0, 55, tzinfo=UTC)
    with pytest.raises(AmlError, match="future"):
        parse(V2, now=datetime(2026, 11, 22, 7, 55, tzinfo=UTC))


def test_is_aml() -> None:
    assert is_aml(V2) and is_aml("  " + V2) and not is_aml("AML=1") and not is_aml(None) and not is_aml("")


# Characters that str.isdigit() or float() take for digits although AML, GSM 7-bit text, has none of them.
_OTHER_DIGITS = "²¹\u0661\u0663\uff11\u09e9"


@pytest.mark.parametrize(
    "text",
    [
        v1(V1.replace("lc=68", "lc=²")),
        v1(V1.replace("lc=68", "lc=\u0666\u0668")),
        V2.replace("et=1795334438", "et=\u0661\u0667\u0669\u0665"),
        V2.replace("lo=-0.94921", "lo=-\u0660.94921"),
        V1 + "\uff11\uff13\uff11",
        V1 + "²",
    ],
    ids=[
        "superscript-confidence",
        "arabic-confidence",
        "arabic-epoch",
        "arabic-latitude",
        "fullwidth-length",
        "superscript-length",
    ],
)
def test_digits_of_other_scripts_are_an_aml_error(text: str) -> None:
    with pytest.raises(AmlError, match="ASCII"):
        parse(text)


def _mutations(rng: random.Random, base: str) -> str:
    text = list(base)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        pos = rng.randrange(len(text) + 1)
        if op == 0 and text:
            del text[min(pos, len(text) - 1)]
        elif op == 1:
            text.insert(pos, rng.choice(string.printable + "éø\u200b;=,\x00" + _OTHER_DIGITS))
        elif op == 2:
            text = text[:pos]
        elif op == 3:
            text.insert(pos, rng.choice([";", "=", ",", ";;", "=1e308", "inf", "-", "ml=1"]))
        else:
            fields = "".join(text).split(";")
            rng.shuffle(fields)
            text = list(";".join(fields))
    return "".join(text)


@pytest.mark.parametrize("base", [v1(), V2], ids=["v1", "v2"])
def test_odd_inputs_only_ever_give_a_fix_or_an_aml_error(base: str) -> None:
    rng = random.Random(112)
    reasons: set[str] = set()
    for _ in range(3000):
        text = _mutations(rng, base)
        try:
            fix = parse(text)
        except AmlError as exc:
            reasons.add(str(exc))
            continue
        assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180
        assert fix.accuracy_m is None or fix.accuracy_m >= 0
    assert reasons and all(reasons)
