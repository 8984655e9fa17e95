"""The demo data: deterministic, relative to now, valid bookings, and never loaded over real data."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine
from bot.models import ACTIVE_STATUSES, Appointment, AppointmentChange, AppointmentStatus, ChangedBy, Patient, Practice
from bot.patients import patients_for_phone, upcoming_appointments
from bot.scheduling.booking import cancel_appointment, find_open_slots
from bot.settings import ROOT
from tools.demo import UNKNOWN_DEMO_PHONE, demo_contacts, load_demo, setup_database

ZONE = ZoneInfo("America/Los_Angeles")
PRACTICE_FILE = str(ROOT / "bot" / "demo_practice.yml")


def snapshot(engine) -> dict:
    """Every demo row as plain tuples, for comparing two databases."""
    with sessionmaker(bind=engine, future=True)() as session:
        return {
            "patients": [(p.id, p.phone, p.first_name, p.last_name, p.date_of_birth, p.created_at)
                         for p in session.execute(select(Patient).order_by(Patient.id)).scalars()],
            "appointments": [(a.id, a.patient_id, a.provider.key, a.appointment_type.key, a.start, a.end, a.status)
                             for a in session.execute(select(Appointment).order_by(Appointment.id)).scalars()],
            "changes": [(c.appointment_id, c.status, c.changed_at, c.changed_by)
                        for c in session.execute(select(AppointmentChange).order_by(AppointmentChange.id)).scalars()],
        }


@pytest.fixture
def demo(engine, now):
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        load_demo(session, now)
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        yield session


def test_same_now_gives_the_same_rows(tmp_path, now):
    engines = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        setup_database(url, PRACTICE_FILE, now)
        engines.append(make_engine(url))
    first, second = (snapshot(e) for e in engines)
    assert first == second
    assert len(first["patients"]) >= 25 and len(first["appointments"]) >= 25
    for engine in engines:
        engine.dispose()


def test_the_demo_engine_fixture_holds_what_loading_the_demo_afresh_gives(demo_engine, tmp_path, now):
    """tests/conftest.py copies the demo data from a template made once per now: the copy must be the same."""
    url = f"sqlite:///{tmp_path / 'fresh'}.db"
    setup_database(url, PRACTICE_FILE, now)
    fresh = make_engine(url)
    assert snapshot(demo_engine) == snapshot(fresh)
    fresh.dispose()


def test_later_now_moves_the_appointments_along(tmp_path, now):
    later = now + timedelta(days=40)
    url = f"sqlite:///{tmp_path / 'later'}.db"
    setup_database(url, PRACTICE_FILE, later)
    engine = make_engine(url)
    upcoming = [a for a in snapshot(engine)["appointments"] if a[6] == AppointmentStatus.BOOKED]
    assert min(a[4] for a in upcoming) > later
    engine.dispose()


def test_load_refuses_a_database_with_patients(engine, now):
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        session.add(Patient(phone="+15035550190", first_name="Real", last_name="Patient"))
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        with pytest.raises(RuntimeError, match="without patients"):
            load_demo(session, now)
    with sessionmaker(bind=engine, future=True)() as session:
        assert [p.first_name for p in session.execute(select(Patient)).scalars()] == ["Real"]
        assert session.execute(select(Appointment)).first() is None


@pytest.mark.parametrize("now", [
    datetime(2027, 3, 1, 9, 0, tzinfo=ZONE),     # the tests' Monday
    datetime(2026, 10, 28, 16, 30, tzinfo=ZONE),  # clocks fall back within the demo window
    datetime(2027, 3, 10, 7, 0, tzinfo=ZONE),     # clocks spring forward
    datetime(2026, 12, 19, 11, 0, tzinfo=ZONE),   # Christmas and New Year closures (a Saturday)
])
def test_demo_appointments_are_future_and_bookable(engine, now):
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        load_demo(session, now)
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        active = session.execute(select(Appointment).where(Appointment.status.in_(ACTIVE_STATUSES))).scalars().all()
        assert len(active) >= 25
        for appointment in active:
            assert appointment.start > now + timedelta(minutes=120)
            assert appointment.changes[0].changed_by == ChangedBy.SYSTEM
            savepoint = session.begin_nested()
            cancel_appointment(session, appointment.id, now=now, changed_by=ChangedBy.SYSTEM)
            offered = find_open_slots(session, appointment_type_id=appointment.appointment_type_id, now=now,
                                      provider_id=appointment.provider_id, window_start=appointment.start,
                                      window_end=appointment.start + timedelta(minutes=1))
            savepoint.rollback()
            assert [(s.start, s.end) for s in offered] == [(appointment.start, appointment.end)], appointment.id


def test_demo_has_the_scenarios_the_walkthrough_needs(demo, now):
    today = now.astimezone(ZONE).date()

    maria = patients_for_phone(demo, "+15035550111")
    visits = upcoming_appointments(demo, [p.id for p in maria], now)
    assert [p.full_name for p in maria] == ["Maria Garcia"] and len(visits) == 1
    assert 2 <= (visits[0].start.astimezone(ZONE).date() - today).days <= 4

    assert len(upcoming_appointments(demo, [p.id for p in patients_for_phone(demo, "+15035550112")], now)) == 2

    family = patients_for_phone(demo, "+15035550113")
    assert [p.first_name for p in family] == ["Sarah", "Emma", "Liam"]
    kids_visits = upcoming_appointments(demo, [p.id for p in family[1:]], now)
    assert sorted(a.appointment_type.key for a in kids_visits) == ["well_child", "well_child"]

    robert = patients_for_phone(demo, "+15035550114")
    assert upcoming_appointments(demo, [robert[0].id], now) == []
    last = demo.execute(select(Appointment).where(Appointment.patient_id == robert[0].id)).scalar_one()
    assert (last.appointment_type.key, last.status) == ("annual_physical", AppointmentStatus.FULFILLED)
    assert 380 <= (now - last.start).days <= 410  # about 13 months: due for the yearly recall

    sensitive = upcoming_appointments(demo, [p.id for p in patients_for_phone(demo, "+15035550115")], now)
    assert [a.appointment_type.sensitive for a in sensitive] == [True]

    others = demo.execute(select(Patient).where(Patient.phone >= "+15035550120")).scalars().all()
    assert len(others) == 20
    starts = [a.start for a in upcoming_appointments(demo, [p.id for p in others], now)]
    assert min(starts) < now + timedelta(days=4) and max(starts) > now + timedelta(days=14)
    assert all(p.phone.startswith("+150355501") for p in demo.execute(select(Patient)).scalars())


def test_demo_contacts_list_each_phone_once_with_its_patients(demo):
    contacts = demo_contacts(demo)
    phones = [c["phone"] for c in contacts]
    assert len(phones) == len(set(phones))
    assert {"name": "Sarah Johnson (also Emma, Liam)", "phone": "+15035550113"} in contacts
    assert {"name": "Maria Garcia", "phone": "+15035550111"} in contacts
    assert contacts[-1]["phone"] == UNKNOWN_DEMO_PHONE and not patients_for_phone(demo, UNKNOWN_DEMO_PHONE)


@pytest.mark.parametrize("url_fixture", ["sqlite_url", "pg_url"])
def test_setup_database_twice_neither_wipes_nor_duplicates(request, url_fixture, now):
    url = request.getfixturevalue(url_fixture)
    first = setup_database(url, PRACTICE_FILE, now)
    assert "practice loaded" in first and "demo data loaded" in first
    engine = make_engine(url)
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        session.execute(select(Practice)).scalar_one().name = "Edited Name Clinic"
    before = snapshot(engine)
    second = setup_database(url, PRACTICE_FILE, now + timedelta(days=3))
    assert "nothing to load" in second and "Edited Name Clinic" in second
    assert snapshot(engine) == before
    engine.dispose()
