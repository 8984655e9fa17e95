"""Shared fixtures: real databases (SQLite file, PostgreSQL when reachable) with the demo practice.

PostgreSQL tests skip with a reason on a machine without it, but never in CI:
with ``CI`` set, an unreachable PostgreSQL is a failure.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from bot.db import backup_sqlite, engine_for, make_engine
from bot.migrate import upgrade_database
from bot.practice import apply_practice_config, load_practice_file
from bot.settings import ROOT, get_settings
from tools.demo import load_demo

# The Twilio stub, webhook-receiver, inbox, conversation-harness and SMS-channel fixtures, for every test.
pytest_plugins = ["tests.stub_fixtures", "tests.web_helpers", "tests.conversation", "tests.channel_helpers"]

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
DEMO_PRACTICE = ROOT / "bot" / "demo_practice.yml"
ZONE = ZoneInfo("America/Los_Angeles")
# Staff password hashes at a test-only cost (production: 2**14, which tests/test_staff.py proves): scrypt at
# full cost in every inbox login was a tenth of the suite's CPU. The services the tests start inherit it.
TEST_SCRYPT_N = "16"


def pytest_configure(config) -> None:
    os.environ.setdefault("STAFF_PASSWORD_SCRYPT_N", TEST_SCRYPT_N)
    get_settings.cache_clear()


def demo_practice_data(*, welcome: bool = False) -> dict:
    """The demo practice file's data. The carriers' one-time welcome is off unless asked for, so a test of
    reminders, recall or waitlist offers sees only the texts it is about (tests/test_consent_purpose.py
    turns it on)."""
    data = load_practice_file(DEMO_PRACTICE)
    return {**data, "texting": {**data.get("texting", {}), "welcome": welcome}}


def _migrated_with_practice(url: str):
    upgrade_database(url)
    engine = make_engine(url)
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        apply_practice_config(session, demo_practice_data())
    return engine


def _template(url: str) -> None:
    """Migrate ``url`` and load the demo practice, then close every connection to it (Alembic's cached engine too)."""
    _migrated_with_practice(url).dispose()
    engine_for(url).dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'practice.db'}"


@pytest.fixture(scope="session")
def _sqlite_practice_template(tmp_path_factory) -> Path:
    """One migrated SQLite file with the demo practice, made once: each test gets a copy (migrating costs ~0.2 s)."""
    path = tmp_path_factory.mktemp("template") / "practice.db"
    _template(f"sqlite:///{path}")
    return path


@pytest.fixture
def engine(sqlite_url, _sqlite_practice_template):
    """A fresh, migrated SQLite database with the demo practice loaded (a copy of the session's template)."""
    backup_sqlite(_sqlite_practice_template, Path(sqlite_url.split("///", 1)[-1]))
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _demo_templates(tmp_path_factory, _sqlite_practice_template):
    """SQLite files holding the demo practice and the demo data around one ``now``, made once per ``now``.

    load_demo is deterministic for one ``now`` (tests/test_demo.py proves it), so a copy is the same
    database as loading it again, at a fraction of the cost.
    """
    made: dict[datetime, Path] = {}

    def template_for(now: datetime) -> Path:
        if now not in made:
            path = tmp_path_factory.mktemp("demo") / "practice.db"
            backup_sqlite(_sqlite_practice_template, path)
            engine = make_engine(f"sqlite:///{path}")
            with sessionmaker(bind=engine, future=True)() as session, session.begin():
                load_demo(session, now)
            engine.dispose()
            made[now] = path
        return made[now]

    return template_for


@pytest.fixture
def demo_engine(engine, _demo_templates, now):
    """``engine``, its database now also holding the demo patients and appointments around ``now``."""
    engine.dispose()  # no connection may hold the old file's pages while it is overwritten
    backup_sqlite(_demo_templates(now), Path(engine.url.database))
    return engine


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        probe = make_engine(PG_ADMIN_URL)
        with probe.connect():
            pass
        probe.dispose()
        return None
    except Exception as exc:  # any connection failure means "not here"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


def _require_postgres() -> None:
    reason = postgres_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {reason}")
        pytest.skip(reason)


def _admin():
    return make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")


def _pg_database_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg_database(admin, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    _require_postgres()
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield _pg_database_url(name)
    _drop_pg_database(admin, name)
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, sqlite_url):
    """An empty database on each engine in turn, for a migration's tests (unmigrated: the test picks the revision)."""
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def _pg_practice_template():
    """One migrated PostgreSQL database with the demo practice, made once: pg_engine clones it (CREATE ... TEMPLATE)."""
    _require_postgres()
    name = f"test_template_{uuid.uuid4().hex[:12]}"
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    _template(_pg_database_url(name))
    yield name
    _drop_pg_database(admin, name)
    admin.dispose()


@pytest.fixture
def pg_engine(pg_url, _pg_practice_template):
    """pg_url's database, migrated with the demo practice loaded (a clone of the session's template)."""
    name = pg_url.rsplit("/", 1)[-1]
    admin = _admin()
    _drop_pg_database(admin, name)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_practice_template}"'))
    admin.dispose()
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request):
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("engine")
    return request.getfixturevalue("pg_engine")


@pytest.fixture
def Session(engine):
    return sessionmaker(bind=engine, future=True, expire_on_commit=False)


@pytest.fixture
def now() -> datetime:
    """A fixed Monday morning in the demo practice's zone (not a holiday)."""
    return datetime(2027, 3, 1, 9, 0, tzinfo=ZONE)
