"""bot.db.transaction, the one unit of work: committed at the end, rolled back on error, and on a dry run."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.models import Patient


def _names(engine) -> list[str]:
    with transaction(engine) as session:
        return list(session.execute(select(Patient.first_name).order_by(Patient.id)).scalars())


def test_a_transaction_commits_at_the_end_and_its_objects_stay_readable(engine):
    with transaction(engine) as session:
        patient = Patient(phone="+15035550180", first_name="Ana", last_name="Reyes")
        session.add(patient)
    assert _names(engine) == ["Ana"] and patient.first_name == "Ana"


def test_a_transaction_that_raises_changes_nothing(engine):
    with pytest.raises(RuntimeError):
        with transaction(engine) as session:
            session.add(Patient(phone="+15035550180", first_name="Ana", last_name="Reyes"))
            session.flush()
            raise RuntimeError("half-way")
    assert _names(engine) == []


def test_a_dry_run_sees_its_own_changes_then_changes_nothing(engine):
    with transaction(engine, dry_run=True) as session:
        session.add(Patient(phone="+15035550180", first_name="Ana", last_name="Reyes"))
        session.flush()
        assert list(session.execute(select(Patient.first_name)).scalars()) == ["Ana"]
    assert _names(engine) == []
