"""Helpers for the staff inbox tests: an app over the test database, logins, tickets.

Registered as a pytest plugin in conftest.py: the ``clock`` and ``app`` fixtures serve every inbox test.
"""
from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.messaging.inbound import store_inbound
from bot.models import Appointment, AppointmentStatus, AppointmentType, AuditEntry, Patient, Provider
from bot.settings import Settings
from bot.staff import accounts as staff
from bot.staff import handoff
from web import create_app

PASSWORD = "correct horse 1"
_sids = itertools.count(1)


class Clock:
    """A settable clock for the app, so tests stand on a fixed date."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(now):
    return Clock(now)


@pytest.fixture
def app(engine, clock):
    return make_app(engine, clock)


def make_app(engine, clock: Clock, **settings):
    base = dict(database_url=str(engine.url), rasa_url="http://127.0.0.1:9")  # port 9: nobody answers
    base.update(settings)
    app = create_app(Settings(**base), engine, clock=clock)
    app.config["TESTING"] = True
    return app


def add_user(engine, username: str, role: str, now: datetime, display_name: str | None = None) -> int:
    with Session(engine) as session, session.begin():
        return staff.create_staff_user(session, username, PASSWORD, role, display_name, now).id


def try_login(client, username: str, password: str = PASSWORD):
    """Fill in and send the login form as a browser does; returns the response, whatever it is."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def login(client, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the login's CSRF token (from the next page)."""
    response = try_login(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_of(client)


def csrf_of(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def patient_texts(engine, phone: str, bodies: list[str], at: datetime) -> None:
    """Store inbound texts as the SMS channel does."""
    with Session(engine) as session, session.begin():
        for body in bodies:
            store_inbound(session, message_sid=f"SM{next(_sids):032d}", phone=phone, to_number="+15035550199",
                          body=body, media=[], now=at)


def open_ticket(engine, phone: str, queue: str, at: datetime, reason: str = "asked for a person",
                patient_id: int | None = None, texts: tuple[str, ...] = ("I have a question",)) -> int:
    patient_texts(engine, phone, list(texts), at)
    with Session(engine) as session, session.begin():
        return handoff.open_ticket(session, phone=phone, queue=queue, reason=reason, now=at,
                                   patient_id=patient_id).id


def add_patient(engine, first: str = "Dana", last: str = "Reyes", phone: str = "+15035550123") -> int:
    """A patient record (born 1980-05-04); returns its id."""
    with Session(engine) as session, session.begin():
        patient = Patient(phone=phone, first_name=first, last_name=last, date_of_birth=date(1980, 5, 4))
        session.add(patient)
        session.flush()
        return patient.id


def audit_actions(engine) -> list[tuple[str, int | None, int | None, str | None]]:
    with Session(engine) as session:
        return [(a.action, a.staff_user_id, a.ticket_id, a.detail)
                for a in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]


def add_appointment(session: Session, patient_id: int, provider_key: str, type_key: str, start: datetime,
                    status: AppointmentStatus = AppointmentStatus.BOOKED) -> Appointment:
    """A visit of the demo practice's provider and type (its length), as the scheduler would store it."""
    provider = session.execute(select(Provider).where(Provider.key == provider_key)).scalar_one()
    kind = session.execute(select(AppointmentType).where(AppointmentType.key == type_key)).scalar_one()
    appointment = Appointment(patient_id=patient_id, provider_id=provider.id, appointment_type_id=kind.id,
                              start=start, end=start + timedelta(minutes=kind.minutes), status=status)
    session.add(appointment)
    return appointment
