"""Caller numbers at the edges: trunk formats, what is not a number, and masking short and national numbers."""

import pytest

from dispatch.phone import extension, mask, normalise, split_extension


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6281234567890", "+6281234567890"),  # the trunk's form: country code without the plus
        ("6281234567", "+6281234567"),  # the shortest such number that is still taken as one
        ("00 62 812 3456 7890", "+6281234567890"),  # international prefix 00
        ("00441632960000", "+441632960000"),
    ],
)
def test_trunk_and_international_forms_are_one_caller(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0812", "0812"),  # too short for a mobile: digits kept, no '+62' invented
        ("+6281", "6281"),
        ("+12", "12"),  # not even parseable
        ("12-34", "1234"),  # only the digits are kept
    ],
)
def test_what_is_not_a_possible_number_keeps_its_digits_without_a_plus(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize("raw", ["+", " + ", "Anonymous", "PRIVATE"])
def test_no_digits_is_a_withheld_number(raw: str) -> None:
    assert normalise(raw) is None


@pytest.mark.parametrize(("number", "masked"), [("123", "***"), ("112", "***"), ("123456", "******")])
def test_a_short_code_is_masked_whole(number: str, masked: str) -> None:
    assert mask(number) == masked


def test_a_national_number_keeps_its_operator_prefix_and_last_three_digits() -> None:
    assert mask("081234567890") == "0812*****890"
    assert mask("+6281234567890") == "+62812*****890"


def test_the_shortest_numbers_that_keep_their_prefix_hide_four_digits() -> None:
    """An 11-digit national mobile (and its E.164 form) is long enough to keep prefix and last three digits."""
    assert mask("08123456789") == "0812****789"
    assert mask("+628123456789") == "+62812****789"


def test_a_digit_at_the_very_start_is_a_number_before_the_marker() -> None:
    """The digit that makes the text before a marker a number may be its first character."""
    assert split_extension("7#5") == ("7", "5")
    assert split_extension("7 ext 5") == ("7", "5")


def test_the_digits_after_the_marker_do_not_make_it_a_number() -> None:
    """Only digits before the marker count: '#5' has one after it and is a short code, not an extension."""
    assert split_extension("#5") == ("#5", None)
    assert split_extension("pes. 5") == ("pes. 5", None)


def test_extension_of_nothing_is_none() -> None:
    assert extension(None) is None
    assert extension("") is None


def test_possible_lengths_are_libphonenumbers_general_lengths_and_none_for_an_unknown_region() -> None:
    """_possible_lengths runs at import (the quick path's table); called here, so a broken one shows."""
    import phonenumbers

    from dispatch.phone import _ID_LENGTHS, _possible_lengths

    general = phonenumbers.PhoneMetadata.metadata_for_region("ID").general_desc
    assert _possible_lengths("ID") == frozenset(general.possible_length) == _ID_LENGTHS
    assert 12 in _possible_lengths("ID")  # 0812-3456-7890 without its 0: the length of most mobiles
    assert _possible_lengths("ZZ") == frozenset()  # no metadata at all: no quick path for it
