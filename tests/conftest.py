"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, each test in a fresh schema."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from config.settings import Settings
from dispatch.models import Base
from dispatch.regions import seed
from dispatch.users import hashing
from dispatch.users import service as users
from tests.servers import PostgresProcess, RedisProcess
from ui.app import create_app
from ui.context import Ctx, build

# The tests' users get argon2id hashes at the cheapest cost (1 pass, 1 MiB): the server's own (3 passes, 64 MiB,
# about a quarter of a CPU-second a hash) made each test that logs in one user per role spend ~1.5 s hashing (the
# suite on two cores: 26.5 -> 19.8 minutes with this and the fixes around it). Checking a password reads the cost
# from its hash, so logins stay real argon2 checks; servers started as processes (the fault battery, the CLI
# tests) hash at the real cost, and tests/ui/test_security.py checks that a server hashes at it.
hashing._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PG_URL = os.environ.get("TANGGAP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "rahasia-demo-112"
ROLES = ("call_taker", "dispatcher", "supervisor", "admin", "telephony")


def _pg_schema_url(url: str, schema: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) + f"?options=-csearch_path%3D{schema}"


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh database of this kind: a SQLite file in `folder`, or a PostgreSQL schema of its own (dropped
    afterwards), so tests never see each other's rows."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'tanggap.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, region="padang", duplicate_radius_m=500, abuse_threshold=3, ws_buffer=50)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Ctx]:
    ctx = build(settings)
    Base.metadata.create_all(ctx.engine)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
    yield ctx
    ctx.engine.dispose()


@pytest.fixture
def session(ctx: Ctx) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


@pytest.fixture
def client(ctx: Ctx) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=ctx)) as client:
        yield client


@pytest.fixture
def make_user(ctx: Ctx) -> Callable[..., str]:
    """Create a user and return its bearer token."""

    def make(role: str, username: str | None = None, unit: str | None = None, agency: str | None = None) -> str:
        with ctx.sessions() as session:
            user = users.create(
                session=session,
                username=username or f"{role}-{uuid.uuid4().hex[:6]}",
                password=PASSWORD,
                role=role,
                unit_callsign=unit,
                agency_code=agency,
            )
            from datetime import timedelta

            return users.issue_token(session=session, user=user, kind="api", lifetime=timedelta(hours=1))

    return make


@pytest.fixture
def auth(make_user: Callable[..., str]) -> dict[str, dict[str, str]]:
    """Bearer headers for one user per role (and a responder bound to DAMKAR-03-PMK1, a desk of Dishub)."""
    out = {role: {"Authorization": f"Bearer {make_user(role)}"} for role in ROLES}
    out["responder"] = {"Authorization": f"Bearer {make_user('responder', unit='DAMKAR-03-PMK1')}"}
    out["opd"] = {"Authorization": f"Bearer {make_user('opd', agency='dishub')}"}
    return out


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A `redis-server` of the test's own on a free port: fault tests kill it, never the machine's shared one."""
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def postgres_server() -> Iterator[PostgresProcess]:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, a free port): fault tests stop and
    restart it, never the machine's shared one."""
    server = PostgresProcess()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()
