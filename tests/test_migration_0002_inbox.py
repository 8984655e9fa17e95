"""Migration 0002_inbox (conversation_command, login_failure, notes by the assistant) upgrades a database already in use (at 0001, with tickets and notes) on SQLite and
PostgreSQL, keeps its data, and goes back down cleanly."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import inspect, text

from bot.db import make_engine
from bot.migrate import alembic_config

AT = "2027-03-01 17:00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, sqlite_url):
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def _rows(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def test_0002_upgrades_a_database_in_use_and_downgrades(url):
    config = alembic_config(url)
    command.upgrade(config, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:  # what a running practice has: a user, a ticket with a note
        conn.execute(text("INSERT INTO staff_user (id, username, display_name, password_hash, role, active, created_at)"
                          " VALUES (1, 'bea', 'Bea', 'x', 'billing', true, :at)"), {"at": AT})
        conn.execute(text("INSERT INTO handoff_ticket (id, queue, reason, status, phone, created_at, due_at,"
                          " last_activity_at) VALUES (7, 'billing', 'bill', 'resolved', '+15035550123', :at, :at, :at)"),
                     {"at": AT})
        conn.execute(text("INSERT INTO ticket_note (ticket_id, staff_user_id, body, created_at)"
                          " VALUES (7, 1, 'called back', :at)"), {"at": AT})

    command.upgrade(config, "0002_inbox")  # 0002's own schema (later revisions add to these tables)
    tables = set(inspect(engine).get_table_names())
    assert {"conversation_command", "login_failure"} <= tables
    assert {c["name"] for c in inspect(engine).get_columns("login_failure")} == {"id", "at", "username",
                                                                                   "client_address"}
    columns = {c["name"]: c for c in inspect(engine).get_columns("conversation_command")}
    assert set(columns) == {"id", "kind", "phone", "ticket_id", "status", "attempts", "next_attempt_at",
                            "claimed_until", "last_error", "created_at", "done_at"}
    assert _rows(engine, "SELECT ticket_id, staff_user_id, body FROM ticket_note") == [(7, 1, "called back")]
    with engine.begin() as conn:  # the new rows the inbox writes: a resume, and the assistant's own note
        conn.execute(text("INSERT INTO conversation_command (kind, phone, ticket_id, status, attempts,"
                          " next_attempt_at, created_at) VALUES ('resume', '+15035550123', 7, 'pending', 0, :at, :at)"),
                     {"at": datetime(2027, 3, 1, 17, tzinfo=timezone.utc)})
        conn.execute(text("INSERT INTO ticket_note (ticket_id, staff_user_id, body, created_at)"
                          " VALUES (7, NULL, 'the assistant could not take it back', :at)"), {"at": AT})

    command.downgrade(config, "0001")
    assert not {"conversation_command", "login_failure"} & set(inspect(engine).get_table_names())
    assert _rows(engine, "SELECT ticket_id, staff_user_id, body FROM ticket_note") == [(7, 1, "called back")]
    command.upgrade(config, "head")  # and up again
    engine.dispose()
