"""`python -m bot practice load`: an edited practice file updates the practice in place; --dry-run changes nothing.

Matching is by key. Appointments keep their provider and type: a provider who leaves the file while
appointments refer to them is deactivated, and such an appointment type cannot leave the file at all.
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest
import yaml
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import sessionmaker

from bot.models import Appointment, AppointmentType, ClosedDate, Practice, Provider
from bot.practice import PracticeFileError, update_practice
from bot.settings import ROOT
from tests.conftest import demo_practice_data
from tools.demo import load_demo

DEMO_FILE = ROOT / "bot" / "demo_practice.yml"


def _demo() -> dict:
    """The demo practice file's data, as the test databases hold it (tests/conftest.py: the welcome off)."""
    return copy.deepcopy(demo_practice_data())


def _update(engine, data: dict):
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        return update_practice(session, data)


def _rows(engine) -> dict:
    """Every row of every table, for proving that nothing changed."""
    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        return {name: sorted(map(tuple, conn.exec_driver_sql(f'SELECT * FROM "{name}"')), key=repr)
                for name in names}


def _with_appointments(engine, now) -> None:
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        load_demo(session, now)


def _edited(data: dict) -> dict:
    """The demo practice after an afternoon of edits to everything `practice load` owns."""
    patel = next(p for p in data["providers"] if p["key"] == "patel")
    patel["display_name"] = "Dr. Anita Patel"
    del patel["hours"]["wed"]                      # a weekday dropped
    patel["hours"]["tue"] = ["09:00", "17:00"]     # a weekday changed
    patel["hours"]["sat"] = ["09:00", "12:00"]     # a weekday added
    data["providers"].append({"key": "kim", "name": "Grace Kim", "display_name": "Dr. Kim",
                              "hours": {"mon": ["08:00", "12:00"]}})
    flu = next(t for t in data["appointment_types"] if t["key"] == "flu_shot")
    flu["minutes"] = 10
    flu["providers"] = ["lopez", "kim"]
    data["office_hours"]["fri"] = ["08:00", "17:00"]
    data["closed_dates"] = data["closed_dates"][1:] + [{"date": "2027-12-31", "name": "New Year's Eve"}]
    data["queues"]["billing"]["goal_minutes"] = 120
    data["routing"]["provider_question"] = "front_desk"
    data["reminders"]["offsets"] = ["3d", "2h"]
    return data


def test_reloading_the_same_file_changes_nothing_and_says_so(engine):
    before = _rows(engine)
    assert _update(engine, _demo()) == []
    assert _rows(engine) == before


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_an_edited_file_updates_hours_providers_types_queues_routing_and_reminders_in_place(request, database, now):
    engine = request.getfixturevalue("engine" if database == "sqlite" else "pg_engine")
    _with_appointments(engine, now)
    with sessionmaker(bind=engine, future=True)() as session:
        ids = {p.key: p.id for p in session.execute(select(Provider)).scalars()}
        appointments = session.execute(
            select(Appointment.id, Appointment.provider_id, Appointment.appointment_type_id, Appointment.start)
        ).all()

    changes = {str(c.subject): c for c in _update(engine, _edited(_demo()))}

    assert changes["provider kim"].change == "added"
    assert set(changes["provider patel"].details) == {
        "display_name: 'Dr. Patel' -> 'Dr. Anita Patel'", "hours tue: 08:00-17:00 -> 09:00-17:00",
        "hours wed: 08:00-12:00 -> closed", "hours sat: closed -> 09:00-12:00"}
    assert changes["appointment type flu_shot"].details == ("minutes: 15 -> 10", "providers: lopez -> kim, lopez")
    assert changes["practice"].details == ("office hours fri: 08:00-16:00 -> 08:00-17:00",)
    assert set(changes["closed dates"].details) == {"2026-11-26: removed (Thanksgiving)",
                                                    "2027-12-31: added (New Year's Eve)"}
    assert changes["queues"].details == (
        "billing: {'name': 'Billing', 'team': 'our billing team', 'team_es': 'nuestro equipo de cobros', 'goal_minutes': 240} -> "
        "{'name': 'Billing', 'team': 'our billing team', 'team_es': 'nuestro equipo de cobros', 'goal_minutes': 120}",)
    assert changes["routing"].details == ("provider_question: 'clinical' -> 'front_desk'",)
    assert changes["reminders"].details == ("offsets: ['2d', '2h'] -> ['3d', '2h']",)
    assert len(changes) == 8

    with sessionmaker(bind=engine, future=True)() as session:
        providers = {p.key: p for p in session.execute(select(Provider)).scalars()}
        assert {key: providers[key].id for key in ids} == ids  # the same rows, updated
        patel = providers["patel"]
        assert [(h.weekday, h.start.strftime("%H:%M"), h.end.strftime("%H:%M")) for h in patel.hours] == [
            (0, "08:00", "17:00"), (1, "09:00", "17:00"), (3, "10:00", "19:00"), (4, "08:00", "16:00"),
            (5, "09:00", "12:00")]
        assert patel.display_name == "Dr. Anita Patel"
        flu = session.execute(select(AppointmentType).where(AppointmentType.key == "flu_shot")).scalar_one()
        assert (flu.minutes, sorted(p.key for p in flu.providers)) == (10, ["kim", "lopez"])
        practice = session.execute(select(Practice)).scalar_one()
        assert practice.office_hours["fri"] == ["08:00", "17:00"]
        assert practice.config["queues"]["billing"]["goal_minutes"] == 120
        assert practice.config["routing"]["provider_question"] == "front_desk"
        assert practice.config["reminders"]["offsets"] == ["3d", "2h"]
        assert {c.day.isoformat() for c in session.execute(select(ClosedDate)).scalars()} >= {"2027-12-31"}
        assert "2026-11-26" not in {c.day.isoformat() for c in session.execute(select(ClosedDate)).scalars()}
        assert session.execute(
            select(Appointment.id, Appointment.provider_id, Appointment.appointment_type_id, Appointment.start)
        ).all() == appointments  # patients' appointments untouched

    assert _update(engine, _edited(_demo())) == []  # and loading it again is a no-op


def test_a_provider_appointments_refer_to_who_leaves_the_file_is_deactivated_not_deleted(engine, now):
    _with_appointments(engine, now)
    data = _demo()
    data["providers"] = [p for p in data["providers"] if p["key"] != "lopez"]
    for kind in data["appointment_types"]:
        kind["providers"] = [key for key in kind["providers"] if key != "lopez"] or ["okafor"]
    with sessionmaker(bind=engine, future=True)() as session:
        lopez = session.execute(select(Provider).where(Provider.key == "lopez")).scalar_one()
        booked = session.execute(select(func.count()).where(Appointment.provider_id == lopez.id)).scalar_one()
    assert booked > 0

    [change] = [c for c in _update(engine, data) if c.subject == "provider lopez"]

    assert change.change == "deactivated"
    with sessionmaker(bind=engine, future=True)() as session:
        lopez = session.execute(select(Provider).where(Provider.key == "lopez")).scalar_one()
        assert lopez.active is False and lopez.appointment_types == []
        assert session.execute(select(func.count()).where(Appointment.provider_id == lopez.id)).scalar_one() == booked


def test_a_provider_nothing_refers_to_who_leaves_the_file_is_removed(engine):
    data = _demo()
    data["providers"].append({"key": "kim", "name": "Grace Kim"})
    _update(engine, data)

    changes = _update(engine, _demo())

    assert [(c.subject, c.change) for c in changes if c.subject.startswith("provider")] == [("provider kim", "removed")]
    with sessionmaker(bind=engine, future=True)() as session:
        assert session.execute(select(Provider).where(Provider.key == "kim")).scalar_one_or_none() is None


def test_an_appointment_type_appointments_refer_to_cannot_leave_the_file(engine, now):
    _with_appointments(engine, now)
    data = _demo()
    data["appointment_types"] = [t for t in data["appointment_types"] if t["key"] != "annual_physical"]
    before = _rows(engine)

    with pytest.raises(PracticeFileError, match=r"annual_physical .* appointment rows refer to it.*providers: \[\]"):
        _update(engine, data)

    assert _rows(engine) == before


def test_an_appointment_type_nothing_refers_to_leaves_with_the_file(engine):
    data = _demo()
    data["appointment_types"] = [t for t in data["appointment_types"] if t["key"] != "womens_health"]

    changes = _update(engine, data)

    assert ("appointment type womens_health", "removed") in [(c.subject, c.change) for c in changes]
    with sessionmaker(bind=engine, future=True)() as session:
        assert "womens_health" not in set(session.execute(select(AppointmentType.key)).scalars())


def _practice_load(sqlite_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": sqlite_url}
    return subprocess.run([sys.executable, "-m", "bot", "practice", "load", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_dry_run_prints_what_would_change_and_changes_nothing(engine, sqlite_url, tmp_path, now):
    _with_appointments(engine, now)
    edited = tmp_path / "practice.yml"
    edited.write_text(yaml.safe_dump(_edited(_demo())))
    before = _rows(engine)

    dry = _practice_load(sqlite_url, str(edited), "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert "provider kim: added" in dry.stdout
    assert "  hours tue: 08:00-17:00 -> 09:00-17:00" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    assert _rows(engine) == before

    real = _practice_load(sqlite_url, str(edited))

    assert real.returncode == 0, real.stderr
    assert "provider kim: added" in real.stdout and "dry run" not in real.stdout
    assert _rows(engine) != before
    assert "no changes" in _practice_load(sqlite_url, str(edited), "--dry-run").stdout


def test_a_refused_load_says_why_on_stderr_and_exits_2(engine, sqlite_url, tmp_path, now):
    _with_appointments(engine, now)
    data = _demo()
    data["appointment_types"] = [t for t in data["appointment_types"] if t["key"] != "annual_physical"]
    edited = tmp_path / "practice.yml"
    edited.write_text(yaml.safe_dump(data))

    result = _practice_load(sqlite_url, str(edited))

    assert result.returncode == 2
    assert "appointment type annual_physical is not in the file" in result.stderr
    assert "Traceback" not in result.stderr
