"""One table from domain errors to HTTP answers; nothing escapes as a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException

from dispatch.errors import Conflict, DomainError, Forbidden, Invalid, InvalidTransition, NotFound
from telephony.desk import DeskUnavailable

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Invalid: 422,
    InvalidTransition: 409,
    Conflict: 409,
}


def _body(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def status_of(exc: DomainError) -> int:
    """The HTTP status a rule of the dispatch core answers with (a batch answers it per item)."""
    return STATUS.get(type(exc), 400)


def answer_of(exc: Exception) -> tuple[int, str, str] | None:
    """The status, message and kind this table gives `exc`, or None for an error it does not know. The
    handlers below answer requests with it; the bridge's call stream answers its messages with it."""
    if isinstance(exc, DomainError):
        return status_of(exc), exc.message, type(exc).__name__
    if isinstance(exc, IntegrityError):
        log.warning("integrity error: %s", type(exc).__name__)
        return 409, "this conflicts with data already stored (duplicate or missing reference)", "Conflict"
    if isinstance(exc, DataError):  # found by the fuzz test (tests/ui/test_fuzz.py): a NUL in a name, on PostgreSQL
        log.warning("data error: %s", type(exc.orig).__name__)
        return 422, "a value cannot be stored (a NUL character, or a value out of range)", "Invalid"
    if isinstance(exc, OperationalError | PoolTimeout | DeskUnavailable):
        log.warning("database busy: %s", exc)
        return 503, "the database is busy; try again", "Unavailable"
    return None


async def table_error(_request: Request, exc: Exception) -> JSONResponse:
    found = answer_of(exc)
    assert found is not None  # installed only for the errors the table knows
    status, message, kind = found
    return _body(status, message, kind=kind)


def problems(errors: Sequence[Any]) -> str:
    """Pydantic's errors as one line: `where: what` for each, `body` left out of the place."""
    found = []
    for err in errors:
        where = ".".join(str(p) for p in err["loc"] if p != "body")
        found.append(f"{where}: {err['msg']}" if where else err["msg"])
    return "; ".join(found) or "invalid request"


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _body(422, problems(exc.errors()), kind="ValidationError")


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _body(exc.status_code, str(exc.detail), kind="HTTPError")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    # PoolTimeout: every pooled connection in use for 30 s; DeskUnavailable: the call desk is closing (shutdown).
    for known in (DomainError, IntegrityError, DataError, OperationalError, PoolTimeout, DeskUnavailable):
        app.add_exception_handler(known, table_error)
