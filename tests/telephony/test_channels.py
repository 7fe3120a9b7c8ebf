"""Reading ARI channel snapshots: the channel's creation time as Asterisk writes it."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from telephony.ari.channels import created_at

WIB = timezone(timedelta(hours=7))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-22T07:53:58.652+0000", datetime(2026, 11, 22, 7, 53, 58, 652000, tzinfo=UTC)),  # as captured
        ("2026-11-22T14:53:58.652+0700", datetime(2026, 11, 22, 14, 53, 58, 652000, tzinfo=WIB)),
        ("2026-11-22T07:53:58.652123+0000", datetime(2026, 11, 22, 7, 53, 58, 652123, tzinfo=UTC)),
        ("2026-11-22T07:53:58+0000", datetime(2026, 11, 22, 7, 53, 58, tzinfo=UTC)),
    ],
)
def test_creation_time_is_read_with_its_offset(raw: str, expected: datetime) -> None:
    got = created_at({"creationtime": raw})
    assert got == expected
    assert got is not None and got.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("raw", [None, "", "kemarin", "2026-11-22T07:53:58.652", "2026-13-40T07:53:58.652+0000"])
def test_missing_unreadable_or_naive_creation_time_is_none(raw: str | None) -> None:
    assert created_at({"creationtime": raw} if raw is not None else {}) is None
