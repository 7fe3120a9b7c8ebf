"""`tanggap backup` / `tanggap restore`: a round trip gives back every row of every table, an older backup is
migrated, and bad input is refused with exit code 2 before anything is written."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner, Result

from alembic import command
from config.settings import Settings
from dispatch.calls import service as calls
from dispatch.incidents import service as incidents
from dispatch.incidents.schemas import IncidentIn
from dispatch.models import Base
from dispatch.regions import seed
from dispatch.users import service as users
from tests.conftest import database
from ui.cli import ALEMBIC_DIR, app, upgrade
from ui.context import Ctx, build

Rows = dict[str, list[tuple[object, ...]]]
PADANG_BARAT = (-0.9262, 100.3560)
OLD_REVISION = "0011"  # before call_messages (0012) and bridge_leases (0013): restoring it must drop and remake them


@pytest.fixture
def migrated(settings: Settings) -> Iterator[Ctx]:
    """A database as an operator has it: `tanggap db upgrade`, the region seeded, some calls and incidents."""
    upgrade(settings)
    ctx = build(settings)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
    activity(ctx, 3)
    yield ctx
    ctx.engine.dispose()


def activity(ctx: Ctx, n: int) -> None:
    """Calls linked to new incidents (events, calls, incidents) and a user with a token."""
    with ctx.sessions() as session:
        for i in range(n):
            call = calls.offer(
                session=session, caller=f"+6281234567{i:03d}", provider="ari", channel_id=uuid.uuid4().hex
            )
            body = IncidentIn(type_code="fire_house", lat=PADANG_BARAT[0] + i / 1000, lon=PADANG_BARAT[1])
            incident = incidents.create(session=session, region=ctx.region, body=body, actor="t", user_id=None)
            calls.link_incident(session=session, call_id=call.id, incident_id=incident.id, actor="t")
            session.commit()
        user = users.create(session=session, username=f"u-{uuid.uuid4().hex[:6]}", password="x" * 12, role="admin")
        users.issue_token(session=session, user=user, kind="api", lifetime=timedelta(hours=1))


def snapshot(engine: Engine, columns: dict[str, list[str]] | None = None) -> Rows:
    """Every row of every table (or of the given tables and columns), in a stable order."""
    with engine.connect() as conn:
        wanted = columns or {name: ["*"] for name in inspect(conn).get_table_names()}
        return {
            name: sorted(
                (tuple(row) for row in conn.execute(text(f'SELECT {", ".join(cols)} FROM "{name}"'))), key=repr
            )
            for name, cols in wanted.items()
        }


def columns_of(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        found = inspect(conn)
        return {name: [f'"{c["name"]}"' for c in found.get_columns(name)] for name in found.get_table_names()}


def tanggap(settings: Settings, *args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={"TANGGAP_DATABASE_URL": settings.database_url}, input=answer)


def refused(result: Result, message: str, code: int = 2) -> None:
    """Exit `code` with `message` (or one of its |-separated alternatives) and no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert any(part in result.output for part in message.split("|")), result.output


def revision(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def test_round_trip_gives_back_every_row(migrated: Ctx, settings: Settings, tmp_path: Path) -> None:
    before = snapshot(migrated.engine)
    assert {"calls", "incidents", "events", "units", "tokens", "alembic_version"} <= before.keys()
    assert all(before[name] for name in ("calls", "incidents", "events", "units", "tokens"))
    result = tanggap(settings, "backup", str(tmp_path / "b.tanggap"))
    assert result.exit_code == 0, result.output

    activity(migrated, 2)
    with migrated.engine.begin() as conn:
        conn.execute(text("UPDATE stations SET name = 'berubah'"))
        conn.execute(text("DELETE FROM tokens"))
        conn.execute(text("UPDATE calls SET notes = 'berubah'"))
    assert snapshot(migrated.engine) != before

    result = tanggap(settings, "restore", str(tmp_path / "b.tanggap"), "--yes")
    assert result.exit_code == 0, result.output
    migrated.engine.dispose()  # new connections: a restored SQLite file or PostgreSQL tables
    assert snapshot(migrated.engine) == before
    activity(migrated, 1)  # the event sequence goes on after the restored events, not over them
    seqs = snapshot(migrated.engine, {"events": ["seq"]})["events"]
    assert len(seqs) > len(before["events"]) and len(set(seqs)) == len(seqs)


def test_an_older_backup_is_migrated_after_restoring(settings: Settings, tmp_path: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    # The region is seeded with this version's code, then the schema is taken down to the old revision: the
    # rows an operator of that version had, without writing them through models that have columns it lacks.
    upgrade(settings)
    ctx = build(settings)
    with ctx.sessions() as session:
        seed(session, ctx.region.pack)
    ctx.engine.dispose()
    command.downgrade(cfg, OLD_REVISION)
    assert revision(ctx.engine) == OLD_REVISION
    old_columns = columns_of(ctx.engine)
    del old_columns["alembic_version"]  # compared below: it must move on to this version's head
    old = snapshot(ctx.engine, old_columns)
    assert tanggap(settings, "backup", str(tmp_path / "old.tanggap")).exit_code == 0

    upgrade(settings)  # this version's schema, and rows the old backup does not have
    activity(ctx, 2)
    with ctx.engine.begin() as conn:
        conn.execute(text("DELETE FROM units WHERE id IN (SELECT id FROM units ORDER BY id LIMIT 5)"))

    result = tanggap(settings, "restore", str(tmp_path / "old.tanggap"), "--yes")
    assert result.exit_code == 0, result.output
    ctx.engine.dispose()
    assert revision(ctx.engine) == ScriptDirectory(str(ALEMBIC_DIR)).get_current_head()
    with ctx.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert snapshot(ctx.engine, old_columns) == old
    assert snapshot(ctx.engine, {"call_messages": ["*"], "bridge_leases": ["*"]}) == {
        "call_messages": [],
        "bridge_leases": [],
    }
    ctx.engine.dispose()


def test_sqlite_backup_while_the_server_writes(tmp_path: Path) -> None:
    """What a commit left in the write-ahead log is in the backup; what is not committed yet is not."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(settings)
    server = sqlite3.connect(tmp_path / "live.db", isolation_level=None)
    server.execute("PRAGMA wal_autocheckpoint=0")  # as `tanggap serve` runs: commits stay in the log
    server.execute("INSERT INTO agencies (code, name, kind, covers) VALUES ('committed', 'log', 'x', '')")
    assert (tmp_path / "live.db-wal").stat().st_size > 0
    server.execute("BEGIN IMMEDIATE")
    server.execute("INSERT INTO agencies (code, name, kind, covers) VALUES ('pending', 'open', 'x', '')")
    try:
        result = tanggap(settings, "backup", str(tmp_path / "b.tanggap"))
    finally:
        server.execute("ROLLBACK")
        server.close()
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "b.tanggap") as copy:
        assert [r[0] for r in copy.execute("SELECT code FROM agencies")] == ["committed"]
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file, no -wal beside it


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.fixture
def backup_file(migrated: Ctx, settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "good.tanggap"
    assert tanggap(settings, "backup", str(path)).exit_code == 0
    return path


def unchanged_after(ctx: Ctx, settings: Settings, *args: str, answer: str | None = None) -> Result:
    before = snapshot(ctx.engine)
    result = tanggap(settings, *args, answer=answer)
    ctx.engine.dispose()
    assert snapshot(ctx.engine) == before
    return result


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "not a Tanggap backup"),
        (b"id,name\n1,damkar\n", "not a Tanggap backup"),
        (b"PGDMP" + b"\0" * 100, "PostgreSQL backup|pg_dump archive"),
        (b"SQLite format 3\x00" + b"\0" * 100, "SQLite"),
    ],
)
def test_restore_refuses_what_is_not_a_backup(
    migrated: Ctx, settings: Settings, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "input"
    if content is not None:
        path.write_bytes(content)
    refused(unchanged_after(migrated, settings, "restore", str(path), "--yes"), message)


def test_restore_refuses_a_directory(migrated: Ctx, settings: Settings, tmp_path: Path) -> None:
    refused(unchanged_after(migrated, settings, "restore", str(tmp_path), "--yes"), "is a directory")


def test_restore_refuses_a_backup_of_the_other_database(migrated: Ctx, settings: Settings, tmp_path: Path) -> None:
    other = Settings(database_url=f"sqlite:///{tmp_path / 'other.db'}")
    if settings.database_url.startswith("sqlite"):
        with database("postgresql", tmp_path) as url:
            other = Settings(database_url=url)
            upgrade(other)
            assert tanggap(other, "backup", str(tmp_path / "other.tanggap")).exit_code == 0
        expected = "is a PostgreSQL backup but the configured database is SQLite"
    else:
        upgrade(other)
        assert tanggap(other, "backup", str(tmp_path / "other.tanggap")).exit_code == 0
        expected = "is a SQLite backup but the configured database is PostgreSQL"
    refused(unchanged_after(migrated, settings, "restore", str(tmp_path / "other.tanggap"), "--yes"), expected)


def test_restore_refuses_an_unrelated_sqlite_database(migrated: Ctx, settings: Settings, tmp_path: Path) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("an SQLite file is refused on PostgreSQL by its kind (test above)")
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    refused(unchanged_after(migrated, settings, "restore", str(tmp_path / "other.db"), "--yes"), "not a Tanggap one")


def test_restore_refuses_a_backup_from_a_newer_version(migrated: Ctx, settings: Settings, tmp_path: Path) -> None:
    with migrated.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    assert tanggap(settings, "backup", str(tmp_path / "new.tanggap")).exit_code == 0
    with migrated.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0014'"))
    result = unchanged_after(migrated, settings, "restore", str(tmp_path / "new.tanggap"), "--yes")
    refused(result, "from a newer Tanggap (schema revision 9999_from_the_future)")


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_a_truncated_backup_changes_nothing(
    migrated: Ctx, settings: Settings, backup_file: Path, tmp_path: Path, keep: float
) -> None:
    """Cut in its header or in its data: refused, or failed part-way and rolled back; never half-restored."""
    data = backup_file.read_bytes()
    cut = tmp_path / "cut.tanggap"
    cut.write_bytes(data[: int(len(data) * keep)])
    with migrated.engine.begin() as conn:
        conn.execute(text("DELETE FROM tokens"))  # so that a restore that went through would show
    result = unchanged_after(migrated, settings, "restore", str(cut), "--yes")
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)


def test_restore_asks_first(migrated: Ctx, settings: Settings, backup_file: Path) -> None:
    with migrated.engine.begin() as conn:
        conn.execute(text("DELETE FROM tokens"))
    refused(unchanged_after(migrated, settings, "restore", str(backup_file), answer="n\n"), "nothing restored", 1)
    result = tanggap(settings, "restore", str(backup_file), answer="y\n")
    assert result.exit_code == 0, result.output
    migrated.engine.dispose()
    assert snapshot(migrated.engine, {"tokens": ["*"]})["tokens"]


def test_backup_into_a_missing_folder_writes_nothing(migrated: Ctx, settings: Settings, tmp_path: Path) -> None:
    refused(tanggap(settings, "backup", str(tmp_path / "absent" / "b.tanggap")), "is not a directory")
    assert not (tmp_path / "absent").exists()


def test_a_failed_backup_leaves_no_file(migrated: Ctx, settings: Settings, tmp_path: Path) -> None:
    with migrated.engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))  # not a database made by tanggap db upgrade
    out = tmp_path / "out"
    out.mkdir()
    refused(tanggap(settings, "backup", str(out / "b.tanggap")), "alembic_version")
    assert list(out.iterdir()) == []


def test_missing_postgresql_tools_are_named(
    migrated: Ctx, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite needs no external tools")
    monkeypatch.setenv("PATH", str(tmp_path))
    refused(tanggap(settings, "backup", str(tmp_path / "b.tanggap")), "apt-get install postgresql-client")


def test_postgresql_restore_refuses_another_schema(
    migrated: Ctx, settings: Settings, backup_file: Path, tmp_path: Path
) -> None:
    if settings.database_url.startswith("sqlite"):
        pytest.skip("SQLite has no schemas")
    with database("postgresql", tmp_path) as url:
        other = Settings(database_url=url)
        upgrade(other)
        refused(tanggap(other, "restore", str(backup_file), "--yes"), "holds schema")
