"""Finding patients by phone and by the name a texter uses, and registering new ones."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.models import Appointment, AppointmentStatus, AppointmentType, ChangedBy, Patient
from bot.patients import (
    PatientInQuestion,
    asks_about_someone_else,
    match_patient_by_name,
    normalize_phone,
    patient_meant,
    patients_for_phone,
    register_new_patient,
    upcoming_appointments,
)
from bot.scheduling.booking import book_appointment, cancel_appointment, find_open_slots


@pytest.fixture
def db(engine):
    with sessionmaker(bind=engine, future=True)() as session, session.begin():
        yield session


@pytest.mark.parametrize("text, expected", [
    ("(503) 555-0101", "+15035550101"),
    ("503.555.0101", "+15035550101"),
    ("5035550101", "+15035550101"),
    ("1-503-555-0101", "+15035550101"),
    ("+1 503 555 0101", "+15035550101"),
    ("my number is 503-555-0101 thanks", "+15035550101"),
    ("+44 20 7946 0958", "+442079460958"),
    ("555-0101", None),             # no area code
    ("(103) 555-0101", None),       # area codes never start with 0 or 1
    ("call me", None),
    ("", None),
])
def test_normalize_phone_gives_e164(text, expected):
    assert normalize_phone(text) == expected


def test_normalize_phone_needs_a_country_code_outside_north_america():
    assert normalize_phone("020 7946 0958", default_region="GB") is None
    assert normalize_phone("+1 503 555 0101", default_region="GB") == "+15035550101"


def test_patients_for_phone_finds_everyone_sharing_the_number(db):
    db.add_all([Patient(phone="+15035550113", first_name=n, last_name="Johnson") for n in ("Sarah", "Emma", "Liam")]
               + [Patient(phone="+15035550111", first_name="Maria", last_name="Garcia")])
    db.flush()
    assert [p.first_name for p in patients_for_phone(db, "(503) 555-0113")] == ["Sarah", "Emma", "Liam"]
    assert patients_for_phone(db, "+15035550199") == []
    assert patients_for_phone(db, "not a number") == []


def test_upcoming_appointments_are_active_future_and_soonest_first(db, now):
    patient = register_new_patient(db, phone="5035550160", first_name="Pat", last_name="Lee", date_of_birth=None, now=now)
    kind = db.execute(select(AppointmentType.id).where(AppointmentType.key == "follow_up")).scalar_one()
    slots = find_open_slots(db, appointment_type_id=kind, now=now, limit=3)
    booked = [book_appointment(db, patient_id=patient.id, slot=s, now=now, changed_by=ChangedBy.STAFF) for s in reversed(slots)]
    cancel_appointment(db, booked[0].id, now=now, changed_by=ChangedBy.STAFF)
    past = Appointment(patient_id=patient.id, provider_id=slots[0].provider_id, appointment_type_id=kind,
                       start=now - timedelta(days=3), end=now - timedelta(days=3) + timedelta(minutes=20),
                       status=AppointmentStatus.BOOKED)
    db.add(past)
    db.flush()
    upcoming = upcoming_appointments(db, [patient.id], now)
    assert [a.id for a in upcoming] == [booked[2].id, booked[1].id]
    assert upcoming_appointments(db, [], now) == []


def test_registered_patient_is_new_with_tidy_name_and_e164_phone(db, now):
    patient = register_new_patient(db, phone="(503) 555-0161", first_name=" emma ", last_name="DE LA CRUZ",
                                   date_of_birth=date(2019, 5, 1), now=now)
    assert (patient.phone, patient.first_name, patient.last_name) == ("+15035550161", "Emma", "De La Cruz")
    assert patient.is_new and patient.created_at == now and patient.id is not None
    mixed = register_new_patient(db, phone="5035550161", first_name="McKenzie", last_name="O'Neil",
                                 date_of_birth=None, now=now)
    assert mixed.first_name == "McKenzie"
    with pytest.raises(ValueError):
        register_new_patient(db, phone="12", first_name="A", last_name="B", date_of_birth=None, now=now)


def _family():
    return [Patient(first_name=n, last_name="Johnson") for n in ("Sarah", "Emma", "Liam", "Jack")]


@pytest.mark.parametrize("text, expected", [
    ("for emma", "Emma"),
    ("Liam", "Liam"),
    ("my son jack", "Jack"),
    ("EMMA'S appointment", "Emma"),
    ("it's for Emmma", "Emma"),    # typo
    ("jak please", "Jack"),        # typo
    ("me, sarah", "Sarah"),
    ("for my daughter", None),
    ("for olivia", None),
    ("", None),
])
def test_match_patient_by_name_picks_the_named_first_name(text, expected):
    found = match_patient_by_name(_family(), text)
    assert (found.first_name if found else None) == expected


def test_match_patient_by_name_uses_last_name_to_tell_same_first_names_apart():
    patients = [Patient(first_name="John", last_name="Smith"), Patient(first_name="John", last_name="Brown")]
    assert match_patient_by_name(patients, "john brown").last_name == "Brown"
    assert match_patient_by_name(patients, "john") is None


def test_common_words_are_not_mistaken_for_names():
    patients = [Patient(first_name="Ford", last_name="Prefect"), Patient(first_name="Sona", last_name="Ray")]
    assert match_patient_by_name(patients, "for my son") is None


def _johnsons(db, now) -> dict[str, Patient]:
    """Sarah and Emma share a phone; only Emma has a visit coming."""
    family = {name: register_new_patient(db, phone="+15035550170", first_name=name, last_name="Johnson",
                                         date_of_birth=None, now=now) for name in ("Sarah", "Emma")}
    kind = db.execute(select(AppointmentType.id).where(AppointmentType.key == "follow_up")).scalar_one()
    [slot] = find_open_slots(db, appointment_type_id=kind, now=now, limit=1)
    book_appointment(db, patient_id=family["Emma"].id, slot=slot, now=now, changed_by=ChangedBy.STAFF)
    return family


def test_the_patient_meant_is_the_phones_only_patient_whatever_the_text(db, now):
    alone = register_new_patient(db, phone="+15035550171", first_name="Pat", last_name="Lee", date_of_birth=None,
                                 now=now)
    assert patient_meant(db, "+15035550171", text="for emma", chosen_id=None, about_a_visit=True,
                         now=now) == PatientInQuestion(alone)


def test_the_patient_meant_is_the_one_the_text_names_before_an_earlier_choice(db, now):
    family = _johnsons(db, now)
    meant = patient_meant(db, "+15035550170", text="its for sarah", chosen_id=family["Emma"].id,
                          about_a_visit=True, now=now)
    assert meant == PatientInQuestion(family["Sarah"], named=True)


def test_the_patient_meant_is_the_one_chosen_earlier_when_the_text_names_nobody(db, now):
    family = _johnsons(db, now)
    meant = patient_meant(db, "+15035550170", text="cancel", chosen_id=family["Sarah"].id, about_a_visit=True,
                          now=now)
    assert meant == PatientInQuestion(family["Sarah"])


def test_a_text_about_a_visit_means_the_only_patient_with_one_coming(db, now):
    family = _johnsons(db, now)
    assert patient_meant(db, "+15035550170", text="cancel", chosen_id=None, about_a_visit=True,
                         now=now) == PatientInQuestion(family["Emma"])
    booking = patient_meant(db, "+15035550170", text="book", chosen_id=None, about_a_visit=False, now=now)
    assert booking == PatientInQuestion(choices=[family["Sarah"], family["Emma"]])


def test_when_the_patient_meant_is_unclear_every_patient_of_the_phone_is_a_choice(db, now):
    family = _johnsons(db, now)
    kind = db.execute(select(AppointmentType.id).where(AppointmentType.key == "follow_up")).scalar_one()
    [slot] = find_open_slots(db, appointment_type_id=kind, now=now, limit=1)
    book_appointment(db, patient_id=family["Sarah"].id, slot=slot, now=now, changed_by=ChangedBy.STAFF)
    assert patient_meant(db, "+15035550170", text="cancel", chosen_id=None, about_a_visit=True,
                         now=now) == PatientInQuestion(choices=[family["Sarah"], family["Emma"]])
    assert patient_meant(db, "+15035550199", text="cancel", chosen_id=None, about_a_visit=True,
                         now=now) == PatientInQuestion()


@pytest.mark.parametrize("text", [
    "is my neighbor's appointment still on thursday?", "can you confirm my neighbours appt",
    "I'm asking about my friend's visit", "can i cancel for my coworker", "Is Tom's cleaning still on?",
    "checking on someone else's appointment", "this is about a different patient"])
def test_a_text_about_someone_else_is_recognised(text):
    assert asks_about_someone_else(text)


@pytest.mark.parametrize("text", [
    "my friend recommended you, can i book", "confirm my appointment", "cancel Thursday's appointment",
    "Is today's appointment still on", "my son's checkup", "can my mom's visit move",
    "Dr. Patel's appointment time?", "move my daughter's cleaning to friday"])
def test_the_patients_own_and_family_visits_are_not_someone_else(text):
    assert not asks_about_someone_else(text)
