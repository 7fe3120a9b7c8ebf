"""Keep caller numbers out of the logs (UU PDP No. 27/2022): the access log prints request paths, and
`/api/v1/callers/{number}` carries one."""

from __future__ import annotations

import logging
import re

_NUMBER = re.compile(r"(%2B|\+)?\d{7,15}")


def _mask(text: str) -> str:
    return _NUMBER.sub("[nomor]", text)


class MaskNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_mask(a) if isinstance(a, str) else a for a in record.args)
        record.msg = _mask(str(record.msg))
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(MaskNumbers())
