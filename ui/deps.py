"""FastAPI dependencies: the context, a database session, the logged-in user and role checks (`ui.access`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.requests import HTTPConnection
from sqlalchemy.orm import Session

from dispatch.users import service as users
from dispatch.users.models import User
from ui import audit
from ui.access import Level, allows, refusal
from ui.context import Ctx
from ui.origin import forbid_cross_site
from ui.present import masked, sees_caller

COOKIE = "tanggap_session"


async def get_ctx(conn: HTTPConnection) -> Ctx:
    """Async because it does no I/O: FastAPI runs a plain `def` dependency in a worker thread, and that round
    trip (out to the thread pool and back onto the loop) came on every request."""
    ctx: Ctx = conn.app.state.ctx
    return ctx


def get_db(ctx: Annotated[Ctx, Depends(get_ctx)]) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


def token_from(conn: HTTPConnection) -> str | None:
    """Bearer header for API clients, the session cookie for the console, `?token=` for websockets.

    Another site's page can make the browser send the cookie, never the header: a state-changing request
    that logs in by cookie must come from this server's own pages (403 otherwise, `ui.origin`)."""
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    cookie = conn.cookies.get(COOKIE)
    if cookie:
        forbid_cross_site(conn)
        return cookie
    return conn.query_params.get("token")


def user_for(session: Session, conn: HTTPConnection) -> User | None:
    token = token_from(conn)
    return users.resolve_token(session=session, token=token) if token else None


def detached_user(ctx: Ctx, conn: HTTPConnection) -> User | None:
    """The logged-in user, looked up in a session that is closed at once (the user is detached from it)."""
    with ctx.sessions() as session:
        user = user_for(session, conn)
        if user is not None:
            session.expunge(user)
        return user


def current_user(request: Request, db: Annotated[Session, Depends(get_db)]) -> User:
    user = user_for(db, request)
    if user is None:
        raise HTTPException(401, "login required")
    return user


def may(user: User, level: Level) -> bool:
    return allows(level, user.role)


def _allowed(user: User, level: Level) -> User:
    if not may(user, level):
        raise HTTPException(403, refusal(level, user.role))
    return user


@dataclass(frozen=True)
class require:
    """A dependency that lets only the roles of this access level through (`ui.access.REACH`): `Depends(require(
    "staff"))`. A class named like a function (as `functools.partial`), so that the level can be read off every
    route (tests/ui/test_role_table.py); and, unlike a closure made at import, its check can be mutation-tested."""

    level: Level

    def __call__(self, user: Annotated[User, Depends(current_user)]) -> User:
        return _allowed(user, self.level)


@dataclass(frozen=True)
class require_detached:
    """Like `require`, without holding a pooled connection for the rest of the request: for async endpoints
    that then wait a long time without the database (200 of them at once would hold the whole pool). For the
    telephony bridge's many requests, a token checked in the last few seconds is not looked up again
    (`ui.recent_tokens`); the role is checked every time."""

    level: Level

    async def __call__(self, request: Request) -> User:
        user = await remembered_user(request)
        if user is None:
            raise HTTPException(401, "login required")
        return _allowed(user, self.level)


async def remembered_user(conn: HTTPConnection) -> User | None:
    """The logged-in user, detached, from the tokens checked in the last few seconds (`ui.recent_tokens`) or
    looked up in a worker thread."""
    token = token_from(conn)
    if not token:
        return None
    ctx: Ctx = conn.app.state.ctx
    user: User | None = await conn.app.state.recent_tokens.user(token, lambda: detached_user(ctx, conn))
    return user


DB = Annotated[Session, Depends(get_db)]
CtxDep = Annotated[Ctx, Depends(get_ctx)]
AnyUser = Annotated[User, Depends(require("person"))]  # any person logged in: not the bridge
Taker = Annotated[User, Depends(require("taker"))]
Dispatcher = Annotated[User, Depends(require("dispatcher"))]
Field = Annotated[User, Depends(require("field"))]
Staff = Annotated[User, Depends(require("staff"))]
Supervisor = Annotated[User, Depends(require("supervisor"))]
Admin = Annotated[User, Depends(require("admin"))]
Opd = Annotated[User, Depends(require("opd"))]


def shown(ctx: Ctx, user: User, value: Any) -> Any:
    """Mask personal data in a response for roles that do not need it; a role that sees it whole is noted in the
    access audit (one row per request, `ui.audit`)."""
    if sees_caller(user.role, ctx.settings.roles_seeing_caller):
        audit.saw(user, value)
        return value
    return masked(value)
