"""Demo patients and appointments, placed relative to "now", for trying the assistant out.

The same ``now`` always gives the same rows (a seeded random.Random and
fixed offsets), and every upcoming appointment goes through
:func:`bot.scheduling.booking.book_appointment`, so demo data obeys the same rules
as real bookings. Loading refuses a database that already has patients: it
never wipes, and never mixes demo people into a real practice.

Phones a demo user can text from the SMS simulator (all 555-01xx):
+15035550111 Maria Garcia, one visit in about two days;
+15035550112 David Kim, two upcoming visits;
+15035550113 Sarah Johnson, the parent of Emma and Liam (well-child visits);
+15035550114 Robert Chen, no upcoming visit, last physical 13 months ago (recall);
+15035550115 Alex Rivera, a behavioral health visit (sensitive: never named in texts);
+15035550116 Lucía Hernández, who speaks Spanish (her record's language is "es"), one visit in about two days;
+15035550120..0139 twenty other patients; +15035550150 is nobody (a new patient).
Maria and Lucía have billing consent, David has not (tools/demo_statements.csv shows both).
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.db import make_engine, session_factory
from bot.messaging.consent import record_consent
from bot.migrate import upgrade_database
from bot.models import (
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    AppointmentType,
    ChangedBy,
    ConsentPurpose,
    ConsentSource,
    ConsentStatus,
    Patient,
    Practice,
    Provider,
)
from bot.practice import (
    apply_practice_config,
    closed_days,
    get_practice,
    load_practice_file,
    office_hours_on,
    practice_zone,
)
from bot.scheduling.booking import book_appointment, find_open_slots

__all__ = ["load_demo", "demo_contacts", "setup_database", "UNKNOWN_DEMO_PHONE"]

SEED = 20270301
UNKNOWN_DEMO_PHONE = "+15035550150"

_OTHERS = [  # first, last, date of birth
    ("Olivia", "Brown", date(1988, 4, 12)), ("Noah", "Williams", date(1975, 9, 3)),
    ("Ava", "Jones", date(1992, 1, 27)), ("Ethan", "Miller", date(1966, 11, 8)),
    ("Sophia", "Davis", date(1999, 6, 30)), ("Mason", "Wilson", date(1983, 2, 14)),
    ("Isabella", "Moore", date(1958, 7, 21)), ("Lucas", "Taylor", date(2001, 3, 5)),
    ("Mia", "Anderson", date(1979, 12, 19)), ("James", "Thomas", date(1948, 5, 2)),
    ("Charlotte", "Jackson", date(1990, 8, 16)), ("Benjamin", "White", date(1971, 10, 25)),
    ("Amelia", "Harris", date(1986, 1, 9)), ("Henry", "Martin", date(1963, 4, 28)),
    ("Harper", "Thompson", date(1995, 9, 11)), ("Daniel", "Nguyen", date(1980, 6, 6)),
    ("Evelyn", "Lee", date(1953, 3, 17)), ("Samuel", "Walker", date(1997, 11, 29)),
    ("Grace", "Hall", date(1969, 2, 3)), ("Leo", "Young", date(2004, 7, 13)),
]
_ROUTINE_TYPES = ["follow_up", "follow_up", "sick_visit", "annual_physical", "flu_shot"]


class _Loader:
    """Books demo visits: a random open slot (seeded) on the first open day from an offset."""

    def __init__(self, session: Session, now: datetime):
        self.session, self.now = session, now
        self.practice = get_practice(session)
        self.zone = practice_zone(self.practice)
        self.today = now.astimezone(self.zone).date()
        self.types = {t.key: t for t in session.execute(select(AppointmentType)).scalars()}
        self.providers = {p.key: p for p in session.execute(select(Provider)).scalars()}
        self.rng = random.Random(SEED)
        self.patients: list[Patient] = []
        self.appointments: list[Appointment] = []

    def patient(self, first: str, last: str, phone: str, born: date, language: str = "en") -> Patient:
        patient = Patient(phone=phone, first_name=first, last_name=last, date_of_birth=born, language=language,
                          created_at=self.now)
        self.session.add(patient)
        self.session.flush()
        self.patients.append(patient)
        return patient

    def book(self, patient: Patient, type_key: str, days_ahead: int, part: str | None = None,
             provider_key: str | None = None) -> Appointment:
        kind = self.types[type_key]
        provider_id = self.providers[provider_key].id if provider_key else None
        for extra in range(14):
            day = self.today + timedelta(days=days_ahead + extra)
            for part_of_day in dict.fromkeys([part, None]):
                slots = find_open_slots(
                    self.session, appointment_type_id=kind.id, now=self.now,
                    window_start=datetime.combine(day, time(0), tzinfo=self.zone),
                    window_end=datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone),
                    provider_id=provider_id, part_of_day=part_of_day, limit=200, spread=False,
                    patient_id=patient.id,
                )
                if slots:
                    appointment = book_appointment(self.session, patient_id=patient.id, slot=self.rng.choice(slots),
                                                   now=self.now, changed_by=ChangedBy.SYSTEM)
                    self.appointments.append(appointment)
                    return appointment
        raise RuntimeError(f"no open {type_key} slot for the demo within two weeks of day +{days_ahead}")

    def past_visit(self, patient: Patient, type_key: str, months_ago: int, provider_key: str) -> Appointment:
        """A fulfilled visit in the past (recall data); written directly, as bookings refuse the past."""
        kind, provider = self.types[type_key], self.providers[provider_key]
        month_index = self.today.year * 12 + self.today.month - 1 - months_ago
        day = date(month_index // 12, month_index % 12 + 1, min(self.today.day, 28))
        worked = {h.weekday: h for h in provider.hours}
        closed = closed_days(self.session, day - timedelta(days=31), day)
        while day.weekday() not in worked or office_hours_on(self.practice, day, closed) is None:
            day -= timedelta(days=1)
        start = datetime.combine(day, max(worked[day.weekday()].start, time(10)), tzinfo=self.zone)
        end = start + timedelta(minutes=kind.minutes)  # same day, far from any clock change hour
        appointment = Appointment(patient_id=patient.id, provider_id=provider.id, appointment_type_id=kind.id,
                                  start=start, end=end, status=AppointmentStatus.FULFILLED,
                                  created_at=start - timedelta(days=21))
        self.session.add(appointment)
        self.session.flush()
        for status, at in ((AppointmentStatus.BOOKED, appointment.created_at), (AppointmentStatus.FULFILLED, end)):
            self.session.add(AppointmentChange(appointment_id=appointment.id, status=status, changed_at=at,
                                               changed_by=ChangedBy.SYSTEM))
        self.session.flush()
        return appointment


def load_demo(session: Session, now: datetime) -> dict:
    """Create the demo patients and appointments around ``now``; refuses if any patient exists."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if session.execute(select(func.count(Patient.id))).scalar_one():
        raise RuntimeError("the demo data loads only into a database without patients; nothing was changed")
    load = _Loader(session, now)
    years = load.today.year

    maria = load.patient("Maria", "Garcia", "+15035550111", date(1984, 5, 19))
    load.book(maria, "follow_up", 2, "morning", "patel")

    david = load.patient("David", "Kim", "+15035550112", date(1977, 10, 2))
    load.book(david, "sick_visit", 3, "afternoon", "okafor")
    load.book(david, "annual_physical", 10, "morning", "patel")

    load.patient("Sarah", "Johnson", "+15035550113", date(1987, 2, 23))
    emma = load.patient("Emma", "Johnson", "+15035550113", date(years - 6, 8, 4))
    liam = load.patient("Liam", "Johnson", "+15035550113", date(years - 3, 1, 15))
    load.book(emma, "well_child", 5, "afternoon", "okafor")
    load.book(liam, "well_child", 5, "afternoon", "okafor")

    robert = load.patient("Robert", "Chen", "+15035550114", date(1961, 12, 1))
    load.past_visit(robert, "annual_physical", 13, "patel")

    alex = load.patient("Alex", "Rivera", "+15035550115", date(1993, 3, 8))
    load.book(alex, "behavioral_health", 4, "afternoon", "patel")

    for number, (first, last, born) in enumerate(_OTHERS, start=120):
        patient = load.patient(first, last, f"+1503555{number:04d}", born)
        for _ in range(load.rng.choice([1, 1, 2])):
            type_key = load.rng.choice(_ROUTINE_TYPES)
            load.book(patient, type_key, load.rng.randint(1, 21), load.rng.choice([None, "morning", "afternoon"]))

    # Loaded last, so the seeded choices (and ids) of everyone above stay as they were.
    lucia = load.patient("Lucía", "Hernández", "+15035550116", date(1979, 9, 14), language="es")
    load.book(lucia, "follow_up", 2, "afternoon", "okafor")

    # Bill-ready texts (tools/demo_statements.csv): practice-management ids for the import, and billing consent
    # from Maria and Lucía; David gave none, so his statement shows the skip.
    for patient, external_id in ((maria, "PM-1001"), (david, "PM-1002"), (lucia, "PM-1016")):
        patient.external_id = external_id
    for patient, source in ((maria, ConsentSource.INTAKE_FORM), (lucia, ConsentSource.VERBAL)):
        record_consent(session, patient.phone, ConsentPurpose.BILLING, ConsentStatus.OPTED_IN, source, now,
                       detail="demo data")

    return {
        "patients": len(load.patients),
        "appointments": len(load.appointments),
        "past_appointments": 1,
        "contacts": demo_contacts(session),
    }


def demo_contacts(session: Session, limit: int = 60) -> list[dict]:
    """Phones to text from in the SMS simulator: one entry per phone, named by its patients."""
    by_phone: dict[str, list[Patient]] = {}
    for patient in session.execute(select(Patient).order_by(Patient.phone, Patient.id)).scalars():
        by_phone.setdefault(patient.phone, []).append(patient)
    contacts = []
    for phone, patients in list(by_phone.items())[:limit]:
        name = patients[0].full_name
        if len(patients) > 1:
            name += " (also " + ", ".join(p.first_name for p in patients[1:]) + ")"
        contacts.append({"name": name, "phone": phone})
    if UNKNOWN_DEMO_PHONE not in by_phone:
        contacts.append({"name": "Unknown number (new patient)", "phone": UNKNOWN_DEMO_PHONE})
    return contacts


def setup_database(url: str, practice_file: str, now: datetime, load_demo_data: bool = True) -> str:
    """Migrate, load the practice if absent, load the demo if no patients; never wipes or duplicates.

    Returns a one-line summary for the operator.
    """
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session, session.begin():
            steps = []
            if session.execute(select(Practice.id)).first() is None:
                apply_practice_config(session, load_practice_file(practice_file))
                steps.append("practice loaded")
            if load_demo_data and session.execute(select(func.count(Patient.id))).scalar_one() == 0:
                loaded = load_demo(session, now)
                steps.append(f"demo data loaded ({loaded['patients']} patients, "
                             f"{loaded['appointments']} upcoming appointments)")
            practice = get_practice(session)
            patients = session.execute(select(func.count(Patient.id))).scalar_one()
            appointments = session.execute(select(func.count(Appointment.id))).scalar_one()
    finally:
        engine.dispose()
    where = make_url(url).render_as_string(hide_password=True)
    done = "; ".join(steps) if steps else "nothing to load"
    return (f"Database {where} is up to date: {practice.name}, {patients} patients, "
            f"{appointments} appointments ({done}).")
