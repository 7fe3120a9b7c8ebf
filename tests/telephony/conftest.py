"""Telephony tests run on SQLite and PostgreSQL (tests/conftest.py); the PBX and Twilio are doubles speaking their
wire formats."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from dispatch.users import service as users
from dispatch.users.models import User
from telephony.ari.run import AriBridge
from tests.doubles.ari_server import AriDouble
from ui.context import Ctx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
async def pbx() -> AsyncIterator[AriDouble]:
    """The ARI double, answering as the captures of a real Asterisk 22 do (tests/doubles/ari_server.py)."""
    double = await AriDouble().start()
    yield double
    await double.stop()


@pytest.fixture
def make_taker(ctx: Ctx) -> Callable[..., int]:
    """A call-taker with a SIP endpoint, optionally ready for calls; returns the user id."""

    def make(endpoint: str, *, available: bool = True, role: str = "call_taker") -> int:
        with ctx.sessions() as session:
            user = users.create(
                session=session, username=endpoint, password="rahasia-112", role=role, sip_endpoint=endpoint
            )
            if available:
                users.set_available(session=session, user=user, available=True)
            return user.id

    return make


def taker_ready(ctx: Ctx, user_id: int) -> bool:
    with ctx.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.available


@contextlib.asynccontextmanager
async def running(bridge: AriBridge, pbx: AriDouble) -> AsyncIterator[AriBridge]:
    """The bridge started and connected to the double, its first reconcile over (on a busy machine it could
    otherwise still be listing channels when a test changes them, and act on what the test does next);
    stopped on the way out."""
    await bridge.start()
    try:
        await pbx.wait_for(lambda: pbx.app_connected and bridge.connected.is_set() and bridge.reconciles > 0)
        yield bridge
    finally:
        await bridge.stop()
