import pytest

from dispatch.phone import extension, mask, normalise, split_extension


@pytest.mark.parametrize(
    "raw", ["081234567890", "+6281234567890", "6281234567890", "0812-3456-7890", "(0812) 3456 7890", "006281234567890"]
)
def test_indonesian_spellings_are_one_caller(raw: str) -> None:
    assert normalise(raw) == "+6281234567890"


@pytest.mark.parametrize("raw", [None, "", "anonymous", "Unknown", "  "])
def test_withheld_numbers_are_none(raw: str | None) -> None:
    assert normalise(raw) is None


def test_foreign_number_from_the_asterisk_capture() -> None:
    assert normalise("+4930555000") == "+4930555000"


def test_short_codes_keep_their_digits() -> None:
    assert normalise("112") == "112"


def test_mask_keeps_prefix_and_last_digits() -> None:
    assert mask("+6281234567890") == "+62812*****890"
    assert mask(None) is None


def test_a_short_number_is_never_shown_whole() -> None:
    """A number the trunk passed through that could not be made E.164 is masked too (UU PDP): at least four
    of its characters are hidden, whatever its length."""
    assert mask("1234567") == "*****67" and mask("+123456") == "*****56"
    for n in range(1, 17):
        for number in ("9" * n, "+" + "9" * (n - 1)):
            masked = mask(number)
            assert masked is not None and len(masked) == len(number)
            assert masked.count("*") >= min(len(number), 4), (number, masked)


def test_the_quick_path_for_indonesian_numbers_agrees_with_phonenumbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """normalise() skips libphonenumber for '+62...' and '0...' numbers of a possible length: same answer."""
    import random

    from dispatch import phone

    assert {9, 10, 11, 12, 13} <= phone._ID_LENGTHS  # the quick path is really taken for mobile numbers
    rng = random.Random(112)
    spellings = []
    for length in range(1, 20):
        for first in "0123456789":
            for _ in range(5):
                rest = first + "".join(rng.choice("0123456789") for _ in range(length - 1))
                spellings += ["+62" + rest, "0" + rest, "62" + rest]
    quick = [normalise(s) for s in spellings]
    monkeypatch.setattr(phone, "_ID_LENGTHS", frozenset())  # every number through libphonenumber
    assert quick == [normalise(s) for s in spellings]


EXTENSIONS = [
    "+62 812-3456-7890 ext 5",
    "+62 812-3456-7890 ext. 5",
    "+62 812-3456-7890 EXT.5",
    "+62 812-3456-7890 ext:5",
    "+62 812-3456-7890 extension 5",
    "+62 812-3456-7890 x5",
    "+62 812-3456-7890 X 5",
    "+62 812-3456-7890#5",
    "+62 812-3456-7890 # 5",
    "0812-3456-7890 pes. 5",
    "0812-3456-7890 Pesawat 5",
    "0812-3456-7890 psw 5",
    "0812-3456-7890 ekst. 5",
    "tel:+62-812-3456-7890;ext=5",
    "6281234567890 ext 5 ",
]


@pytest.mark.parametrize("raw", EXTENSIONS)
def test_an_extension_is_kept_apart_and_never_appended_to_the_number(raw: str) -> None:
    """Security finding 8: '+62 812-3456-7890 ext 5' was stored as +62812345678905, another caller's number."""
    assert normalise(raw) == "+6281234567890"
    assert extension(raw) == "5"


def test_split_extension_gives_the_number_as_written_and_the_extension_digits() -> None:
    assert split_extension("+62 812-3456-7890 ext. 5") == ("+62 812-3456-7890", "5")
    assert split_extension("0812-3456-7890 pes. 1234") == ("0812-3456-7890", "1234")
    assert split_extension("(0751) 123456 x 21") == ("(0751) 123456", "21")
    assert split_extension("+6281234567890") == ("+6281234567890", None)


def test_a_landline_with_a_long_extension_is_still_the_switchboard() -> None:
    assert normalise("(0751) 123456 psw 12345678") == normalise("0751123456") == "+62751123456"
    assert extension("(0751) 123456 psw 12345678") == "12345678"


@pytest.mark.parametrize("raw", ["+6281234567890", "0812-3456-7890", "112", "Anonymous", "", None, "ext 5"])
def test_no_extension_without_a_marker_and_digits_after_it(raw: str | None) -> None:
    assert extension(raw) is None


@pytest.mark.parametrize(("raw", "expected"), [("#5", "5"), ("x12", "12"), ("ext 5", "5")])
def test_a_marker_with_no_number_before_it_starts_no_extension(raw: str, expected: str) -> None:
    """What is written before the marker must hold a digit; otherwise the digits are the number (a short code)."""
    assert split_extension(raw) == (raw, None)
    assert normalise(raw) == expected
