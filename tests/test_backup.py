"""`python -m bot db backup`: consistent copies of the SQLite databases while the services write to them."""
from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.models import Patient
from bot.settings import get_settings
from workers import cli


@pytest.fixture
def settings_env(monkeypatch):
    def use(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
    yield use
    get_settings.cache_clear()


def _count(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_backup_copies_practice_and_conversations_while_they_are_written(engine, tmp_path, settings_env, capsys):
    tracker = tmp_path / "rasa_tracker.db"
    with closing(sqlite3.connect(tracker)) as db:
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT)")
        db.executemany("INSERT INTO events (sender_id) VALUES (?)", [("+15035550111",)] * 5)
        db.commit()
    settings_env(DATABASE_URL=str(engine.url), TRACKER_DIALECT="sqlite", TRACKER_DB=str(tracker))
    with Session(engine) as session, session.begin():
        for n in range(50):
            session.add(Patient(phone=f"+1503555{n:04d}", first_name="P", last_name=str(n)))

    stop = threading.Event()

    def keep_writing():  # a service adding patients while the backup runs
        n = 0
        while not stop.is_set():
            with Session(engine) as session, session.begin():
                session.add(Patient(phone=f"+1971555{n:04d}", first_name="Q", last_name=str(n)))
            n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert cli.main(["db", "backup", "--to", str(tmp_path / "backups")]) == 0
    finally:
        stop.set()
        writer.join()

    [folder] = (tmp_path / "backups").iterdir()
    practice, conversations = folder / "practice.db", folder / "rasa_tracker.db"
    with closing(sqlite3.connect(practice)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _count(practice, "patient") >= 50  # a consistent snapshot: at least what was committed before
    assert _count(conversations, "events") == 5
    out = capsys.readouterr().out
    assert "practice.db" in out and "rasa_tracker.db" in out
    with Session(engine) as session:  # the live database carries on
        assert session.scalar(select(func.count()).select_from(Patient)) >= _count(practice, "patient")


def test_backup_of_postgresql_points_to_pg_dump(settings_env, capsys):
    settings_env(DATABASE_URL="postgresql+psycopg2://postgres@127.0.0.1/test")
    assert cli.main(["db", "backup"]) == 2
    assert "pg_dump" in capsys.readouterr().err
