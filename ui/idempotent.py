"""Run a creating action at most once per `Idempotency-Key` header (per user).

The key row is added to the session before the action runs, so the action's own commit writes both; a
concurrent duplicate fails on the unique key and gets the first answer back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import idempotency
from dispatch.errors import Conflict, Invalid
from dispatch.users.models import User


def run(request: Request, db: Session, user: User, action: Callable[[], Any], *, status: int = 200) -> Any:
    key = request.headers.get("idempotency-key")
    if key is None:
        return JSONResponse(action(), status_code=status)
    if not 8 <= len(key) <= 128:
        raise Invalid("Idempotency-Key must be 8 to 128 characters")
    scope = f"{request.method} {request.url.path}"
    stored = idempotency.lookup(db, user_id=user.id, key=key, scope=scope)
    if stored is not None:
        return _replay(stored)
    row = idempotency.remember(db, user_id=user.id, key=key, scope=scope, status_code=status, response=None)
    try:
        result = action()
    except IntegrityError:
        db.rollback()
        stored = idempotency.lookup(db, user_id=user.id, key=key, scope=scope)
        if stored is None:
            raise
        return _replay(stored)
    row.response = result
    db.commit()
    return JSONResponse(result, status_code=status, headers={"Idempotent-Replay": "false"})


def _replay(stored: idempotency.IdempotencyKey) -> JSONResponse:
    if stored.response is None:
        raise Conflict("this request is being processed or its answer was lost; reload the record")
    return JSONResponse(stored.response, status_code=stored.status_code, headers={"Idempotent-Replay": "true"})
