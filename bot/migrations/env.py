"""Alembic environment: migrates the database named by DATABASE_URL (or a given engine)."""
from alembic import context

import bot.models  # noqa: F401  (registers the tables)
from bot.db import Base, engine_for
from bot.settings import get_settings

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or get_settings().database_url
    with engine_for(url).connect() as connection:
        _run(connection)


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    sqlite = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if sqlite:
        # Batch mode rebuilds a SQLite table (copy, drop, rename); with foreign keys on, the drop would
        # cascade to the rows that reference it (a ticket's notes and commands). Off for the migration
        # (outside any transaction, or SQLite ignores it), checked and on again afterwards.
        _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = _sqlite_pragma(connection, "PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"the migration left rows with broken foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(connection, statement: str) -> list:
    """Run a pragma on the raw SQLite connection, outside SQLAlchemy's transaction (which would begin one)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
        return cursor.fetchall()
    finally:
        cursor.close()


run_migrations_online()
