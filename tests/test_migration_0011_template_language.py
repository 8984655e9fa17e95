"""Migration 0011_template_language gives reply templates a language: existing ones are English, on SQLite and
PostgreSQL, and it goes back down keeping them."""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from bot.db import make_engine
from bot.migrate import alembic_config


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, sqlite_url):
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_0011_makes_existing_templates_english_and_downgrades(url):
    config = alembic_config(url)
    command.upgrade(config, "0010_bills")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO canned_response (id, title, body) VALUES (1, 'Call us', 'Hi {first_name}')"))

    command.upgrade(config, "0011_template_language")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, title, language FROM canned_response")).all() == [(1, "Call us", "en")]
        conn.execute(text("INSERT INTO canned_response (id, title, body, language) VALUES (2, 'Cita', 'Hola', 'es')"))

    command.downgrade(config, "0010_bills")
    assert "language" not in {c["name"] for c in inspect(engine).get_columns("canned_response")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, title FROM canned_response ORDER BY id")).all() == [
            (1, "Call us"), (2, "Cita")]
    command.upgrade(config, "head")
    engine.dispose()
