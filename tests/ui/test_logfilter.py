import logging

from ui.logfilter import Redact


def logged(logger: str, msg: str, *args: object) -> str:
    """The line a uvicorn logger would print, after our filter."""
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, msg, args, None)
    Redact().filter(record)
    return record.getMessage()


def test_access_log_lines_lose_caller_numbers() -> None:
    line = logged(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        "/api/v1/callers/%2B6281234567890",
        "1.1",
        200,
    )
    assert "6281234567890" not in line and "/api/v1/callers/" in line and "127.0.0.1:5000" in line


def test_websocket_log_lines_lose_the_access_token() -> None:
    """uvicorn logs a websocket's path with its query at INFO; an API client's bearer token rides in it."""
    line = logged(
        "uvicorn.error",
        '%s - "WebSocket %s" [accepted]',
        "127.0.0.1:5000",
        "/ws?since=12&token=ldkeOoIZU52uMjIL74xdupt-W3Cv_NpyIN0n5bv3DFY",
    )
    assert "ldkeOo" not in line and "3DFY" not in line and "/ws?since=12&token=[rahasia]" in line
