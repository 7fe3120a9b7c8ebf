"""Login for the console (session cookie) and for API clients (bearer token)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dispatch.users import service as users
from dispatch.users.models import User
from ui.deps import COOKIE, DB, AnyUser, CtxDep, token_from

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class TokenIn(LoginIn):
    days: float = Field(30, gt=0, le=365)


def me_data(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "unit_id": user.unit_id,
        "available": user.available,
        "language": user.language,
    }


def _check(db: DB, body: LoginIn) -> User:
    user = users.authenticate(session=db, username=body.username, password=body.password)
    if user is None:
        raise HTTPException(401, "wrong username or password")
    return user


@router.post("/login")
def login(body: LoginIn, response: Response, db: DB, ctx: CtxDep) -> dict[str, object]:
    user = _check(db, body)
    hours = ctx.settings.session_hours
    token = users.issue_token(session=db, user=user, kind="session", lifetime=timedelta(hours=hours))
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(hours * 3600),
        httponly=True,
        samesite="strict",
        secure=ctx.settings.cookie_secure,
        path="/",
    )
    return me_data(user)


@router.post("/token")
def api_token(body: TokenIn, db: DB) -> dict[str, object]:
    user = _check(db, body)
    token = users.issue_token(session=db, user=user, kind="api", lifetime=timedelta(days=body.days))
    return {"token": token, "token_type": "bearer", "user": me_data(user)}


@router.post("/logout")
def logout(request: Request, response: Response, db: DB) -> dict[str, bool]:
    token = token_from(request)
    if token:
        users.revoke_token(session=db, token=token)
        request.app.state.recent_tokens.forget(token)
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/me")
def me(user: AnyUser) -> dict[str, object]:
    return me_data(user)
