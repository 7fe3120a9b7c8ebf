import logging

from ui.logfilter import MaskNumbers


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
    MaskNumbers().filter(record)
    line = record.getMessage()
    assert "6281234567890" not in line and "/api/v1/callers/" in line and "127.0.0.1:5000" in line
