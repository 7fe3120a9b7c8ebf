"""A journal on the local disk for what the database, or the server, could not take when a caller came in.

A caller must never wait on, or hear an error from, a database that blinked: the webhook (or the bridge) writes
what happened here, fsync'd before it answers, and answers the caller as usual. When the database is back the
entries are replayed in the order they were written. Every replayed step is idempotent on the server (the
provider's reference names the call), so an entry applied twice, after a crash mid-replay, changes nothing.

One JSON object a line, in files of mode 0600 (they hold callers' numbers) in a folder of mode 0700. Appends go
to `<name>.jsonl`; a replay first moves what is there to the end of `<name>.replaying.jsonl`, so new entries never
mix with the ones being applied, and rewrites that file with what is left once it is done (deletes it when
nothing is). An entry that cannot be applied yet stops the replay there: it and the ones after it are kept, in
order, for the next try. Several processes may share the folder (servers on one host): appends and that move
take a lock on `<name>.jsonl` itself, and one replay of a journal runs at a time on the host. This module loads
no ORM: the bridge's process uses it too.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
Entry = dict[str, Any]
_POLL_S = 0.02  # how often a replay that may not wait forever asks for the lock again


class SpoolUnwritable(Exception):
    """The journal could not be written (disk full, read-only, missing folder): an alarm, not a caller's error."""


@dataclass(frozen=True)
class Replayed:
    """What one replay did: entries applied, whether it stopped at one that failed, and entries still waiting."""

    applied: int
    stopped: bool
    left: int


class Spool:
    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.path = folder / f"{name}.jsonl"
        self.replaying = folder / f"{name}.replaying.jsonl"
        self.probe_path = folder / f"{name}.probe"
        self._cache_lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[int, int, int], list[Entry]]] = {}
        self.error: str | None = None  # why the last write failed, until one succeeds again
        self._failing_replay = False  # a replay stopped at an entry: said once, not every second

    # -- writing ------------------------------------------------------------------------------------------

    def append(self, entry: Entry) -> None:
        """Write `entry` and fsync it; raises `SpoolUnwritable` when the disk refuses (logged at ERROR once for
        a streak of failures, so a full disk under a burst of calls is one line, not one a call)."""
        line = _line(entry)
        try:
            self._mkdir()
            with self._locked_tail() as fd:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = "\n" + line  # a line cut short by a crash stays alone, skipped; this one stays whole
                data = line.encode()
                if os.write(fd, data) != len(data):  # a disk that fills up mid-line writes part of it
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                os.fsync(fd)
        except OSError as exc:
            self._failed(exc)
            raise SpoolUnwritable(self.error) from exc
        self._written()

    def probe(self) -> bool:
        """Can the journal be written now? Writes, fsyncs and removes a small file beside it (a full disk lets a
        file be opened, not written). Clears `error` when it can, sets it when it cannot."""
        try:
            self._mkdir()
            fd = os.open(self.probe_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"probe\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            self.probe_path.unlink()
        except OSError as exc:
            self._failed(exc)
            return False
        self._written()
        return True

    def _mkdir(self) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _failed(self, exc: OSError) -> None:
        first = self.error is None
        self.error = f"{type(exc).__name__}: {exc.strerror or exc}"
        if first:
            log.error("journal %s cannot be written (%s): what it should keep is lost", self.path, self.error)
        else:
            log.debug("journal %s still cannot be written (%s)", self.path, self.error)

    def _written(self) -> None:
        if self.error is not None:
            log.warning("journal %s can be written again (it could not: %s)", self.path, self.error)
        self.error = None

    @contextlib.contextmanager
    def _locked_tail(self) -> Iterator[int]:
        """`<name>.jsonl` open for appending and locked, and still the file of that name once locked: a replay
        may have moved it away meanwhile, and a line written into the moved file could be lost."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
                except FileNotFoundError:
                    same = False
                if same:
                    yield fd
                    return
            finally:
                os.close(fd)  # closing releases the lock

    # -- reading ------------------------------------------------------------------------------------------

    def empty(self) -> bool:
        """Nothing waits: two `stat`s, cheap enough to ask every second and before every webhook."""
        return not any(_size(path) for path in (self.replaying, self.path))

    def pending(self) -> int:
        """How many entries wait to be replayed."""
        return len(self.entries())

    def entries(self) -> list[Entry]:
        """The waiting entries, oldest first (read again only when a file changed)."""
        return self._read(self.replaying) + self._read(self.path)

    def find(self, match: Callable[[Entry], bool]) -> bool:
        """Does an entry waiting match?"""
        return not self.empty() and any(match(e) for e in self.entries())

    def _read(self, path: Path) -> list[Entry]:
        try:
            st = path.stat()
        except OSError:
            return []
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._cache_lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == key:
                return cached[1]
        entries = _read(path)
        with self._cache_lock:
            self._cache[path] = (key, entries)
        return entries

    # -- replaying ----------------------------------------------------------------------------------------

    def replay(self, apply: Callable[[Entry], None]) -> int:
        """Apply the waiting entries, oldest first, and return how many were applied; 0 when the replay stopped
        at an entry that failed (those applied before it are gone from the journal all the same).

        `apply` raising stops the replay: that entry and those after it are kept for the next call, which is
        how an entry waits for a database that is still down. One replay runs at a time."""
        done = self.replay_some(apply)
        return 0 if done.stopped else done.applied

    def replay_some(
        self,
        apply: Callable[[Entry], None],
        *,
        only: Callable[[Entry], bool] | None = None,
        limit: int | None = None,
        wait_s: float | None = None,
    ) -> Replayed:
        """Apply waiting entries in order: those `only` matches (the others stay where they are), at most
        `limit` of them. The first that fails stops it; it and every entry after it stay. `wait_s`: how long to
        wait for a replay running elsewhere (None: as long as it takes); past it nothing is done and the result
        says `stopped`."""
        if self.empty():
            return Replayed(0, False, 0)
        with self._replay_turn(wait_s) as turn:
            if not turn:
                return Replayed(0, True, self.pending())
            self._gather()
            entries = _read(self.replaying)
            kept: list[Entry] = []
            applied, stopped = 0, False
            for index, entry in enumerate(entries):
                if only is not None and not only(entry):
                    kept.append(entry)
                    continue
                if limit is not None and applied >= limit:
                    kept.extend(entries[index:])
                    break
                try:
                    apply(entry)
                except Exception as exc:
                    self._stopped(index, len(entries), exc)
                    kept.extend(entries[index:])
                    stopped = True
                    break
                applied += 1
            if applied:
                self._keep(kept)
            if not stopped and self._failing_replay:
                self._failing_replay = False
                log.info("journal %s: replay goes on again", self.path)
            return Replayed(applied, stopped, len(kept) + len(self._read(self.path)))

    def _stopped(self, index: int, total: int, exc: Exception) -> None:
        """Said once for a streak of stopped replays (the database may stay down for minutes), and only the first
        line of why: a database error's later lines quote the statement's parameters, callers' numbers included."""
        if not self._failing_replay:
            why = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}"
            log.warning("journal %s: replay stopped at entry %d of %d (%s); kept for the next try", self.path.name,
                        index + 1, total, why)  # fmt: skip
        self._failing_replay = True

    def _keep(self, entries: list[Entry]) -> None:
        if entries:
            _rewrite(self.replaying, entries)
        elif self.replaying.exists():
            self.replaying.unlink()
            _sync_folder(self.folder)

    def _gather(self) -> None:
        """Move what was appended since the last replay to the end of the replaying file. Under the append lock:
        an append waiting for it then writes into a new `<name>.jsonl`. A crash between the copy and the unlink
        leaves the moved entries in both files; replayed twice, they change nothing."""
        if not _size(self.path):
            return
        with self._locked_tail():
            moved = _bytes(self.path)
            if moved:
                fd = os.open(self.replaying, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        moved = b"\n" + moved
                    os.write(fd, moved)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self.path.unlink()
            _sync_folder(self.folder)

    @contextlib.contextmanager
    def _replay_turn(self, wait_s: float | None) -> Iterator[bool]:
        """One replay of this journal at a time, in this process and every other on the host. The lock is an
        abstract unix socket's name (Linux): only one socket can hold it, the kernel frees it when its process
        dies, and it leaves no file behind, unlike a lock file, which would outlive an empty journal. It is the
        journal's own: a bridge replaying its journal in the same folder, slowly while the server is away, does
        not hold the server's replay back."""
        name = "\0tanggap-spool-" + hashlib.sha256(str(self.replaying.absolute()).encode()).hexdigest()[:40]
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            deadline = None if wait_s is None else time.monotonic() + wait_s
            while True:
                try:
                    lock.bind(name)
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
                    if deadline is not None and time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(_POLL_S)
            yield True
        finally:
            lock.close()


def _line(entry: Entry) -> str:
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=str) + "\n"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


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
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, "".join(_line(e) for e in entries).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """A rename is durable only once the folder itself is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
