"""Reading `/ws` in tests: each websocket message is a JSON array of messages; `Inbox` hands them out one by one,
however the server grouped them."""

from __future__ import annotations

import json
from collections import deque
from typing import Any, Protocol

Message = dict[str, Any]


class TextSocket(Protocol):
    def receive_text(self) -> str: ...


class Inbox:
    def __init__(self, ws: TextSocket) -> None:
        self.ws = ws
        self.pending: deque[Message] = deque()
        self.arrays = 0  # websocket messages received

    def next(self) -> Message:
        while not self.pending:
            batch = json.loads(self.ws.receive_text())
            assert isinstance(batch, list) and batch, f"a /ws message must be a non-empty array: {batch!r}"
            self.pending.extend(batch)
            self.arrays += 1
        return self.pending.popleft()

    def until(self, kind: str) -> list[Message]:
        """Every message up to and including the first of type `kind`."""
        got = [self.next()]
        while got[-1]["type"] != kind:
            got.append(self.next())
        return got
