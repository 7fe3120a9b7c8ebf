import logging

from ui.logfilter import Redact


def test_access_log_lines_lose_caller_numbers() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/callers/%2B6281234567890", "1.1", 200),
        None,
    )
    Redact().filter(record)
    line = record.getMessage()
    assert "6281234567890" not in line and "/api/v1/callers/" in line and "127.0.0.1:5000" in line


def test_websocket_log_lines_lose_the_access_token() -> None:
    """uvicorn logs a websocket's path with its query at INFO; an API client's bearer token rides in it."""
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws?since=12&token=ldkeOoIZU52uMjIL74xdupt-W3Cv_NpyIN0n5bv3DFY"),
        None,
    )
    Redact().filter(record)
    line = record.getMessage()
    assert "ldkeOo" not in line and "3DFY" not in line and "/ws?since=12&token=[rahasia]" in line
