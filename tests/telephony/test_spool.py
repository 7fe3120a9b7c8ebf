"""The local journal: what is written survives, is replayed in order once, and waits for a database still down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from telephony.spool import Spool, SpoolUnwritable


def test_entries_are_replayed_in_order_and_then_gone(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "twilio")
    for n in range(3):
        spool.append({"n": n, "caller": "+62811"})
    seen: list[int] = []
    assert spool.pending() == 3
    assert spool.replay(lambda e: seen.append(e["n"])) == 3
    assert seen == [0, 1, 2]
    assert spool.pending() == 0
    assert spool.replay(lambda e: seen.append(e["n"])) == 0
    assert seen == [0, 1, 2]
    assert list(tmp_path.iterdir()) == []


def test_a_failing_entry_keeps_itself_and_the_later_ones_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "twilio")
    for n in range(4):
        spool.append({"n": n})
    seen: list[int] = []

    def down_at_2(entry: dict[str, Any]) -> None:
        if entry["n"] == 2:
            raise ConnectionError("database down")
        seen.append(entry["n"])

    assert spool.replay(down_at_2) == 0
    assert seen == [0, 1]
    spool.append({"n": 4})  # written while the replay waits: after the kept ones
    assert spool.pending() == 3
    assert spool.replay(lambda e: seen.append(e["n"])) == 3
    assert seen == [0, 1, 2, 3, 4]
    assert spool.pending() == 0


def test_a_line_cut_by_a_crash_is_skipped_not_fatal(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "bridge")
    spool.append({"n": 1})
    with spool.path.open("a") as out:
        out.write('{"n": 2, "cal')
    seen: list[int] = []
    assert spool.replay(lambda e: seen.append(e["n"])) == 1
    assert seen == [1]


def test_a_crash_mid_replay_replays_the_rest_again(tmp_path: Path) -> None:
    Spool(tmp_path, "twilio").append({"n": 1})
    first = Spool(tmp_path, "twilio")

    def crash(_entry: dict[str, Any]) -> None:
        raise KeyboardInterrupt  # not an Exception: the process dies inside apply

    with pytest.raises(KeyboardInterrupt):
        first.replay(crash)
    seen: list[int] = []
    assert Spool(tmp_path, "twilio").replay(lambda e: seen.append(e["n"])) == 1
    assert seen == [1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through a read-only folder's permissions")
def test_an_unwritable_folder_raises_and_says_why(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    spool = Spool(folder, "twilio")
    with pytest.raises(SpoolUnwritable):
        spool.append({"n": 1})
    assert spool.error
    folder.chmod(0o700)
    spool.append({"n": 1})
    assert spool.error is None


def test_a_folder_that_is_a_file_raises_for_root_too(tmp_path: Path) -> None:
    blocker = tmp_path / "journal"
    blocker.write_text("not a folder")
    spool = Spool(blocker, "twilio")
    with pytest.raises(SpoolUnwritable):
        spool.append({"n": 1})
    assert spool.error
