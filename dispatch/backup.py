"""Backups of the configured database to one file and back: SQLite through its online backup API, PostgreSQL
through pg_dump/pg_restore. Migrating a restored older backup is the caller's step (it owns the migrations)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal
from urllib.parse import unquote

from sqlalchemy import URL, create_engine, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

Kind = Literal["sqlite", "postgresql"]
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"  # pg_dump --format=custom
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
CLIENT_PACKAGE = "postgresql-client"  # Debian's package of pg_dump, pg_restore and psql


class BackupError(Exception):
    """Why a backup or restore was not done, in words for the operator; nothing was written."""


@dataclass(frozen=True)
class BackupInfo:
    """What a backup file holds: its kind, the schema revision (alembic) and its tables."""

    kind: Kind
    revision: str
    tables: frozenset[str]
    schema: str | None = None  # PostgreSQL: the schema its tables belong to
    functions: frozenset[str] = frozenset()  # PostgreSQL: the schema's functions (a trigger's, migration 0017)


def kind_of(url: str) -> Kind:
    return "sqlite" if make_url(url).get_backend_name() == "sqlite" else "postgresql"


def describe(path: Path, expect: Kind | None = None, *, name: str | None = None) -> BackupInfo:
    """What the backup at `path` holds; BackupError if it is missing, unreadable, not a Tanggap backup, or (with
    `expect`) a backup of the other kind of database. `name`: how messages call the file."""
    name = name or str(path)
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise BackupError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise BackupError(f"{name} is a directory, not a backup file") from None
    except OSError as exc:
        raise BackupError(f"cannot read {name}: {exc.strerror}") from None
    kind: Kind | None = (
        "sqlite" if head.startswith(SQLITE_MAGIC) else "postgresql" if head.startswith(PG_MAGIC) else None
    )
    if kind is None:
        raise BackupError(f"{name} is not a Tanggap backup (neither an SQLite database nor a pg_dump archive)")
    if expect is not None and kind != expect:
        raise BackupError(
            f"{name} is a {NAMES[kind]} backup but the configured database is {NAMES[expect]}; "
            f"restore it into a {NAMES[kind]} database"
        )
    return _describe_sqlite(path, name) if kind == "sqlite" else _describe_pg(path, name)


def backup(url: str, out: Path) -> BackupInfo:
    """Write a consistent copy of the database at `url` to `out`, replacing it only once the copy is whole."""
    if not out.parent.is_dir():
        raise BackupError(f"cannot write {out}: {out.parent} is not a directory")
    with _scratch(out.parent, ".tanggap-backup-") as scratch:
        if kind_of(url) == "sqlite":
            _copy_sqlite(_sqlite_file(url, must_exist=True), scratch, read_only=False)
            with contextlib.closing(sqlite3.connect(scratch)) as conn:
                conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        else:
            conninfo, env = _libpq(url)
            schema = _search_path(url)
            _run([_tool("pg_dump"), "--format=custom", f"--file={scratch}", conninfo, *_schema_args(schema)], env)
        info = describe(scratch, name=f"the backup of {_plain(url)}")  # restorable, or not written at all
        os.replace(scratch, out)
    return info


def restore(url: str, path: Path) -> BackupInfo:
    """Replace the database at `url` with the backup at `path`, all or nothing; returns what was restored."""
    info = describe(path, kind_of(url))
    if info.kind == "sqlite":
        _restore_sqlite(path, _sqlite_file(url, must_exist=False))
    else:
        _restore_pg(url, path, info)
    return info


# --- SQLite -------------------------------------------------------------------------------------------------


def _sqlite_file(url: str, *, must_exist: bool) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore")
    path = Path(database)
    if must_exist and not path.is_file():
        raise BackupError(f"no database at {path} (run tanggap db upgrade first)")
    if not path.parent.is_dir():
        raise BackupError(f"cannot restore to {path}: {path.parent} is not a directory")
    return path


def _open_sqlite(path: Path, *, read_only: bool) -> sqlite3.Connection:
    # A URI so that a missing file is an error, never a new empty database.
    return sqlite3.connect(f"file:{path}?mode={'ro' if read_only else 'rw'}", uri=True, timeout=30)


def _copy_sqlite(source: Path, dest: Path, *, read_only: bool) -> None:
    """Copy through the backup API: one read transaction, so a consistent snapshot that includes what is still
    in the write-ahead log, taken while the server goes on writing."""
    try:
        with contextlib.closing(_open_sqlite(source, read_only=read_only)) as src:
            with contextlib.closing(sqlite3.connect(dest)) as dst:
                src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {source}: {exc}") from None


def _describe_sqlite(path: Path, name: str) -> BackupInfo:
    try:
        with contextlib.closing(_open_sqlite(path, read_only=True)) as conn:
            tables = frozenset(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            if "alembic_version" not in tables:
                raise BackupError(f"{name} is an SQLite database but not a Tanggap one (no alembic_version table)")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            if conn.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{name} is damaged (SQLite's quick_check fails)")
    except sqlite3.Error as exc:
        raise BackupError(f"{name} is not a readable SQLite backup: {exc}") from None
    if row is None:
        raise BackupError(f"{name} has no schema revision in alembic_version")
    return BackupInfo("sqlite", str(row[0]), tables)


def _restore_sqlite(path: Path, target: Path) -> None:
    """Check a copy of the backup in a scratch file beside the database, then put it in place. A database that
    exists is overwritten through the backup API in one transaction of its own: its write-ahead log and any
    open connection stay consistent, which renaming a file over it would not guarantee."""
    with _scratch(target.parent, ".tanggap-restore-") as scratch:
        _copy_sqlite(path, scratch, read_only=True)
        describe(scratch, name=str(path))
        if not target.exists():
            for stale in (Path(f"{target}-wal"), Path(f"{target}-shm")):  # would be replayed onto the new file
                stale.unlink(missing_ok=True)
            os.replace(scratch, target)
            return
        _into_live(scratch, target)


def _into_live(scratch: Path, target: Path) -> None:
    try:
        with contextlib.closing(_open_sqlite(scratch, read_only=True)) as src:
            with contextlib.closing(_open_sqlite(target, read_only=False)) as dst:
                src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore into {target} (unchanged): {exc}") from None


# --- PostgreSQL ---------------------------------------------------------------------------------------------

_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA )(\S+) (\S+) \S+$", re.MULTILINE)
_TOC_FUNCTION = re.compile(r"^\d+; \d+ \d+ FUNCTION \S+ ([^\s(]+)\(", re.MULTILINE)


def _describe_pg(path: Path, name: str) -> BackupInfo:
    listing = _run([_tool("pg_restore"), "--list", str(path)], None, what=f"{name} is not a readable pg_dump archive")
    found = _TOC_TABLE.findall(listing)
    tables = frozenset(table for _schema, table in found)
    schemas = {schema for schema, _table in found}
    if "alembic_version" not in tables:
        raise BackupError(f"{name} is a pg_dump archive but not of a Tanggap database (no alembic_version table)")
    if len(schemas) != 1:
        raise BackupError(f"{name} holds tables of several schemas ({', '.join(sorted(schemas))}), not one Tanggap's")
    (schema,) = schemas
    data = _run(
        [_tool("pg_restore"), "--data-only", f"--schema={schema}", "--table=alembic_version", "--file=-", str(path)],
        None,
        what=f"cannot read the schema revision in {name}",
    )
    match = re.search(r"^COPY \S+ \(version_num\) FROM stdin;\n(\S+)\n", data, re.MULTILINE)
    if match is None:
        raise BackupError(f"{name} has no schema revision in alembic_version")
    return BackupInfo("postgresql", match.group(1), tables, schema, frozenset(_TOC_FUNCTION.findall(listing)))


_FUNCTIONS = (
    "SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema"
)


def _restore_pg(url: str, path: Path, info: BackupInfo) -> None:
    """pg_restore --clean piped into psql inside one transaction, committed only once pg_restore has written the
    whole script and psql ran every statement of it: otherwise nothing changed. Tables the backup lacks (made
    by a later migration) are dropped first, so that the migrations can make them again; so is every other
    table, as a later migration may have pointed a foreign key into one of them (users.agency_id ->
    agencies), which pg_restore's --clean knows nothing of and could not drop agencies' key under."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            schema = _search_path(url) or str(conn.execute(text("SELECT current_schema()")).scalar_one())
            present = set(inspect(conn).get_table_names(schema=schema))
            functions = conn.execute(text(_FUNCTIONS), {"schema": schema}).all()
    except SQLAlchemyError as exc:
        raise BackupError(f"cannot reach the database {_plain(url)}: {type(exc).__name__}") from None
    finally:
        engine.dispose()
    if schema != info.schema:
        raise BackupError(f"{path} holds schema {info.schema!r} but the database URL uses {schema!r}")
    drops = "".join(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE;\n' for name in sorted(present))
    # A later migration's functions too (the access audit's trigger): left behind, they would stop the restore's
    # DROP SCHEMA, and the migrations make them again.
    drops += "".join(
        f'DROP FUNCTION IF EXISTS "{schema}"."{name}"({args}) CASCADE;\n'
        for name, args in sorted(functions)
        if name not in info.functions
    )
    conninfo, env = _libpq(url)
    psql_cmd = [_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", conninfo]
    restore_cmd = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--file=-", str(path)]
    with tempfile.TemporaryFile() as psql_err, tempfile.TemporaryFile() as restore_err:
        psql = subprocess.Popen(psql_cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err, env=env)
        reader = subprocess.Popen(restore_cmd, stdout=subprocess.PIPE, stderr=restore_err)
        assert psql.stdin is not None and reader.stdout is not None
        try:
            psql.stdin.write(b"SET client_min_messages = warning;\nBEGIN;\n" + drops.encode())
            shutil.copyfileobj(reader.stdout, psql.stdin)
            # Only a whole script is committed: a backup cut short ends without COMMIT and psql rolls back.
            if reader.wait() == 0:
                psql.stdin.write(b"COMMIT;\n")
        except BrokenPipeError:  # psql stopped at an error (ON_ERROR_STOP): its message says why
            reader.kill()
        finally:
            reader.stdout.close()
            with contextlib.suppress(BrokenPipeError):
                psql.stdin.close()
        failed = [_tail(err) for proc, err in ((reader, restore_err), (psql, psql_err)) if proc.wait() != 0]
    if failed:
        raise BackupError(f"restoring {path} failed, the database is unchanged: {' '.join(failed)}")


def _plain(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq reads it (no SQLAlchemy driver), with the password in the environment, not in `ps`."""
    parsed = make_url(url)
    plain = URL.create(
        "postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database, parsed.query
    ).render_as_string(hide_password=False)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return plain, env


def _search_path(url: str) -> str | None:
    """The first schema of `options=-csearch_path=...` in the URL, if any."""
    options = make_url(url).query.get("options")
    joined = " ".join([options] if isinstance(options, str) else options or ())
    match = re.search(r"search_path\s*=\s*\"?([^\s,\"]+)", unquote(joined))
    return match.group(1) if match else None


def _schema_args(schema: str | None) -> list[str]:
    return [f"--schema={schema}"] if schema else []


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed; on Debian: apt-get install {CLIENT_PACKAGE}")
    return found


def _run(cmd: list[str], env: dict[str, str] | None, *, what: str | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what or Path(cmd[0]).name + ' failed'}: {done.stderr.strip()}")
    return done.stdout


def _tail(err: IO[bytes]) -> str:
    err.seek(0)
    return err.read().decode(errors="replace").strip()[-2000:]


@contextlib.contextmanager
def _scratch(folder: Path, prefix: str) -> Iterator[Path]:
    """An empty file in `folder` (same file system, so the final rename is atomic), removed unless moved. Only
    its owner may read it (mkstemp's 0600): a backup holds callers' numbers (UU PDP)."""
    handle, name = tempfile.mkstemp(dir=folder, prefix=prefix)
    os.close(handle)
    path = Path(name)
    try:
        yield path
    finally:
        for leftover in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
