"""The database: engine, sessions and the declarative base.

SQLite is the embedded default; PostgreSQL is the same code for a practice
group. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so two
writers queue on the busy timeout instead of failing half-way; the unique
constraints in :mod:`bot.models`, not Python checks, are what keep a slot
from being booked twice.
"""
from __future__ import annotations

import functools
import hashlib
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

from bot.private_files import private_dir, private_file
from bot.settings import VAR, get_settings

Base = declarative_base()


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the project's SQLite pragmas applied."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            # Patient data: the folder (var/ tightened on every start) and a new file are the owner's only;
            # SQLite gives its -wal and -shm files the database file's mode.
            private_dir(Path(path).parent, tighten=Path(path).parent == VAR)
            if not Path(path).exists():
                private_file(Path(path))
        engine = create_engine(
            url, future=True, connect_args={"timeout": 30, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


@functools.lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=engine or get_engine(), future=True, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine | None = None, *, dry_run: bool = False) -> Iterator[Session]:
    """``with transaction(engine) as session:`` around one use case: committed at the end, rolled back on error.

    The one idiom for a unit of work (the session is the unit of work) in the
    domain and every adapter; objects stay readable after the commit
    (``expire_on_commit=False``). ``dry_run``: rolled back at the end too, for
    a command that shows what it would change.
    """
    with session_factory(engine)() as session:
        with session.begin() as work:
            yield session
            if dry_run:
                work.rollback()


def phone_lock_key(phone: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock``: one phone's automated texts, one worker at a time."""
    return int.from_bytes(hashlib.blake2b(phone.encode(), digest_size=8).digest(), "big", signed=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def backup_sqlite(source: Path, destination: Path) -> Path:
    """A consistent copy of a SQLite file, taken while the services keep writing to it.

    SQLite's online backup copies page by page under its own locks (WAL included),
    so unlike `cp` it never catches a half-written transaction.
    """
    private_file(destination)  # a copy of patient data: the owner's only, like the original
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
            closing(sqlite3.connect(destination)) as dst:
        src.backup(dst)
    return destination
