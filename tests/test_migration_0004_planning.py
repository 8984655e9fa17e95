"""Migration 0004_planning (the needs-planning mark, the schedule last planned for) upgrades a database in use
(at 0003, with appointments) on SQLite and PostgreSQL: every existing appointment counts as changed once, so
the first pass plans it; and it goes back down cleanly."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from bot.db import make_engine
from bot.messaging.reminders import plan_reminders
from bot.migrate import alembic_config
from bot.practice import apply_practice_config, load_practice_file
from bot.settings import ROOT

AT = datetime(2027, 2, 1, 17, 0, tzinfo=timezone.utc)
NOW = datetime(2027, 3, 1, 17, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, sqlite_url):
    return sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_0004_marks_existing_appointments_for_planning_and_downgrades(url):
    config = alembic_config(url)
    command.upgrade(config, "0003_pipeline")
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        apply_practice_config(session, load_practice_file(ROOT / "bot" / "demo_practice.yml"))
    with engine.begin() as conn:  # what a running practice has: a patient with a visit in three days
        conn.execute(text("INSERT INTO patient (id, phone, first_name, last_name, language, is_new, created_at)"
                          " VALUES (1, '+15035550123', 'Ana', 'Reyes', 'en', false, :at)"), {"at": AT})
        conn.execute(text("INSERT INTO appointment (id, patient_id, provider_id, appointment_type_id, start, \"end\","
                          " status, created_at) SELECT 1, 1, p.id, t.id, :start, :end, 'booked', :at"
                          " FROM provider p, appointment_type t WHERE p.key = 'patel' AND t.key = 'follow_up'"),
                     {"start": datetime(2027, 3, 4, 18, 0), "end": datetime(2027, 3, 4, 18, 20), "at": AT}
                     if engine.dialect.name == "sqlite" else
                     {"start": datetime(2027, 3, 4, 18, 0, tzinfo=timezone.utc),
                      "end": datetime(2027, 3, 4, 18, 20, tzinfo=timezone.utc), "at": AT})

    command.upgrade(config, "head")
    assert "needs_planning" in {c["name"] for c in inspect(engine).get_columns("appointment")}
    assert "ix_appointment_planning" in {i["name"] for i in inspect(engine).get_indexes("appointment")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, needs_planning FROM appointment")).all() == [(1, True)]
        assert conn.execute(text("SELECT id, schedule FROM reminder_planning")).all() == [(1, None)]
    with Session(engine) as session, session.begin():
        first = plan_reminders(session, NOW)
    assert (first.examined, first.planned) == (1, 2)
    with Session(engine) as session, session.begin():
        assert plan_reminders(session, NOW).examined == 0

    command.downgrade(config, "0003_pipeline")
    assert "reminder_planning" not in set(inspect(engine).get_table_names())
    assert "needs_planning" not in {c["name"] for c in inspect(engine).get_columns("appointment")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM reminder")).scalar_one() == 2
    command.upgrade(config, "head")  # and up again
    engine.dispose()
