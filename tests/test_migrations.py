"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config.settings import Settings
from dispatch.db import make_engine
from dispatch.models import Base
from ui.cli import upgrade


def test_upgrade_to_head_matches_models(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    upgrade(settings)
    upgrade(settings)  # running it again is harmless
    engine = make_engine(settings.sqlalchemy_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path: object) -> None:
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path}/wal.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_a_server_engine_checkpoints_sqlite_outside_its_commits(tmp_path: object) -> None:
    """Commits never copy the log into the database (that waits for the disk); the checkpointer does."""
    from sqlalchemy import text

    from dispatch.db import WalCheckpointer

    engine = make_engine(f"sqlite:///{tmp_path}/server.db", background_checkpoint=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x BLOB)"))
        for _ in range(1500):  # more than the 1000 pages after which a commit would checkpoint by default
            conn.execute(text("INSERT INTO t VALUES (randomblob(4000))"))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
    result = WalCheckpointer(engine).checkpoint()
    assert result is not None
    busy, logged, copied = result
    assert busy == 0 and logged > 1000 and copied == logged
    engine.dispose()
    plain = make_engine(f"sqlite:///{tmp_path}/tool.db")  # command-line tools keep SQLite's default
    with plain.connect() as conn:
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 1000
    plain.dispose()


def test_the_migrated_access_audit_is_append_only(database_url: str) -> None:
    """Migration 0017 makes the same triggers as `create_all` (dispatch/audit/models.py)."""
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    settings = Settings(database_url=database_url)
    upgrade(settings)
    engine = make_engine(settings.sqlalchemy_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO access_audit (at, username, role, action, subject) "
                "VALUES (CURRENT_TIMESTAMP, 'sup1', 'supervisor', 'csv_exported', 'CSV callbacks')"
            )
        )
    for statement in ("UPDATE access_audit SET username = 'x'", "DELETE FROM access_audit"):
        with engine.begin() as conn, pytest.raises(IntegrityError, match="append-only"):
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM access_audit")).scalars().all() == ["sup1"]
    engine.dispose()
