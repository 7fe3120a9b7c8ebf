"""Alembic environment: the URL comes from the caller's config, else from TANGGAP_DATABASE_URL."""

from __future__ import annotations

from sqlalchemy import pool

from alembic import context
from dispatch.db import make_engine
from dispatch.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from config.settings import load_settings

    return load_settings().sqlalchemy_url


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration remakes a table (copy, DROP, rename); with foreign keys on, the DROP of a table
            # that other rows point at (agencies, users, calls) fails on any database that holds data. SQLite
            # ignores this pragma inside a transaction, so it goes first; the check below stands in for it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")


if context.is_offline_mode():
    run_offline()
else:
    run_online()
