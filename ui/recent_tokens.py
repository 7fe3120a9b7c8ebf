"""Bearer tokens checked in the last few seconds, for the telephony bridge's API.

A bridge in its own process (`tanggap ari`) sends some eighty requests a second under load, all with one
token. Looking that token up each time meant two queries in a worker thread and two hops between the thread
and the event loop, on the server that also feeds every console: under load the lookup took 2.9 ms (p50) to
24 ms (p99) and a new call waited 15 ms (p50) between leaving the bridge and reaching its route. Remembered
for `FRESH_S`, the check is a dictionary lookup on the loop, and StasisStart -> `call.offered` on the consoles
fell from 35 to 14 ms (p50) (scripts/bench_calls.py --remote, docs/telephony.md).

What that costs: a token is trusted for at most `FRESH_S` after it was last looked up. A logout through this
server forgets it at once (`forget`); a token that expires, or a user made inactive from another process, is
refused within `FRESH_S`. Only valid tokens are remembered, so a wrong token is always looked up. The users
handed out are detached from any session and shared by the requests of that token: read them, never change
them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from dispatch.users.models import User

FRESH_S = 5.0
_now = time.monotonic  # the tests move it
_MOST = 1024  # tokens remembered at once; more than a command center has sessions


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()  # the raw token is not kept


class RecentTokens:
    """One per app (`app.state.recent_tokens`, made in `ui.app.create_app`)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[User, float]] = {}  # touched on the event loop, and by `forget`

    async def user(self, token: str, look_up: Callable[[], User | None]) -> User | None:
        """The token's user, from memory or from `look_up` (run in a worker thread; a detached user)."""
        key, now = _key(token), _now()
        seen = self._seen.get(key)
        if seen is not None and now < seen[1]:
            return seen[0]
        user = await run_in_threadpool(look_up)
        if user is None:
            self._seen.pop(key, None)
        else:
            if len(self._seen) >= _MOST:
                self._seen = {k: v for k, v in self._seen.items() if now < v[1]}
                if len(self._seen) >= _MOST:
                    self._seen.clear()
            self._seen[key] = (user, now + FRESH_S)
        return user

    def forget(self, token: str) -> None:
        """The token was revoked: look it up again next time."""
        self._seen.pop(_key(token), None)
