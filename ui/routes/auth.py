"""Login for the console (session cookie) and for API clients (bearer token), throttled; admins lift locks.

A login is three short steps, so that no database connection is held while a password is checked: read the
locks and the user (a worker thread); check the password in a low-priority worker process of a small bounded
pool (`dispatch.users.hashing`); then count the failure, or clear the counts and issue the token (a worker
thread). A locked account or address is answered 429 with `Retry-After` before any password is checked, and a
full pool 503 before anything else is done: a login flood gets neither the server's memory nor the CPU that
call intake needs (docs/security.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from config.settings import Settings
from dispatch.bounds import Id
from dispatch.clock import utcnow
from dispatch.users import hashing, throttle
from dispatch.users import service as users
from dispatch.users.models import LoginLock, User
from ui.deps import COOKIE, DB, Admin, AnyUser, token_from
from ui.origin import forbid_cross_site

log = logging.getLogger(__name__)
auth = APIRouter(prefix="/api/v1/auth", tags=["auth"])
admin = APIRouter(prefix="/api/v1/admin", tags=["admin"])
router = APIRouter()  # both, for the app to include

_LOCKED = (
    "Terlalu banyak percobaan masuk yang gagal; coba lagi dalam {s} detik. / "
    "Too many failed logins; try again in {s} s."
)
_BUSY = (
    "Server sedang sibuk memeriksa kata sandi; coba lagi sebentar lagi. / "
    "The server is busy checking passwords; try again in a moment."
)
_CHECKING = (
    "Login akun ini sedang diperiksa; coba lagi dalam 1 detik. / "
    "A login to this account is being checked; try again in 1 s."
)
_BUSY_RETRY_S = 2
_FORGET_EVERY = timedelta(minutes=1)
_REFUSALS: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many failed logins: locked for Retry-After seconds"},
    503: {"description": "Too many password checks at once: try again"},
}
Issue = Callable[[Session, User], str]


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenIn(LoginIn):
    days: float = Field(30, gt=0, le=365)


class Refused(Exception):
    """A login not even tried: locked (429) or no room to check the password (503)."""

    def __init__(self, status: int, message: str, retry_after_s: int, kind: str) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after_s, self.kind = status, message, retry_after_s, kind

    def response(self) -> Response:
        # Answered here rather than raised to ui.errors: its table answers without headers, and Retry-After is
        # the point.
        return JSONResponse(
            {"error": self.message, "kind": self.kind, "retry_after_s": self.retry_after_s},
            status_code=self.status,
            headers={"Retry-After": str(self.retry_after_s)},
        )


def me_data(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "unit_id": user.unit_id,
        "agency_id": user.agency_id,
        "available": user.available,
        "language": user.language,
    }


def clock_of(app: FastAPI) -> Callable[[], datetime]:
    """The time locks are measured by: `app.state.clock` when a test set one (a lock runs out without a
    sleep), else the wall clock."""
    clock: Callable[[], datetime] = getattr(app.state, "clock", utcnow)
    return clock


def pool_of(app: FastAPI) -> hashing.HashPool:
    """The app's password-checking pool, made on the first login."""
    pool: hashing.HashPool | None = getattr(app.state, "hash_pool", None)
    if pool is None:
        settings: Settings = app.state.ctx.settings
        pool = app.state.hash_pool = hashing.HashPool(settings.login_hash_workers, settings.login_hash_queue)
    return pool


def policy_of(settings: Settings) -> throttle.Policy:
    return throttle.Policy(
        account_after=settings.login_lock_after,
        address_after=settings.login_lock_after_address,
        first_lock=timedelta(seconds=settings.login_lock_s),
        longest_lock=timedelta(seconds=settings.login_lock_max_s),
    )


def _locked(wait: timedelta) -> Refused:
    seconds = max(1, math.ceil(wait.total_seconds()))
    return Refused(429, _LOCKED.format(s=seconds), seconds, "LoginLocked")


def _forget_due(app: FastAPI, now: datetime) -> bool:
    last: datetime | None = getattr(app.state, "forgot_at", None)
    if last is not None and now - last < _FORGET_EVERY:
        return False
    app.state.forgot_at = now
    return True


def checking_of(app: FastAPI) -> set[str]:
    """Usernames whose password this server is checking now."""
    checking: set[str] | None = getattr(app.state, "checking", None)
    if checking is None:
        checking = app.state.checking = set()
    return checking


async def _log_in(request: Request, body: LoginIn, issue: Issue) -> tuple[dict[str, object], str]:
    """The user's data and a new token; `Refused` when the attempt may not be tried, 401 when it failed."""
    app: FastAPI = request.app
    pool, checking = pool_of(app), checking_of(app)
    if pool.full:  # refused before the database is asked anything: in a flood most attempts end here
        raise Refused(503, _BUSY, _BUSY_RETRY_S, "Busy")
    if body.username in checking:
        # One check per account at a time: a flood at one account would otherwise fill the pool with guesses
        # that all pass the lock before the first of them fails.
        raise Refused(429, _CHECKING, 1, "Busy")
    checking.add(body.username)
    try:
        return await _check(request, body, issue)
    finally:
        checking.discard(body.username)


async def _check(request: Request, body: LoginIn, issue: Issue) -> tuple[dict[str, object], str]:
    app: FastAPI = request.app
    ctx, clock, pool = app.state.ctx, clock_of(app), pool_of(app)
    attempt = throttle.Attempt(body.username, request.client.host if request.client else None)

    def look() -> tuple[timedelta | None, str | None]:
        with ctx.sessions() as session:
            wait = throttle.wait(session=session, attempt=attempt, now=clock())
            user = None if wait else users.find_active(session=session, username=body.username)
            return wait, user.password_hash if user else None

    wait, stored = await asyncio.to_thread(look)
    if wait is not None:
        raise _locked(wait)
    try:
        right = await pool.check(stored, body.password)
    except hashing.Busy:
        raise Refused(503, _BUSY, _BUSY_RETRY_S, "Busy") from None

    # Forgetting old counts is a pass over the table: at most once a minute per server, not at every failure.
    forget = _forget_due(app, clock())

    def settle() -> tuple[dict[str, object], str] | timedelta | None:
        with ctx.sessions() as session:
            user = users.find_active(session=session, username=body.username) if right else None
            if user is None:
                policy, now = policy_of(ctx.settings), clock()
                lock = throttle.failed(session=session, attempt=attempt, policy=policy, now=now)
                if forget:
                    throttle.forget(session=session, policy=policy, now=now)
                return lock
            throttle.succeeded(session=session, attempt=attempt)
            return me_data(user), issue(session, user)

    outcome = await asyncio.to_thread(settle)
    if isinstance(outcome, tuple):
        return outcome
    if outcome is not None:
        log.warning("login locked for %.0f s after repeated failures", outcome.total_seconds())
    raise HTTPException(401, "wrong username or password")


@auth.post("/login", response_model=dict[str, object], responses=_REFUSALS)
async def login(body: LoginIn, request: Request, response: Response) -> Any:
    forbid_cross_site(request)  # another site may not log this browser in to an account of its choosing
    settings: Settings = request.app.state.ctx.settings
    lifetime = timedelta(hours=settings.session_hours)
    try:
        me, token = await _log_in(
            request, body, lambda s, u: users.issue_token(session=s, user=u, kind="session", lifetime=lifetime)
        )
    except Refused as refused:
        return refused.response()
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookie,
        path="/",
    )
    return me


@auth.post("/token", response_model=dict[str, object], responses=_REFUSALS)
async def api_token(body: TokenIn, request: Request) -> Any:
    lifetime = timedelta(days=body.days)
    try:
        me, token = await _log_in(
            request, body, lambda s, u: users.issue_token(session=s, user=u, kind="api", lifetime=lifetime)
        )
    except Refused as refused:
        return refused.response()
    return {"token": token, "token_type": "bearer", "user": me}


@auth.post("/logout")
def logout(request: Request, response: Response, db: DB) -> dict[str, bool]:
    token = token_from(request)
    if token:
        users.revoke_token(session=db, token=token)
        request.app.state.recent_tokens.forget(token)
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@auth.get("/me")
def me(user: AnyUser) -> dict[str, object]:
    return me_data(user)


# -- admin: who is locked out, and letting them in again -----------------------------------------------------


def lock_data(row: LoginLock, now: datetime) -> dict[str, object]:
    until = row.locked_until
    return {
        "id": row.id,
        "kind": row.kind,
        "subject": row.subject,
        "failures": row.failures,
        "last_failure_at": row.last_failure_at.isoformat(),
        "locked_until": until.isoformat() if until else None,
        "retry_after_s": max(0, math.ceil((until - now).total_seconds())) if until else 0,
    }


@admin.get("/login-locks")
def login_locks(request: Request, db: DB, _admin: Admin) -> list[dict[str, object]]:
    """Accounts and client addresses locked now after failed logins, the longest lock first."""
    now = clock_of(request.app)()
    return [lock_data(row, now) for row in throttle.locks(session=db, now=now)]


@admin.delete("/login-locks/{lock_id}")
def lift_login_lock(lock_id: Id, db: DB, by: Admin) -> dict[str, object]:
    """Let a locked account or address log in again at once (its count of failures starts over)."""
    kind, subject = throttle.lift(session=db, lock_id=lock_id)
    log.info("login lock %d (%s) lifted by %s", lock_id, kind, by.username)
    return {"ok": True, "id": lock_id, "kind": kind, "subject": subject}


router.include_router(auth)
router.include_router(admin)
