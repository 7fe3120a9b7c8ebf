"""One table from domain errors to HTTP answers; nothing escapes as a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
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


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return _body(status_of(exc), exc.message, kind=type(exc).__name__)


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


async def integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("integrity error: %s", type(exc).__name__)
    return _body(409, "this conflicts with data already stored (duplicate or missing reference)", kind="Conflict")


async def busy_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database busy: %s", exc)
    return _body(503, "the database is busy; try again", kind="Unavailable")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(OperationalError, busy_error)
    app.add_exception_handler(PoolTimeout, busy_error)  # every pooled connection in use for 30 s
    app.add_exception_handler(DeskUnavailable, busy_error)  # the call desk is closing (shutdown)
