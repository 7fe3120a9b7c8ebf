"""The aiohttp session the bridge's two HTTP clients share the shape of (ARI REST, and the server's API)."""

from __future__ import annotations

import aiohttp


class LazySession:
    """An aiohttp session made on first use, on the event loop it will run on (aiohttp binds a session to its
    loop, and the clients are built before the loop runs). `timeout` bounds connecting and each read, not a
    whole response, so a recording can stream for as long as it lasts."""

    def __init__(self, headers: dict[str, str], *, connections: int, timeout: float) -> None:
        self._headers, self._connections, self._timeout = headers, connections, timeout
        self._session: aiohttp.ClientSession | None = None

    def __call__(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeout, sock_read=self._timeout),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
