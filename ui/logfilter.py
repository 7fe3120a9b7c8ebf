"""Keep caller numbers and access tokens out of the logs. The access log prints request paths:
`/api/v1/callers/{number}` carries a caller's number (personal data, UU PDP No. 27/2022), and `/ws?token=...`
an API client's bearer token, which would let whoever reads the log act as that user until it expires."""

from __future__ import annotations

import logging
import re

_NUMBER = re.compile(r"(%2B|\+)?\d{7,15}")
_TOKEN = re.compile(r"(?<=[?&]token=)[^&\s\"]+")


def _mask(text: str) -> str:
    return _NUMBER.sub("[nomor]", _TOKEN.sub("[rahasia]", text))


class Redact(logging.Filter):
    """Caller numbers become [nomor], `token=` values [rahasia], in the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_mask(a) if isinstance(a, str) else a for a in record.args)
        record.msg = _mask(str(record.msg))
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(Redact())
