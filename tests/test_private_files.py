"""Patient data on disk is the owner's alone: var/ and new database folders 0700; the SQLite files (with
their -wal and -shm), backups, service logs and what the services create 0600, whatever the umask."""
from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import db
from bot.migrate import upgrade_database
from bot.settings import Settings
from workers import supervisor


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def lax_umask():
    """The usual 022 umask, which alone would make everything world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_sqlite_database_and_its_folders_are_private(tmp_path):
    folder = tmp_path / "data" / "practice"
    url = f"sqlite:///{folder / 'practice.db'}"
    upgrade_database(url)
    engine = db.make_engine(url)
    with engine.begin() as conn:  # write, so that SQLite has its -wal and -shm files
        conn.execute(text("INSERT INTO closed_date (day, name) VALUES ('2027-12-25', 'Christmas Day')"))
        files = sorted(p.name for p in folder.iterdir())
        assert files == ["practice.db", "practice.db-shm", "practice.db-wal"]
        assert {name: mode(folder / name) for name in files} == dict.fromkeys(files, 0o600)
    engine.dispose()
    assert mode(folder) == 0o700 and mode(tmp_path / "data") == 0o700


def test_an_existing_folder_is_left_alone_but_var_is_tightened(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    db.make_engine(f"sqlite:///{shared / 'practice.db'}").dispose()
    assert mode(shared) == 0o755 and mode(shared / "practice.db") == 0o600

    var = tmp_path / "var"
    var.mkdir(mode=0o755)  # an older install's var/, made by `mkdir -p var`
    monkeypatch.setattr(db, "VAR", var)
    db.make_engine(f"sqlite:///{var / 'practice.db'}").dispose()
    assert mode(var) == 0o700


def test_a_backup_is_as_private_as_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'practice.db'}"
    upgrade_database(url)
    copy = db.backup_sqlite(tmp_path / "practice.db", tmp_path / "backups" / "20270301-090000" / "practice.db")
    assert mode(copy) == 0o600
    assert mode(copy.parent) == 0o700 and mode(tmp_path / "backups") == 0o700


def test_the_supervisor_makes_var_logs_and_what_services_create_private(tmp_path, monkeypatch):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    made = var / "tracker.db"
    code = f"open({str(made)!r}, 'w').write('conversations'); print('started')"
    monkeypatch.setattr(supervisor, "VAR", var)
    never_listened = _free_port()
    monkeypatch.setattr(supervisor, "services", lambda settings, model: [
        supervisor.Service("rasa", [sys.executable, "-c", code], port=never_listened)])
    monkeypatch.setattr(supervisor, "_write_demo_contacts", lambda: None)
    monkeypatch.setattr(supervisor.Supervisor, "handle_stop_signals", lambda self: None)
    monkeypatch.setattr(supervisor, "_print_summary", lambda settings: None)

    assert supervisor.run_services(Settings(rasa_token="t")) == 1  # it died before it listened: the set stops
    assert mode(var) == 0o700
    assert (var / "rasa.log").read_text() == "started\n" and mode(var / "rasa.log") == 0o600
    assert mode(made) == 0o600  # created by the service itself, under the supervisor's umask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
