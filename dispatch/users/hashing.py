"""Password checks (argon2id: 64 MiB and about a quarter of a CPU-second each) in a few worker processes.

A login flood checked every password at once inside the server: at 8 logins/s it grew from 134 MB to 1.7 GB and
call intake's p99 went from 12 ms to 2.4 s (issue 22). Here at most `workers` checks run at once, `waiting`
more may queue, and the rest are refused at once with `Busy`, to be tried again a moment later.

Each check runs in a worker process (`python -m dispatch.users.hashing`) at the lowest CPU priority, fed one
check per line by a server thread that waits on its pipe. Not in the server's own threads: a low-priority thread
that the kernel preempts while it holds the GIL (a few microseconds around each check) stalls the event loop
until it runs again, which measured worse tails than no priority at all (scripts/bench_login_flood.py). A
worker's 64 MiB are not the server's, one the kernel kills for memory takes no call with it, and a worker whose
server has gone sees its pipe close and exits.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_ROOT = Path(__file__).resolve().parents[2]  # where `dispatch` is imported from


class Busy(Exception):
    """As many password checks as the pool takes are running or waiting (or a worker just died)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _stand_in() -> str:
    return _hasher.hash("not anybody's password")


def matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed; with no hash (no such user) the same work is done, so that the
    time taken does not tell which usernames exist."""
    try:
        return bool(_hasher.verify(password_hash or _stand_in(), password)) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class _Worker:
    """One worker process, used by one thread of the pool at a time."""

    def __init__(self) -> None:
        path = os.pathsep.join(filter(None, (str(_ROOT), os.environ.get("PYTHONPATH"))))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dispatch.users.hashing"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
            text=True,
            encoding="utf-8",
        )

    def check(self, password_hash: str | None, password: str) -> bool:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"hash": password_hash, "password": password}) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            raise BrokenPipeError("the password worker has gone")
        return answer.strip() == "1"

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class _Workers:
    """`size` threads, each with its worker process, started on the first check; shared by every app of this
    process (a server has one; tests make many). A forked child starts its own (`workers_of`)."""

    def __init__(self, size: int) -> None:
        self.local = threading.local()
        self.started: list[_Worker] = []
        self.lock = threading.Lock()
        self.executor = ThreadPoolExecutor(size, thread_name_prefix="password")
        atexit.register(self.stop)

    def submit(self, password_hash: str | None, password: str) -> Future[bool]:
        return self.executor.submit(self._check, password_hash, password)

    def _check(self, password_hash: str | None, password: str) -> bool:
        worker: _Worker | None = getattr(self.local, "worker", None)
        if worker is None or worker.process.poll() is not None:
            if worker is not None:
                self._drop(worker)
            worker = self.local.worker = _Worker()
            with self.lock:
                self.started.append(worker)
        try:
            return worker.check(password_hash, password)
        except OSError:  # it died (killed for memory?): the next check starts another
            self.local.worker = None
            self._drop(worker)
            raise

    def _drop(self, worker: _Worker) -> None:
        worker.stop()
        with self.lock:
            if worker in self.started:
                self.started.remove(worker)

    def pids(self) -> list[int]:
        with self.lock:
            return [w.process.pid for w in self.started if w.process.poll() is None]

    def stop(self) -> None:
        """At exit: the workers would go by themselves once the pipes close, this only does not wait for it."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            for worker in self.started:
                worker.stop()


_shared: dict[int, _Workers] = {}


def workers_of(size: int) -> _Workers:
    if size not in _shared:
        _shared[size] = _Workers(size)
    return _shared[size]


def _forget_after_fork() -> None:
    """A forked child has none of its parent's pool threads (a check handed to them would wait for ever) and
    must not share the parent's worker pipes (two processes reading one answer): it starts its own pool on its
    first check. mutmut forks a process per mutant, and every login in it hung until this."""
    _shared.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


class HashPool:
    """At most `workers` password checks at once and `waiting` more queued; beyond that `Busy` at once."""

    def __init__(self, workers: int, waiting: int) -> None:
        self.size = workers
        self.room = workers + waiting
        self.inside = 0  # running or queued; changed on the event loop only

    @property
    def workers(self) -> _Workers:
        """This process's pool, looked up on each check: a pool made before a fork is not the child's."""
        return workers_of(self.size)

    @property
    def full(self) -> bool:
        """No room for another check now: a caller may refuse before doing any other work for it."""
        return self.inside >= self.room

    async def check(self, password_hash: str | None, password: str) -> bool:
        """`matches(password_hash, password)`, in a worker process."""
        if self.full:
            raise Busy
        loop = asyncio.get_running_loop()
        self.inside += 1
        job = self.workers.submit(password_hash, password)
        # Freed when the check has finished, not when its request went away: a cancelled wait leaves the check
        # running, and it holds its 64 MiB until then.
        job.add_done_callback(lambda _: self._leave_from(loop))
        try:
            return await asyncio.wrap_future(job)
        except OSError:
            raise Busy from None

    def _leave_from(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed (the app stopped): nobody counts any more
            loop.call_soon_threadsafe(self._leave)

    def _leave(self) -> None:
        self.inside -= 1


def serve() -> None:
    """A worker: one check a line, `{"hash": ..., "password": ...}` in, `1` or `0` out, until the pipe closes."""
    with contextlib.suppress(AttributeError, OSError):
        os.nice(19)  # the lowest CPU priority; argon2's lane threads inherit it
    for line in sys.stdin:
        job = json.loads(line)
        sys.stdout.write("1\n" if matches(job["hash"], job["password"]) else "0\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
