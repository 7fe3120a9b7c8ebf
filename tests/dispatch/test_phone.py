import pytest

from dispatch.phone import mask, normalise


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
