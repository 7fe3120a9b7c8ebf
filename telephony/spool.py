"""A journal on the local disk for what the database, or the server, could not take when a caller came in.

A caller must never wait on, or hear an error from, a database that blinked: the webhook (or the bridge) writes
what happened here, fsync'd before it answers, and answers the caller as usual. When the database is back the
entries are replayed in the order they were written. Every replayed step is idempotent on the server (the
provider's reference names the call), so an entry applied twice, after a crash mid-replay, changes nothing.

One JSON object a line. Appends go to `<name>.jsonl`; a replay first renames that file to
`<name>.replaying.jsonl` (atomic), so new entries never mix with the ones being applied, and deletes it once
every entry in it is applied. An entry that cannot be applied yet stops the replay there: it and the ones after it
are kept, in order, for the next try. This module loads no ORM: the bridge's process uses it too.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
Entry = dict[str, Any]


class SpoolUnwritable(Exception):
    """The journal could not be written (disk full, read-only, missing folder): an alarm, not a caller's error."""


class Spool:
    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.path = folder / f"{name}.jsonl"
        self.replaying = folder / f"{name}.replaying.jsonl"
        self._lock = threading.Lock()  # appends come from request threads, replays from one task
        self._replay_lock = threading.Lock()
        self.error: str | None = None  # why the last append failed, until one succeeds again

    def append(self, entry: Entry) -> None:
        """Write `entry` and fsync it; raises `SpoolUnwritable` (after logging it) when the disk refuses."""
        line = json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=str) + "\n"
        try:
            with self._lock:
                self.folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            self.error = f"{type(exc).__name__}: {exc.strerror or exc}"
            log.error("journal %s cannot be written (%s): the step is not kept", self.path, self.error)
            raise SpoolUnwritable(self.error) from exc
        self.error = None

    def pending(self) -> int:
        """How many entries wait to be replayed."""
        with self._lock:
            return sum(len(_read(path)) for path in (self.replaying, self.path))

    def replay(self, apply: Callable[[Entry], None]) -> int:
        """Apply the waiting entries, oldest first, and return how many were applied.

        `apply` raising stops the replay: that entry and those after it are kept for the next call, which is
        how an entry waits for a database that is still down. One replay runs at a time."""
        with self._replay_lock:
            done = self._replay_file(apply)
            if done is None:  # stopped inside the entries of an earlier replay
                return 0
            with self._lock:
                if not self.path.exists():
                    return done
                os.replace(self.path, self.replaying)
                _sync_folder(self.folder)
            more = self._replay_file(apply)
            return done + (more or 0)

    def _replay_file(self, apply: Callable[[Entry], None]) -> int | None:
        """The entries of `self.replaying`: their count once all are applied (the file is then gone), or None
        if one failed (the file then holds it and the ones after it)."""
        entries = _read(self.replaying)
        for index, entry in enumerate(entries):
            try:
                apply(entry)
            except Exception as exc:
                log.warning("journal replay stopped at entry %d of %d (%s)", index + 1, len(entries), exc)
                if index:
                    _rewrite(self.replaying, entries[index:])
                return None
        if self.replaying.exists():
            self.replaying.unlink()
            _sync_folder(self.folder)
        return len(entries)


def _read(path: Path) -> list[Entry]:
    """The entries of a journal file; a line cut short by a crash in the middle of an append is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries: list[Entry] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            log.error("journal %s line %d is not whole (a crash mid-write?); skipped", path, number)
    return entries


def _rewrite(path: Path, entries: list[Entry]) -> None:
    """Replace `path` with `entries`, atomically: a crash leaves the old file or the new one, never half of it."""
    temp = path.with_suffix(".tmp")
    with temp.open("w", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=str) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """A rename is durable only once the folder itself is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
