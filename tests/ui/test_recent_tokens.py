"""The telephony bridge's token is remembered for a few seconds (`ui.recent_tokens`): what that trades away,
and what it does not."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from dispatch.users.models import Token, User
from ui import recent_tokens
from ui.context import Ctx
from ui.recent_tokens import RecentTokens

TRIAGE = "/api/v1/telephony/triage?caller=081234567890"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(recent_tokens, "_now", lambda: now[0])
    return now


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_logout_is_honoured_at_once(client: TestClient, make_user: Callable[..., str], clock: list[float]) -> None:
    token = make_user("telephony")
    assert client.get(TRIAGE, headers=bearer(token)).status_code == 200  # now remembered
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 200
    r = client.get(TRIAGE, headers=bearer(token))
    assert r.status_code == 401 and "login" in r.json()["error"]


def test_a_change_from_elsewhere_is_honoured_within_fresh_s(
    client: TestClient, ctx: Ctx, make_user: Callable[..., str], clock: list[float]
) -> None:
    token = make_user("telephony")
    assert client.get(TRIAGE, headers=bearer(token)).status_code == 200
    with ctx.sessions() as session:  # as another process would: straight in the database
        session.execute(update(Token).values(revoked=True))
        session.execute(update(User).where(User.role == "telephony").values(active=False))
        session.commit()
    clock[0] += recent_tokens.FRESH_S / 2
    assert client.get(TRIAGE, headers=bearer(token)).status_code == 200  # the trade: still trusted a moment
    clock[0] += recent_tokens.FRESH_S
    assert client.get(TRIAGE, headers=bearer(token)).status_code == 401


def test_the_role_is_checked_on_every_request(
    client: TestClient, make_user: Callable[..., str], clock: list[float]
) -> None:
    token = make_user("dispatcher")
    for _ in range(2):
        r = client.get(TRIAGE, headers=bearer(token))
        assert r.status_code == 403 and "telephony" in r.json()["error"]
    assert client.get(TRIAGE).status_code == 401
    assert client.get(TRIAGE, headers=bearer("not-a-token")).status_code == 401


async def test_only_valid_tokens_are_remembered_and_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recent_tokens, "_MOST", 4)
    memory, looked_up = RecentTokens(), []
    user = User(username="bridge", role="telephony")

    def look_up(token: str) -> Callable[[], User | None]:
        return lambda: looked_up.append(token) or (user if token.startswith("good") else None)  # type: ignore[func-returns-value]

    for token in ("bad", "bad", "good-1", "good-1"):
        await memory.user(token, look_up(token))
    assert looked_up == ["bad", "bad", "good-1"]
    for i in range(2, 10):
        assert await memory.user(f"good-{i}", look_up(f"good-{i}")) is user
    assert len(memory._seen) <= 4
