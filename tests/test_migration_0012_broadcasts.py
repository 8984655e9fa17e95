"""Migration 0012_broadcasts adds the broadcast tables and goes back down, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from bot.db import make_engine
from bot.migrate import alembic_config


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, sqlite_url):
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_0012_adds_the_broadcast_tables_and_downgrades(url):
    config = alembic_config(url)
    command.upgrade(config, "0012_broadcasts")
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"broadcast", "broadcast_recipient"} <= tables
    assert {c["name"] for c in inspect(engine).get_columns("broadcast_recipient")} == {
        "id", "broadcast_id", "phone", "outbound_id", "skipped"}
    command.downgrade(config, "0011_template_language")
    assert not {"broadcast", "broadcast_recipient"} & set(inspect(engine).get_table_names())
    command.upgrade(config, "head")
    engine.dispose()
